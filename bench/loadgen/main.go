// Command loadgen is the closed-loop load generator of bench/api.py: C connections, each
// sending one request and reading the whole response before the next (like wrk), for a
// warm-up and then a measured period. Two protocols, so the API and raw Valkey are measured
// by the same program at the same concurrency:
//
//	http: HTTP/1.1 keep-alive GETs of the paths in -targets (responses need Content-Length)
//	resp: Valkey/Redis RESP GETs of the keys in -targets (bulk-string replies)
//
// -targets is a file with one path or key per line; each request picks one at random. The
// result is one JSON object on stdout: requests, seconds, rps, p50/p99/max latency (ms),
// errors (transport errors, RESP errors or nil replies, HTTP statuses other than 2xx).
// Standard library only: `go build -o loadgen main.go`.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"
)

type result struct {
	Mode        string  `json:"mode"`
	Connections int     `json:"connections"`
	Requests    int     `json:"requests"`
	Seconds     float64 `json:"seconds"`
	RPS         float64 `json:"rps"`
	P50ms       float64 `json:"p50_ms"`
	P99ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
	Errors      int     `json:"errors"`
	FirstError  string  `json:"first_error,omitempty"`
}

type worker struct {
	lat    []int64
	errors int
	first  error
}

// exchange sends one request and reads its whole response; ok=false for an error reply.
type exchange func(r *bufio.Reader, w *bufio.Writer, req []byte) (ok bool, err error)

var crlf = []byte("\r\n")

func httpExchange(r *bufio.Reader, w *bufio.Writer, req []byte) (bool, error) {
	if _, err := w.Write(req); err != nil {
		return false, err
	}
	if err := w.Flush(); err != nil {
		return false, err
	}
	status, err := r.ReadSlice('\n')
	if err != nil {
		return false, err
	}
	if len(status) < 12 || !bytes.HasPrefix(status, []byte("HTTP/1.")) {
		return false, fmt.Errorf("bad status line %q", status)
	}
	ok := status[9] == '2'
	length := -1
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return false, err
		}
		if len(line) <= 2 {
			break
		}
		if len(line) > 15 && bytes.EqualFold(line[:15], []byte("content-length:")) {
			n, err := strconv.Atoi(string(bytes.TrimSpace(line[15:])))
			if err != nil {
				return false, fmt.Errorf("bad content-length %q", line)
			}
			length = n
		}
	}
	if length < 0 {
		return false, errors.New("response without content-length")
	}
	if _, err := r.Discard(length); err != nil {
		return false, err
	}
	return ok, nil
}

func respExchange(r *bufio.Reader, w *bufio.Writer, req []byte) (bool, error) {
	if _, err := w.Write(req); err != nil {
		return false, err
	}
	if err := w.Flush(); err != nil {
		return false, err
	}
	line, err := r.ReadSlice('\n')
	if err != nil {
		return false, err
	}
	if len(line) < 3 || line[0] != '$' {
		return false, nil // an error reply (or not a bulk string): counted, not fatal
	}
	n, err := strconv.Atoi(string(bytes.TrimSuffix(line[1:], crlf)))
	if err != nil {
		return false, fmt.Errorf("bad bulk header %q", line)
	}
	if n < 0 {
		return false, nil // nil reply: the key is missing
	}
	if _, err := r.Discard(n + 2); err != nil {
		return false, err
	}
	return true, nil
}

func run(addr string, reqs [][]byte, ex exchange, conns int, d time.Duration, seed int64) []*worker {
	workers := make([]*worker, conns)
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	for i := range workers {
		wk := &worker{lat: make([]int64, 0, 1<<16)}
		workers[i] = wk
		wg.Add(1)
		go func(wk *worker, rnd *rand.Rand) {
			defer wg.Done()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				wk.errors++
				wk.first = err
				return
			}
			defer conn.Close()
			r := bufio.NewReaderSize(conn, 64<<10)
			w := bufio.NewWriterSize(conn, 4<<10)
			for {
				t0 := time.Now()
				if !t0.Before(stop) {
					return
				}
				ok, err := ex(r, w, reqs[rnd.Intn(len(reqs))])
				if err != nil {
					wk.errors++
					if wk.first == nil {
						wk.first = err
					}
					return // the connection is unusable
				}
				wk.lat = append(wk.lat, int64(time.Since(t0)))
				if !ok {
					wk.errors++
				}
			}
		}(wk, rand.New(rand.NewSource(seed+int64(i))))
	}
	wg.Wait()
	return workers
}

func readTargets(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range bytes.Split(data, []byte("\n")) {
		if s := string(bytes.TrimSpace(line)); s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no targets in " + path)
	}
	return out, nil
}

func main() {
	mode := flag.String("mode", "http", "http or resp")
	addr := flag.String("addr", "127.0.0.1:8000", "host:port")
	targets := flag.String("targets", "", "file: one HTTP path or Valkey key per line")
	conns := flag.Int("c", 50, "concurrent connections")
	seconds := flag.Float64("d", 10, "measured seconds")
	warmup := flag.Float64("warmup", 2, "warm-up seconds (not measured)")
	host := flag.String("host", "bench", "HTTP Host header")
	flag.Parse()

	names, err := readTargets(*targets)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	reqs := make([][]byte, len(names))
	var ex exchange
	switch *mode {
	case "http":
		ex = httpExchange
		for i, p := range names {
			reqs[i] = []byte("GET " + p + " HTTP/1.1\r\nHost: " + *host + "\r\n\r\n")
		}
	case "resp":
		ex = respExchange
		for i, k := range names {
			reqs[i] = []byte(fmt.Sprintf("*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", len(k), k))
		}
	default:
		fmt.Fprintln(os.Stderr, "loadgen: -mode is http or resp")
		os.Exit(2)
	}

	if *warmup > 0 {
		run(*addr, reqs, ex, *conns, time.Duration(*warmup*float64(time.Second)), 1)
	}
	t0 := time.Now()
	workers := run(*addr, reqs, ex, *conns, time.Duration(*seconds*float64(time.Second)), 1000)
	elapsed := time.Since(t0).Seconds()

	res := result{Mode: *mode, Connections: *conns, Seconds: elapsed}
	var lat []int64
	for _, wk := range workers {
		lat = append(lat, wk.lat...)
		res.Errors += wk.errors
		if res.FirstError == "" && wk.first != nil {
			res.FirstError = wk.first.Error()
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	res.Requests = len(lat)
	res.RPS = float64(len(lat)) / elapsed
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := int(p * float64(len(lat)))
		if i >= len(lat) {
			i = len(lat) - 1
		}
		return float64(lat[i]) / 1e6
	}
	res.P50ms, res.P99ms, res.MaxMs = pct(0.50), pct(0.99), pct(1.0)
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		os.Exit(1)
	}
}
