-- The video pipeline (issue 7): the upload hand-off queue, what the probe found, the published
-- renditions and thumbnails, and the content and audio fingerprints. fyplake/media writes these;
-- the API reads them through fyplake.media.catalog.video_media().

-- The original as uploaded, and what the probe found in it (one row per video).
CREATE TABLE video_sources (
    video_id        BIGINT PRIMARY KEY REFERENCES videos(id) ON DELETE CASCADE,
    original_path   TEXT,                          -- media-store key under originals/ (private)
    content_sha256  TEXT,                          -- of the original bytes
    asset_prefix    TEXT,                          -- videos/<id>/<sha256[:16]>: published outputs
    filename        TEXT,                          -- as uploaded, for people
    size_bytes      BIGINT NOT NULL,
    container       TEXT,
    video_codec     TEXT,
    audio_codec     TEXT,
    width           INTEGER,                       -- as displayed (rotation applied)
    height          INTEGER,
    rotation        INTEGER,
    fps             DOUBLE PRECISION,
    has_audio       BOOLEAN,
    duration_ms     INTEGER,
    probe           JSONB,                         -- the whole probe result
    uploaded_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    probed_at       TIMESTAMPTZ
);

-- The durable hand-off from the upload path (API, `fyp upload`) to the transcode pipeline.
-- submit_upload() inserts 'queued'; a trigger of the video_transcode DAG moves it to 'triggered';
-- the run's first task acknowledges it ('running', with its dag_run_id); the last step sets
-- 'done' or 'failed'. Jobs left 'queued' (Airflow was down) or 'triggered' but never
-- acknowledged are picked up again by the video_upload_drain DAG / fyplake.media.uploads.drain.
CREATE TABLE upload_jobs (
    video_id        BIGINT PRIMARY KEY REFERENCES videos(id) ON DELETE CASCADE,
    original_uri    TEXT NOT NULL,                 -- where the original is (file:// or s3://)
    state           TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'triggered', 'running', 'done', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,    -- triggers/claims so far
    runner          TEXT,                          -- 'airflow' or 'inline'
    dag_run_id      TEXT,
    last_error      TEXT,
    requested_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    triggered_at    TIMESTAMPTZ,
    started_at      TIMESTAMPTZ,
    finished_at     TIMESTAMPTZ
);
CREATE INDEX idx_upload_jobs_pending ON upload_jobs (requested_at)
    WHERE state IN ('queued', 'triggered');

-- HLS renditions of a video (one media playlist each; the master playlist lists them all).
CREATE TABLE video_renditions (
    video_id           BIGINT NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    name               TEXT NOT NULL,              -- '1080p', '720p', ... (the short side)
    width              INTEGER NOT NULL,
    height             INTEGER NOT NULL,
    bandwidth          INTEGER NOT NULL,           -- peak segment bitrate (bit/s), HLS BANDWIDTH
    average_bandwidth  INTEGER NOT NULL,           -- HLS AVERAGE-BANDWIDTH
    codecs             TEXT NOT NULL,              -- RFC 6381, e.g. avc1.64001f,mp4a.40.2
    frame_rate         DOUBLE PRECISION,
    segment_count      INTEGER NOT NULL,
    duration_ms        INTEGER NOT NULL,
    playlist_path      TEXT NOT NULL,              -- media-store key of the media playlist
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (video_id, name)
);

CREATE TABLE video_thumbnails (
    video_id    BIGINT NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    t_ms        INTEGER NOT NULL,                  -- where in the video
    path        TEXT NOT NULL,                     -- media-store key of the JPEG
    width       INTEGER NOT NULL,
    height      INTEGER NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (video_id, t_ms)
);

-- Content fingerprint: 64-bit perceptual hashes of frames sampled at fixed relative instants.
CREATE TABLE video_fingerprints (
    video_id      BIGINT PRIMARY KEY REFERENCES videos(id) ON DELETE CASCADE,
    algorithm     TEXT NOT NULL,
    frame_hashes  BIGINT[] NOT NULL,
    duration_ms   INTEGER NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_video_fingerprints_duration ON video_fingerprints (duration_ms);

-- Audio fingerprint of each video's soundtrack and the sound it was linked to. hashes holds the
-- distinct 32-bit sub-fingerprints (as int4) for candidate lookup by overlap (GIN, &&).
CREATE TABLE audio_fingerprints (
    video_id         BIGINT PRIMARY KEY REFERENCES videos(id) ON DELETE CASCADE,
    sound_id         BIGINT REFERENCES sounds(id),
    algorithm        TEXT NOT NULL,
    fingerprint      BYTEA NOT NULL,               -- little-endian uint32 sub-fingerprints
    hashes           INTEGER[] NOT NULL,
    duration_ms      INTEGER NOT NULL,
    audio_path       TEXT,                         -- media-store key of the extracted AAC track
    match_ber        REAL,                         -- bit error rate against the linked sound
    match_offset_ms  INTEGER,                      -- where this track sits in the linked sound
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_audio_fingerprints_hashes ON audio_fingerprints USING GIN (hashes);
CREATE INDEX idx_audio_fingerprints_sound ON audio_fingerprints (sound_id);

-- Ids of sounds the pipeline creates ("original sound" of an upload). They start far above the
-- ids the generator and importers use, so the two never collide.
CREATE SEQUENCE media_sound_id_seq START WITH 1000000000000;
