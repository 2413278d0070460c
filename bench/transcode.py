"""Upload-to-ready wall time of the video pipeline vs one plain ffmpeg command, in the same run.

    .venv/bin/python bench/transcode.py [--seconds 60] [--width 1080] [--height 1920] [--json]

Generates (and caches under ``~/.cache/fyplake/bench``) a 60 s 1080x1920 30 fps H.264 + AAC
clip, starts an embedded stack in a throw-away FYP_HOME, then measures:

1. **pipeline**: ``submit_upload`` -> ``run_inline`` -> ``ready``: store the original, validate
   (probe), fingerprint + duplicate check, the 1080p/720p/480p/360p HLS ladder (one ffmpeg
   filter graph: decode once, ``split`` -> ``scale`` -> one encoder per rendition), thumbnails and
   audio extraction + fingerprint + sound linking beside it, master playlist, Postgres records.
   Design target: under 120 s.
2. **plain ffmpeg**: one ffmpeg command that decodes once and encodes the same ladder (same
   preset, bitrates, GOP, segments) with ``-var_stream_map`` into HLS, nothing else.

and prints both wall times and their ratio (``--repeat N`` alternates them N times and reports
medians, which evens out a machine whose load changes during the run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def make_source(args, cache_dir: Path) -> Path:
    import media_clips

    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / (
        f"bench_{args.width}x{args.height}_{args.fps}fps_{args.seconds}s_n{args.noise}.mp4"
    )
    if not path.exists():
        print(f"generating {path.name} (cached for later runs) ...", file=sys.stderr, flush=True)
        tmp = path.with_suffix(".part.mp4")
        # A phone-like source: moving shapes with sensor-like grain, 1 s GOP.
        media_clips.make_clip(
            tmp,
            width=args.width,
            height=args.height,
            seconds=args.seconds,
            fps=args.fps,
            seed=4242,
            preset="ultrafast",
            gop=args.fps,
            noise=args.noise,
        )
        tmp.replace(path)
    return path


def plain_ffmpeg(src: Path, out: Path, settings, width: int, height: int, fps: float) -> float:
    """One ffmpeg command making the same ladder; returns its wall time."""
    from fyplake.media.ffmpeg import ffmpeg_exe
    from fyplake.media.transcode import plan_ladder

    plan = plan_ladder(
        width, height, settings.media_ladder, has_audio=True, audio_kbps=settings.media_audio_kbps
    )
    seg = settings.media_segment_s
    gop = max(1, int(round(min(fps, settings.media_output_max_fps) * seg)))
    n = len(plan)
    split = f"[0:v]split={n}" + "".join(f"[s{i}]" for i in range(n)) + ";"
    split += ";".join(
        f"[s{i}]scale={r.width}:{r.height}:flags=bicubic,setsar=1,format=yuv420p[v{i}]"
        for i, r in enumerate(plan)
    )
    cmd = [
        ffmpeg_exe(),
        "-hide_banner",
        "-nostdin",
        "-y",
        "-loglevel",
        "error",
        "-i",
        str(src),
        "-filter_complex",
        split,
    ]
    for i in range(n):
        cmd += ["-map", f"[v{i}]"]
    for _ in range(n):
        cmd += ["-map", "0:a:0"]
    cmd += [
        "-c:v",
        "libx264",
        "-preset",
        settings.media_x264_preset,
        "-profile:v",
        "high",
        "-g",
        str(gop),
        "-keyint_min",
        str(gop),
        "-sc_threshold",
        "0",
        "-force_key_frames",
        f"expr:gte(t,n_forced*{seg:g})",
    ]
    for i, r in enumerate(plan):
        cmd += [
            f"-b:v:{i}",
            f"{r.video_kbps}k",
            f"-maxrate:v:{i}",
            f"{int(r.video_kbps * 1.5)}k",
            f"-bufsize:v:{i}",
            f"{r.video_kbps * 2}k",
        ]
    cmd += [
        "-c:a",
        "aac",
        "-b:a",
        f"{settings.media_audio_kbps}k",
        "-ac",
        "2",
        "-ar",
        "48000",
        "-f",
        "hls",
        "-hls_time",
        f"{seg:g}",
        "-hls_playlist_type",
        "vod",
        "-hls_flags",
        "independent_segments",
        "-master_pl_name",
        "master.m3u8",
        "-var_stream_map",
        " ".join(f"v:{i},a:{i}" for i in range(n)),
        "-hls_segment_filename",
        str(out / "%v" / "seg_%05d.ts"),
        str(out / "%v" / "index.m3u8"),
    ]
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    subprocess.run(cmd, check=True)
    return time.monotonic() - t0


def mark_failed_any(video_id: int, settings) -> None:
    """Retire a finished bench video (ready -> failed) so a re-upload is not its duplicate."""
    import psycopg

    from infra.stack import postgres_dsn

    with psycopg.connect(postgres_dsn(settings), autocommit=True) as conn:
        conn.execute(
            "UPDATE videos SET status = 'failed', status_reason = 'bench repetition' WHERE id = %s",
            (video_id,),
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--width", type=int, default=1080)
    parser.add_argument("--height", type=int, default=1920)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--noise", type=int, default=6, help="grain strength of the clip")
    parser.add_argument(
        "--repeat", type=int, default=1, help="alternate both measurements N times; report medians"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--keep", action="store_true", help="keep the throw-away FYP_HOME")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="fyp-bench-transcode-"))
    os.environ["FYP_HOME"] = str(home)
    for var in ("FYP_MEDIA", "FYP_POSTGRES_DSN", "FYP_CONFIG"):
        os.environ.pop(var, None)
    from fyplake.config import reload_settings

    settings = reload_settings()
    src = make_source(args, settings.cache_dir / "bench")

    import psycopg

    from fyplake.media.uploads import run_inline, submit_upload
    from infra.migrations import migrate
    from infra.stack import Stack

    stack = Stack(settings)
    try:
        endpoints = stack.up()
        migrate(endpoints.postgres)
        with psycopg.connect(endpoints.postgres, autocommit=True) as conn:
            conn.execute("INSERT INTO users (id, is_creator) VALUES (1, true)")

        pipeline_runs: list[float] = []
        baseline_runs: list[float] = []
        for i in range(args.repeat):
            # Alternate the two so that a change in machine load hits both alike.
            print(
                f"[{i + 1}/{args.repeat}] pipeline: upload -> ready ...",
                file=sys.stderr,
                flush=True,
            )
            t0 = time.monotonic()
            video_id = submit_upload(src, 1, settings=settings)
            t_upload = time.monotonic() - t0
            result = run_inline(video_id, settings=settings)
            pipeline_runs.append(time.monotonic() - t0)
            if result["status"] != "ready":
                print(f"pipeline did not reach ready: {result}", file=sys.stderr)
                return 1
            # The next repetition uploads the same bytes: retire this one so it is not a
            # duplicate of it.
            mark_failed_any(video_id, settings)

            print(
                f"[{i + 1}/{args.repeat}] plain ffmpeg: the same ladder in one command ...",
                file=sys.stderr,
                flush=True,
            )
            baseline_runs.append(
                plain_ffmpeg(src, home / f"plain{i}", settings, args.width, args.height, args.fps)
            )
        pipeline_s = statistics.median(pipeline_runs)
        baseline_s = statistics.median(baseline_runs)
        report = {
            "clip": f"{args.width}x{args.height} {args.fps} fps {args.seconds} s, "
            f"{src.stat().st_size / 1e6:.1f} MB",
            "preset": settings.media_x264_preset,
            "ladder": [r["name"] for r in result["renditions"]],
            "cpus": os.cpu_count(),
            "repeat": args.repeat,
            "upload_to_ready_s": round(pipeline_s, 2),
            "plain_ffmpeg_s": round(baseline_s, 2),
            "upload_to_ready_runs_s": [round(x, 2) for x in pipeline_runs],
            "plain_ffmpeg_runs_s": [round(x, 2) for x in baseline_runs],
            "load_average": [round(x, 1) for x in os.getloadavg()],
            "ratio": round(pipeline_s / baseline_s, 3),
            "target_s": 120,
            "meets_target": pipeline_s < 120,
            "steps_s": {"submit_upload": round(t_upload, 2), **result["timings"]},
        }
    finally:
        stack.down()
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)

    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"clip               {report['clip']} (x264 preset {report['preset']}, "
            f"{report['cpus']} CPUs)"
        )
        print(f"ladder             {', '.join(report['ladder'])}")
        if args.repeat > 1:
            print(
                f"runs               pipeline {report['upload_to_ready_runs_s']}, "
                f"plain {report['plain_ffmpeg_runs_s']} (medians below)"
            )
        print(
            f"upload -> ready    {report['upload_to_ready_s']:.1f} s  "
            f"(target < {report['target_s']} s: {'met' if report['meets_target'] else 'MISSED'})"
        )
        print(f"plain ffmpeg       {report['plain_ffmpeg_s']:.1f} s  (one command, same ladder)")
        print(f"ratio              {report['ratio']:.2f}x")
        print(
            "steps              " + ", ".join(f"{k} {v:.1f}s" for k, v in report["steps_s"].items())
        )
        print(f"load average       {report['load_average']} (the machine may be shared)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
