"""Impressions and engagement: how the hidden world turns into watch/skip/like/... events.

A simulated day is a batch of impressions per signed-up user (Poisson around the user's activity),
each from one of four channels, like the candidate sources of the design doc:

* popularity: Zipf popularity x freshness, boosted for the user's language (what most-popular
  recommends; it makes the impression distribution heavy-tailed);
* interest: a topic drawn from the user's hidden mixture, then a video of that topic by
  popularity x quality x freshness, boosted for the user's language (the signal a personalised
  recommender can learn: "what is good and popular within my topics");
* followed creators: a recent video of a creator the user followed on an earlier day;
* exploration: a uniformly drawn fresh video (new videos get their first impressions).

Each impression yields exactly one watch or skip; the outcome comes from a latent engagement score
z = affinity (user . video topics, relative to the user's top topic) + quality + language match +
the user's patience + noise. Completion, loops, likes, comments, shares and follows all rise with z,
so "what engages this user" is learnable from history, while popularity alone only partly explains
it. Work is vectorised per chunk of users of one day, so memory stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from fyplake.landing import EVENT_TYPES
from fyplake.synth import catalog
from fyplake.synth.world import DAY_MS, HOUR_MS, World, categorical_rows

WATCH, SKIP, LIKE, COMMENT, SHARE, FOLLOW = (
    EVENT_TYPES.index(t) for t in ("watch", "skip", "like", "comment", "share", "follow")
)
EN = catalog.LANGUAGES.index("en")

#: Channel mix (popularity, interest, followed, explore) for established and brand-new users; a new
#: user has no history the platform could use, so popularity dominates their first day.
CHANNELS = np.array([0.20, 0.60, 0.15, 0.05])
NEW_USER_CHANNELS = np.array([0.60, 0.35, 0.0, 0.05])
#: Events per impression the engagement model yields on average; scales impressions so that
#: ``events_per_user_day`` is roughly the mean number of all events.
EVENTS_PER_IMPRESSION = 1.24
#: Upper bound on impressions simulated at once (memory ~ a few hundred bytes each).
CHUNK_IMPRESSIONS = 400_000
#: Popularity decays with age: floor + (1 - floor) * exp(-age_days / tau).
FRESH_TAU_DAYS = 3.0
FRESH_FLOOR = 0.1
#: Weight multiplier for videos in the user's language (popularity / interest channel).
LANGUAGE_BOOST = 3.0
INTEREST_LANGUAGE_BOOST = 3.0
#: Exploration pool: videos created in the last EXPLORE_DAYS.
EXPLORE_DAYS = 2
#: Relative traffic per UTC hour (evening peak, early-morning trough).
HOURLY = np.array(
    [
        3,
        2,
        1.5,
        1,
        1,
        1,
        1.5,
        2,
        3,
        3.5,
        4,
        4,
        4.5,
        4.5,
        4.5,
        5,
        5.5,
        6,
        7,
        8,
        8.5,
        8,
        6.5,
        5,
    ]
)
#: Interest channel: within a topic, videos are drawn by popularity ** INTEREST_POP_EXP x quality.
INTEREST_POP_EXP = 1.0
#: Latent engagement score z = Z_BASE + Z_AFFINITY * relative affinity + Z_QUALITY * logit(quality)
#: + language + patience + N(0, Z_NOISE). Affinity dominates: that is what personalisation learns.
Z_BASE, Z_AFFINITY, Z_QUALITY, Z_NOISE = -1.5, 3.5, 0.6, 0.6
#: Weekend days get a bit more traffic.
WEEKEND_FACTOR, WEEKDAY_FACTOR = 1.15, 0.95


@dataclass
class EventBatch:
    """Columnar events of one chunk, sorted by event time; indices, not ids (id = index + 1)."""

    type: np.ndarray  # uint8 index into EVENT_TYPES
    user: np.ndarray  # user index
    video: np.ndarray  # video index or -1 (follow)
    creator: np.ndarray  # creator's user index, or -1 (all but follow)
    watch_ms: np.ndarray  # -1 unless watch/skip
    time_ms: np.ndarray
    arrival_hour: np.ndarray  # hours since the epoch of the landing folder
    comment: np.ndarray  # index into catalog.COMMENTS or -1

    def __len__(self) -> int:
        return len(self.type)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class Simulator:
    """Holds the per-run state (follow graph, caches) while days are simulated in order."""

    def __init__(self, world: World) -> None:
        self.w = w = world
        self.p = world.params
        n_users = len(w.user_signup_ms)
        self.n_users = n_users
        self.user_cum_theta = np.cumsum(w.user_theta, axis=1, dtype=np.float32)
        self.user_theta_max = w.user_theta.max(axis=1)
        self.video_qz = np.log(w.video_quality / (1 - w.video_quality)).astype(np.float32)
        self.video_pw = w.video_primary_weight
        self.w2 = w2 = w.second_topic_weight
        self.video_creator_user = w.creator_user[w.video_creator]
        cq = np.clip(w.creator_quality, 1e-4, 1 - 1e-4)
        self.creator_qz = np.log(cq / (1 - cq))
        # Videos of each topic (primary or secondary) with their topic weight, in id order.
        self.topic_videos, self.topic_phi = [], []
        for t in range(w.n_topics):
            prim = w.video_primary == t
            sec = w.video_secondary == t
            vids = np.flatnonzero(prim | sec)
            self.topic_videos.append(vids)
            self.topic_phi.append(np.where(prim[vids], self.video_pw[vids], w2))
        # Videos of each creator in creation order (ids grow with time).
        order = np.argsort(w.video_creator, kind="stable")
        self.cv_videos = order
        self.cv_start = np.searchsorted(w.video_creator[order], np.arange(len(w.creator_user)))
        self.user_creator = np.full(n_users, -1, dtype=np.int64)
        self.user_creator[w.creator_user] = np.arange(len(w.creator_user))
        # Follow graph as sorted keys user * n_users + creator_user (grows with follow events).
        self.follow_keys = np.empty(0, dtype=np.int64)
        knots = np.concatenate([[0.0], np.cumsum(HOURLY)])
        self.diurnal_cdf = knots / knots[-1]
        self.diurnal_x = np.arange(25, dtype=np.float64) * HOUR_MS
        self._day: int | None = None

    # --- per day -------------------------------------------------------------------------------
    def plan_day(self, day: int) -> list[tuple[int, int, np.ndarray]]:
        """Impression counts of every signed-up user, split into chunks of consecutive users."""
        self._prepare_day(day)
        w, p = self.w, self.p
        day_start = p.start_ms + day * DAY_MS
        day_end = day_start + DAY_MS
        n_signed = int(np.searchsorted(w.user_signup_ms, day_end))
        if self.n_avail == 0:  # nothing to watch yet (every video is born on a later day)
            return []
        signup = w.user_signup_ms[:n_signed]
        avail = (day_end - np.maximum(signup, day_start)) / DAY_MS
        weekday = (p.start_date + timedelta(days=day)).weekday()
        factor = WEEKEND_FACTOR if weekday >= 5 else WEEKDAY_FACTOR
        rate = p.events_per_user_day / EVENTS_PER_IMPRESSION * factor
        rng = np.random.default_rng([p.seed, 2, day])
        counts = rng.poisson(rate * w.user_activity[:n_signed] * avail)
        cum = np.cumsum(counts)
        total = int(cum[-1]) if n_signed else 0
        cuts = np.searchsorted(cum, np.arange(CHUNK_IMPRESSIONS, total, CHUNK_IMPRESSIONS))
        bounds = np.unique(np.concatenate([[0], cuts + 1, [n_signed]]))
        return [
            (int(lo), int(hi), counts[lo:hi])
            for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
            if hi > lo
        ]

    def _prepare_day(self, day: int) -> None:
        """Per-day pools and weights (videos available by the end of the day, their freshness)."""
        if self._day == day:
            return
        w, p = self.w, self.p
        self._day = day
        self.day_start = day_start = p.start_ms + day * DAY_MS
        day_end = day_start + DAY_MS
        n_avail = int(np.searchsorted(w.video_created_ms, day_end))
        self.n_avail = n_avail
        created = w.video_created_ms[:n_avail]
        # Share of the day a video exists; videos born late in the day get fewer impressions.
        exist = ((day_end - np.maximum(created, day_start)) / DAY_MS).astype(np.float64)
        age_days = np.maximum(day_start + DAY_MS / 2 - created, 0) / DAY_MS
        fresh = FRESH_FLOOR + (1 - FRESH_FLOOR) * np.exp(-age_days / FRESH_TAU_DAYS)
        pop = w.video_popularity[:n_avail] * fresh * exist
        lang = w.video_lang[:n_avail]
        self.pop_cdf = {
            li: np.cumsum(pop * np.where(lang == li, LANGUAGE_BOOST, 1.0))
            for li in range(len(catalog.LANGUAGES))
        }
        interest = w.video_popularity[:n_avail] ** INTEREST_POP_EXP * w.video_quality[:n_avail]
        interest *= fresh * exist
        self.topic_pool, self.topic_cdf = [], []
        for vids, phi in zip(self.topic_videos, self.topic_phi, strict=True):
            k = int(np.searchsorted(vids, n_avail))
            pool = vids[:k]
            base = phi[:k] * interest[pool]
            self.topic_pool.append(pool)
            self.topic_cdf.append(
                {
                    li: np.cumsum(base * np.where(lang[pool] == li, INTEREST_LANGUAGE_BOOST, 1.0))
                    for li in range(len(catalog.LANGUAGES))
                }
                if k
                else None
            )
        lo = int(np.searchsorted(w.video_created_ms, day_start - EXPLORE_DAYS * DAY_MS))
        self.explore_lo = lo
        self.explore_cdf = np.cumsum(exist[lo:]) if n_avail > lo else None
        self.creator_avail = np.bincount(w.video_creator[:n_avail], minlength=len(w.creator_user))
        fk = self.follow_keys
        self.follow_user = fk // self.n_users
        self.follow_creator = fk % self.n_users
        self.follow_start = np.searchsorted(self.follow_user, np.arange(self.n_users + 1))

    # --- one chunk ------------------------------------------------------------------------------
    def simulate(self, day: int, chunk: int, lo: int, counts: np.ndarray) -> EventBatch:
        self._prepare_day(day)
        w, p = self.w, self.p
        rng = np.random.default_rng([p.seed, 3, day, chunk])
        users = np.repeat(np.arange(lo, lo + len(counts)), counts)
        n = len(users)
        is_new = w.user_signup_ms[users] > self.day_start - DAY_MS
        cum_old, cum_new = np.cumsum(CHANNELS), np.cumsum(NEW_USER_CHANNELS)
        u = rng.random(n)
        channel = np.where(
            is_new,
            np.searchsorted(cum_new, u, side="right"),
            np.searchsorted(cum_old, u, side="right"),
        )
        channel = np.minimum(channel, 3)
        videos = np.full(n, -1, dtype=np.int64)

        # followed creators (falls back to interest when the user follows nobody with videos)
        sel = np.flatnonzero(channel == 2)
        if len(sel) and len(self.follow_creator) == 0:
            channel[sel] = 1
        elif len(sel):
            deg = self.follow_start[users[sel] + 1] - self.follow_start[users[sel]]
            pick = self.follow_start[users[sel]] + (rng.random(len(sel)) * deg).astype(np.int64)
            pick = np.minimum(pick, len(self.follow_creator) - 1)
            creators = np.where(deg > 0, self.user_creator[self.follow_creator[pick]], -1)
            avail = np.where(creators >= 0, self.creator_avail[np.maximum(creators, 0)], 0)
            ok = avail > 0
            back = np.floor(avail * rng.random(len(sel)) ** 2).astype(np.int64)
            idx = self.cv_start[np.maximum(creators, 0)] + np.maximum(avail - 1 - back, 0)
            videos[sel[ok]] = self.cv_videos[idx[ok]]
            channel[sel[~ok]] = 1

        # exploration of fresh videos (falls back to popularity)
        sel = np.flatnonzero(channel == 3)
        if self.explore_cdf is None:
            channel[sel] = 0
        elif len(sel):
            videos[sel] = self.explore_lo + _draw(rng, self.explore_cdf, len(sel))

        # interest: topic from the hidden mixture, then a video of that topic (language-boosted)
        sel = np.flatnonzero(channel == 1)
        topics = categorical_rows(rng, self.user_cum_theta, users[sel])
        ulang = w.user_lang[users[sel]]
        for t in range(w.n_topics):
            in_topic = topics == t
            if self.topic_cdf[t] is None:
                channel[sel[in_topic]] = 0
                continue
            for li, cdf in self.topic_cdf[t].items():
                s = sel[in_topic & (ulang == li)]
                if len(s):
                    videos[s] = self.topic_pool[t][_draw(rng, cdf, len(s))]

        # popularity in the user's language
        sel = np.flatnonzero(channel == 0)
        ulang = w.user_lang[users[sel]]
        for li, cdf in self.pop_cdf.items():
            s = sel[ulang == li]
            if len(s):
                videos[s] = _draw(rng, cdf, len(s))

        # one impression per (user, video) per day
        _, first = np.unique(users * np.int64(len(w.video_created_ms)) + videos, return_index=True)
        first.sort()
        users, videos = users[first], videos[first]
        return self._engage(rng, users, videos)

    def _time(self, rng: np.random.Generator, lower: np.ndarray) -> np.ndarray:
        """Impression times on the diurnal curve, not before ``lower`` (signup, video creation)."""
        off = (np.maximum(lower, self.day_start) - self.day_start).astype(np.float64)
        f_lo = np.interp(off, self.diurnal_x, self.diurnal_cdf)
        u = f_lo + rng.random(len(off)) * (1 - f_lo)
        t = np.interp(u, self.diurnal_cdf, self.diurnal_x)
        return self.day_start + np.clip(np.maximum(t, off), 0, DAY_MS - 1).astype(np.int64)

    def _engage(
        self, rng: np.random.Generator, users: np.ndarray, videos: np.ndarray
    ) -> EventBatch:
        w, p = self.w, self.p
        n = len(users)
        t = self._time(rng, np.maximum(w.user_signup_ms[users], w.video_created_ms[videos]))
        theta = w.user_theta
        prim, sec = w.video_primary[videos], w.video_secondary[videos]
        aff = theta[users, prim] * self.video_pw[videos]
        aff += np.where(sec >= 0, theta[users, np.maximum(sec, 0)] * self.w2, 0.0)
        aff_rel = aff / self.user_theta_max[users]
        vl, ul = w.video_lang[videos], w.user_lang[users]
        lang = np.where(vl == ul, 0.0, np.where(vl == EN, -0.4, -1.2))
        qz = self.video_qz[videos]
        z = (
            Z_BASE
            + Z_AFFINITY * aff_rel
            + Z_QUALITY * qz
            + lang
            + w.user_patience[users]
            + rng.normal(0.0, Z_NOISE, n)
        )
        skip = rng.random(n) < _sigmoid(-z - 0.4)
        dur = w.video_duration_ms[videos]
        mu = _sigmoid(0.9 * z + 0.3)
        kappa = 5.0
        r = rng.beta(mu * kappa, (1 - mu) * kappa)
        watch_ms = 3000 + r * (dur - 3000)
        loop = (r > 0.9) & (rng.random(n) < _sigmoid(z - 1.5))
        watch_ms = watch_ms + loop * dur * rng.uniform(0.2, 1.0, n)
        watch_ms = np.where(skip, rng.integers(300, 3000, n), watch_ms).astype(np.int64)
        watched = ~skip
        end = t + watch_ms

        like = watched & (rng.random(n) < _sigmoid(-4.0 + 1.2 * z + 1.5 * (r - 0.5)))
        comment = watched & (rng.random(n) < _sigmoid(-5.2 + 0.9 * z))
        share = watched & (rng.random(n) < _sigmoid(-5.6 + 1.0 * z + 0.5 * qz))
        cuser = self.video_creator_user[videos]
        cq = self.creator_qz[w.video_creator[videos]]
        follow = watched & (cuser != users) & (rng.random(n) < _sigmoid(-6.2 + 1.0 * z + 1.0 * cq))
        fidx = np.flatnonzero(follow)
        keys = users[fidx] * np.int64(self.n_users) + cuser[fidx]
        fresh = ~np.isin(keys, self.follow_keys)
        keys, fidx = keys[fresh], fidx[fresh]
        order = np.argsort(end[fidx], kind="stable")
        keys, fidx = keys[order], fidx[order]
        keys, first = np.unique(keys, return_index=True)
        fidx = fidx[np.sort(first)]
        self.follow_keys = np.union1d(self.follow_keys, keys)

        li, ci, si = np.flatnonzero(like), np.flatnonzero(comment), np.flatnonzero(share)
        parts = [
            # type, index into the impression arrays, time
            (np.where(skip, SKIP, WATCH), np.arange(n), t),
            (np.full(len(li), LIKE), li, end[li] + rng.integers(500, 8000, len(li))),
            (np.full(len(ci), COMMENT), ci, end[ci] + rng.integers(3000, 30000, len(ci))),
            (np.full(len(si), SHARE), si, end[si] + rng.integers(1000, 10000, len(si))),
            (np.full(len(fidx), FOLLOW), fidx, end[fidx] + rng.integers(500, 6000, len(fidx))),
        ]
        etype = np.concatenate([x[0] for x in parts]).astype(np.uint8)
        src = np.concatenate([x[1] for x in parts])
        etime = np.concatenate([x[2] for x in parts]).astype(np.int64)
        order = np.argsort(etime, kind="stable")
        etype, src, etime = etype[order], src[order], etime[order]
        is_follow = etype == FOLLOW
        is_view = (etype == WATCH) | (etype == SKIP)
        m = len(etype)
        hour = etime // HOUR_MS
        late = rng.random(m) < p.late_share
        delay = np.minimum(rng.geometric(0.5, m), 12)
        return EventBatch(
            type=etype,
            user=users[src],
            video=np.where(is_follow, -1, videos[src]),
            creator=np.where(is_follow, cuser[src], -1),
            watch_ms=np.where(is_view, watch_ms[src], -1),
            time_ms=etime,
            arrival_hour=hour + np.where(late, delay, 0),
            comment=np.where(etype == COMMENT, rng.integers(0, len(catalog.COMMENTS), m), -1),
        )


def _draw(rng: np.random.Generator, cdf: np.ndarray, size: int) -> np.ndarray:
    idx = np.searchsorted(cdf, rng.random(size) * cdf[-1], side="right")
    return np.minimum(idx, len(cdf) - 1)


__all__ = ["EventBatch", "Simulator"]
