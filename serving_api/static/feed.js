// The web feed: one video at a time, from GET /v1/feed, reported back through POST /v1/events.
//
// A viewer session (POST /v1/sessions) lets this page post its own user's events and nothing
// else. Each video plays its HLS master playlist with hls.js, starting at the rendition that
// fits the viewport; the next AHEAD videos are attached early with a one-segment buffer
// (prefetch), so a swipe finds their first frame decoded. Per impression the page measures the
// time to first frame (swipe -> first frame presented or playback started, whichever is first)
// and sends it with the watch/skip event as ttff_ms; watch_ms is the media time played (the
// video's own clock: stalls and pauses do not count). ?user=ID starts at once; ?prefetch=0 turns
// prefetch off (bench/playback.py compares both). window.fyp exposes state for tests.

const params = new URLSearchParams(location.search);
const PREFETCH = params.get("prefetch") !== "0";
const AHEAD = 2; // videos prefetched ahead of the current one
const PAGE = 5; // feed page size
const SKIP_MS = 3000; // moved on sooner than this: a skip (the generator's skips are 0.3-3 s)
const FLUSH_MS = 4000; // events wait at most this long before they are posted
const BATCH_MAX = 20;

const feedEl = document.getElementById("feed");
const form = document.getElementById("start");
const muteBtn = document.getElementById("mute");

let session = null; // {user_id, token, expires_at}
let segment = null; // {age_band, country, language} of a new viewer: the cold-start segment
let cursor = null;
let ended = false;
let loading = null;
let muted = true;
let swipeAt = null; // performance.now() of the last next()/prev(): the swipe that TTFF times
const cards = [];
let current = -1;
const queue = [];
let sent = 0;
let flushTimer = null;

// --- the API ------------------------------------------------------------------------------

async function api(path, init = {}) {
  const res = await fetch(path, init);
  if (!res.ok) {
    const err = new Error(`${init.method || "GET"} ${path}: ${res.status}`);
    err.status = res.status;
    throw err;
  }
  return res.json();
}

