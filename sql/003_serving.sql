-- Serving: what the API reads from Postgres besides the core tables (issue 5).

-- Per-creator daily analytics, published from the lake's gold.creator_daily_stats so that
-- GET /v1/creators/{id}/analytics is a key lookup, not a lake scan.
CREATE TABLE creator_daily_stats (
    creator_id        BIGINT NOT NULL,
    date              DATE NOT NULL,
    videos_watched    BIGINT NOT NULL DEFAULT 0,
    views             BIGINT NOT NULL DEFAULT 0,
    unique_viewers    BIGINT NOT NULL DEFAULT 0,
    watch_ms_total    BIGINT NOT NULL DEFAULT 0,
    mean_completion   DOUBLE PRECISION,
    like_rate         DOUBLE PRECISION,
    share_rate        DOUBLE PRECISION,
    comment_rate      DOUBLE PRECISION,
    new_followers     BIGINT NOT NULL DEFAULT 0,
    followers_total   BIGINT NOT NULL DEFAULT 0,
    published_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (creator_id, date)
);