async function openSession(body) {
  session = await api("/v1/sessions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

async function freshToken() {
  if (Date.parse(session.expires_at) - Date.now() < 5 * 60 * 1000) {
    await openSession({ user_id: session.user_id });
  }
  return session.token;
}

async function loadMore() {
  if (ended) return;
  if (loading) return loading;
  loading = (async () => {
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (cursor) q.set("cursor", cursor);
    if (segment) for (const [k, v] of Object.entries(segment)) q.set(k, v);
    const page = await api(`/v1/feed/${session.user_id}?${q}`);
    cursor = page.next_cursor;
    ended = !cursor || page.items.length === 0;
    const metas = await Promise.all(
      page.items.map((it) => api(`/v1/videos/${it.video_id}`).catch(() => null)),
    );
    page.items.forEach((item, i) => addCard(item, metas[i]));
    if (ended) addEnd();
  })().finally(() => {
    loading = null;
  });
  return loading;
}

// --- events -------------------------------------------------------------------------------

function eventId(type, videoId) {
  const rnd = Math.random().toString(36).slice(2, 10);
  return `web-${session.user_id}-${videoId}-${type}-${Date.now()}-${rnd}`;
}

function record(ev) {
  queue.push({ ...ev, user_id: session.user_id, event_time: new Date().toISOString() });
  if (queue.length >= BATCH_MAX) flush();
  else if (!flushTimer) flushTimer = setTimeout(flush, FLUSH_MS);
}

async function flush(keepalive = false) {
  clearTimeout(flushTimer);
  flushTimer = null;
  if (!queue.length || !session) return;
  const batch = queue.splice(0, BATCH_MAX);
  const post = async () =>
    fetch("/v1/events", {
      method: "POST",
      keepalive,
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${await freshToken()}`,
      },
      body: JSON.stringify({ events: batch }),
    });
  try {
    let res = await post();
    if (res.status === 401) {
      await openSession({ user_id: session.user_id }); // expired while the tab slept
      res = await post();
    }
    if (res.status >= 500 || res.status === 401) throw new Error(`events: ${res.status}`);
    sent += batch.length; // 202 (some may be rejected: the API names them) or 422: not retried
  } catch (err) {
    queue.unshift(...batch); // offline or the API is down: keep them for the next flush
    console.warn(err);
  }
  if (queue.length && !flushTimer) flushTimer = setTimeout(flush, FLUSH_MS);
}

// --- cards and players ----------------------------------------------------------------------

function addCard(item, meta) {
  const el = document.createElement("section");
  el.className = "card";
  el.dataset.index = String(cards.length);
  el.dataset.video = String(item.video_id);
  const media = meta && meta.media;
  const card = {
    item, meta, el, url: (media && media.url) || meta?.url || null,
    renditions: (media && media.renditions) || [],
    video: null, hls: null, t0: null, ttff: null, seen: {}, level: null,
    shownAt: null, playMs: 0, lastT: null,
  };
  if (card.url) {
    const video = document.createElement("video");
    video.muted = muted;
    video.loop = true;
    video.playsInline = true;
    video.preload = "auto";
    if (media.cover_url) video.poster = media.cover_url;
    video.addEventListener("playing", () => firstFrame(card, "playing"));
    video.addEventListener("timeupdate", () => {
      if (cards[current] === card) advance(card);
    });
    video.addEventListener("click", toggleMute);
    card.video = video;
    el.append(video);
  } else {
    const none = document.createElement("div");
    none.className = "nomedia";
    none.textContent = meta ? "no playable media for this video" : "video unavailable";
    el.append(none);
  }
  el.append(infoBox(item, meta), actions(card));
  cards.push(card);
  feedEl.append(el);
  observer.observe(el);
}

function addEnd() {
  const el = document.createElement("section");
  el.className = "card end";
  el.textContent = "That's all for now.";
  feedEl.append(el);
}

function infoBox(item, meta) {
  const box = document.createElement("div");
  box.className = "info";
  const line = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    e.textContent = text;
    box.append(e);
  };
  line("h2", "title", meta?.title || `video ${item.video_id}`);
  line("p", "creator", meta?.creator_id ? `@creator${meta.creator_id}` : "no creator");
  line("p", "tags", (meta?.hashtags || []).map((t) => `#${t}`).join(" "));
  line("p", "sound", meta?.sound_id ? `\u266b sound ${meta.sound_id}` : "\u266b original sound");
  return box;
}

function actions(card) {
  const box = document.createElement("div");
  box.className = "actions";
  const button = (act, label, title, onClick) => {
    const b = document.createElement("button");
    b.dataset.act = act;
    b.textContent = label;
    b.title = title;
    b.addEventListener("click", () => onClick(b));
    box.append(b);
  };
  const vid = card.item.video_id;
  button("like", "\u2665", "Like", (b) => {
    if (b.classList.toggle("on")) record({ event_id: eventId("like", vid), event_type: "like", video_id: vid });
  });
  button("share", "\u2197", "Share", (b) => {
    b.classList.add("on");
    navigator.clipboard?.writeText(`${location.origin}/v1/videos/${vid}`).catch(() => {});
    record({ event_id: eventId("share", vid), event_type: "share", video_id: vid });
  });
  const creator = card.meta?.creator_id;
  if (creator) {
    button("follow", "+", "Follow the creator", (b) => {
      if (b.classList.toggle("on")) {
        record({ event_id: eventId("follow", creator), event_type: "follow", creator_id: creator });
      }
    });
  }
  return box;
}

/** The lowest rendition at least as large as the video is shown here (device pixels). */
function fitLevel(levels) {
  const w = window.innerWidth * (window.devicePixelRatio || 1);
  const h = window.innerHeight * (window.devicePixelRatio || 1);
  let best = -1;
  levels.forEach((lv, i) => {
    const enough = lv.width >= w || lv.height >= h; // "contain": one side fills the screen
    if (enough && (best < 0 || lv.bitrate < levels[best].bitrate)) best = i;
  });
  if (best >= 0) return best;
  return levels.reduce((top, lv, i) => (lv.bitrate > levels[top].bitrate ? i : top), 0);
}

function attach(card, ahead) {
  if (!card.video || card.hls || card.native) return;
  const video = card.video;
  if (!window.Hls || !window.Hls.isSupported()) {
    if (video.canPlayType("application/vnd.apple.mpegurl")) {
      card.native = true; // Safari: the platform's own HLS
      video.src = card.url;
    }
    return;
  }
  const Hls = window.Hls;
  const hls = new Hls({
    autoStartLoad: false,
    capLevelToPlayerSize: true,
    maxBufferLength: ahead ? 2 : 20, // ahead: the first segment only
    backBufferLength: 10,
  });
  hls.on(Hls.Events.MANIFEST_PARSED, (_e, data) => {
    const level = fitLevel(data.levels);
    hls.startLevel = level;
    card.level = data.levels[level] ? data.levels[level].height : null;
    hls.startLoad(-1);
  });
  hls.on(Hls.Events.ERROR, (_e, data) => {
    if (data.fatal) console.warn("hls.js", card.item.video_id, data.type, data.details);
  });
  hls.loadSource(card.url);
  hls.attachMedia(video);
  card.hls = hls;
}

function detach(card) {
  if (card.hls) {
    card.hls.destroy();
    card.hls = null;
  }
  if (card.native) {
    card.video.removeAttribute("src");
    card.video.load();
    card.native = false;
  }
}

/** Adds the media time played since the last look (a loop counts; a seek does not). */
function advance(card) {
  const t = card.video.currentTime;
  if (card.lastT != null) {
    let d = t - card.lastT;
    const dur = card.video.duration;
    if (d < 0 && Number.isFinite(dur) && card.lastT > dur - 1) d += dur; // looped
    if (d > 0 && d < 2) card.playMs += d * 1000;
  }
  card.lastT = t;
}

function firstFrame(card, how) {
  if (card.t0 == null) return;
  const ms = Math.max(0, Math.round(performance.now() - card.t0));
  if (card.seen[how] == null) card.seen[how] = ms; // both kept for the bench
  if (card.ttff != null) return;
  card.ttff = ms;
  card.ttffBy = how;
}

function activate(index) {
  if (index === current || index < 0 || index >= cards.length) return;
  if (current >= 0) leave(cards[current]);
  current = index;
  const card = cards[index];
  const now = performance.now();
  card.t0 = swipeAt != null && now - swipeAt < 1000 ? swipeAt : now;
  swipeAt = null;
  card.shownAt = now;
  card.ttff = null;
  card.seen = {};
  card.playMs = 0;
  if (card.video) {
    card.lastT = card.video.currentTime; // a prefetched or revisited video counts from here
    attach(card, false);
    if (card.hls) card.hls.config.maxBufferLength = 20; // it was prefetching: buffer normally
    if ("requestVideoFrameCallback" in card.video) {
      card.video.requestVideoFrameCallback(() => firstFrame(card, "frame"));
    }
    card.video.play().catch((err) => console.warn("play()", err.name));
  }
  cards.forEach((c, i) => {
    const keep = i === index || (PREFETCH && i > index && i <= index + AHEAD);
    if (keep && i !== index) attach(c, true);
    else if (!keep) detach(c);
  });
  if (!ended && index >= cards.length - 3) loadMore().catch((err) => console.warn(err));
}

function leave(card) {
  if (card.video) {
    advance(card);
    card.video.pause();
  }
  const shownMs = performance.now() - card.shownAt;
  const watchMs = Math.round(card.video ? card.playMs : shownMs);
  const duration = card.meta?.duration_ms || Infinity;
  const type = watchMs < SKIP_MS && watchMs < duration ? "skip" : "watch";
  const vid = card.item.video_id;
  const ev = { event_id: eventId(type, vid), event_type: type, video_id: vid, watch_ms: watchMs };
  if (card.ttff != null) ev.ttff_ms = card.ttff;
  record(ev);
}

const observer = new IntersectionObserver(
  (entries) => {
    for (const e of entries) {
      if (e.isIntersecting) activate(Number(e.target.dataset.index));
    }
  },
  { root: feedEl, threshold: 0.6 },
);

function go(step) {
  const target = cards[current + step];
  if (!target) return false;
  swipeAt = performance.now();
  target.el.scrollIntoView({ behavior: "instant", block: "start" });
  return true;
}

function toggleMute() {
  muted = !muted;
  muteBtn.textContent = muted ? "Unmute" : "Mute";
  for (const c of cards) if (c.video) c.video.muted = muted;
}

// --- start ------------------------------------------------------------------------------------

async function start(body, seg) {
  await openSession(body);
  segment = seg;
  const q = new URLSearchParams(params);
  q.set("user", String(session.user_id));
  if (seg) for (const [k, v] of Object.entries(seg)) q.set(k, v);
  history.replaceState(null, "", `?${q}`);
  form.hidden = true;
  feedEl.hidden = false;
  muteBtn.hidden = false;
  await loadMore();
  if (!cards.length) addEnd();
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const data = new FormData(form);
  const err = document.getElementById("start-error");
  err.textContent = "";
  try {
    if (e.submitter?.value === "new") {
      const seg = {
        age_band: data.get("age_band"),
        country: String(data.get("country")).toUpperCase(),
        language: String(data.get("language")).toLowerCase(),
      };
      await start({ new_user: seg }, seg);
    } else {
      const id = Number(data.get("user_id"));
      if (!Number.isSafeInteger(id) || id <= 0) throw new Error("a user id is a positive number");
      await start({ user_id: id }, null);
    }
  } catch (x) {
    err.textContent = x.status === 422 ? "check the fields" : String(x.message || x);
  }
});

document.addEventListener("keydown", (e) => {
  if (e.key === "ArrowDown" || e.key === "j") go(1) && e.preventDefault();
  if (e.key === "ArrowUp" || e.key === "k") go(-1) && e.preventDefault();
});
muteBtn.addEventListener("click", toggleMute);
addEventListener("pagehide", () => {
  if (current >= 0) leave(cards[current]);
  flush(true);
});
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") flush(true);
});

window.fyp = {
  next: () => go(1),
  prev: () => go(-1),
  flush: () => flush(),
  state: () => ({
    user_id: session?.user_id ?? null,
    prefetch: PREFETCH,
    current,
    ended,
    queued: queue.length,
    sent,
    cards: cards.map((c) => ({
      video_id: c.item.video_id,
      ttff_ms: c.ttff,
      ttff_by: c.ttffBy || null,
      frame_ms: c.seen?.frame ?? null,
      playing_ms: c.seen?.playing ?? null,
      level_height: c.level,
      attached: Boolean(c.hls || c.native),
      current_time: c.video ? c.video.currentTime : null,
    })),
  }),
};

const preset = Number(params.get("user"));
if (Number.isSafeInteger(preset) && preset > 0) {
  const seg = params.get("age_band")
    ? {
        age_band: params.get("age_band"),
        country: params.get("country") || "unknown",
        language: params.get("language") || "unknown",
      }
    : null;
  start({ user_id: preset }, seg).catch((x) => {
    form.hidden = false;
    document.getElementById("start-error").textContent = String(x.message || x);
  });
} else {
  form.hidden = false;
}
