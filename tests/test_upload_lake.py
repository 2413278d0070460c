"""Uploads on a lake-fed world: the lake sync puts explicit video ids into Postgres, then uploads
must still get ids (never one the lake uses), become ready, reach the lake, and be listed.

Its own Postgres database and Valkey db number, so the lists it publishes and the ids it
allocates meet no other test's.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from lakehelpers import at, ev, lake_settings, land, ts

from fyplake import ids
from fyplake.config import Settings

pytestmark = pytest.mark.slow

DAY = dt.date(2026, 11, 1)
CREATOR = 3
KEY = {"X-API-Key": "fyp-dev-key"}
TAG = "uploadloop"


def _own_database(server_dsn: str) -> str:
    """A fresh, migrated database on the session's server; its DSN."""
    from infra.migrations import migrate

    name = f"fyp_upload_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = psycopg.conninfo.make_conninfo(server_dsn, dbname=name)
    migrate(dsn)
    return dsn


def _land_world(settings: Settings) -> None:
    """Three users, videos 1-6 by user 3 (the ids a fresh identity would hand out first)."""
    land(
        settings,
        "users",
        at(8),
        [
            {
                "user_id": u,
                "age_band": "18-24",
                "country": "US",
                "language": "en",
                "signup_time": ts(at(7)),
                "is_creator": u == CREATOR,
                "source": "test",
            }
            for u in (1, 2, CREATOR)
        ],
        "users",
    )
    land(
        settings,
        "videos",
        at(8),
        [
            {
                "video_id": v,
                "creator_id": CREATOR,
                "duration_ms": 15_000,
                "title": f"lake video {v}",
                "description": "",
                "hashtags": ["dance"],
                "sound_id": None,
                "language": "en",
                "status": "ready",
                "created_at": ts(at(7)),
                "source": "test",
            }
            for v in range(1, 7)
        ],
        "videos",
    )
    land(
        settings,
        "events",
        at(9),
        [
            ev(f"e{u}{v}", "watch", u, at(8, 30), video_id=v, watch_ms=12_000)
            for u in (1, 2)
            for v in (1, 2, 3)
        ],
        "events",
    )


@pytest.fixture(scope="module")
def world(spark, stack, tmp_path_factory):
    """A lake ingested and synced to Postgres (explicit ids 1-6), and an API over both."""
    from jobs.publish import postgres as publish_postgres
    from orchestration.inprocess import run_tasks
    from orchestration.tasks import LAKE_TASKS
    from serving_api.app import create_app

    root = tmp_path_factory.mktemp("upload-lake")
    settings = lake_settings(
        root,
        postgres_dsn=_own_database(stack.postgres),
        valkey_url=stack.valkey.rstrip("/") + "/7",
        media=str(root / "media"),
        media_ladder={"360p": 700},
        media_thumbnail_count=1,
        pointer_refresh_s=0.0,
    )
    _land_world(settings)
    run_tasks(LAKE_TASKS, DAY, spark=spark, settings=settings, gates=False)
    synced = publish_postgres.run(spark, settings, DAY)
    assert synced["silver.videos"]["upserted"] == 6
    with TestClient(create_app(settings)) as api:
        yield settings, api


def _upload(api: TestClient, clip: Path, **form) -> int:
    with clip.open("rb") as fh:
        r = api.post(
            "/v1/videos",
            headers=KEY,
            data={"creator_id": CREATOR, "title": "my upload", "hashtags": TAG, **form},
            files={"file": (clip.name, fh, "video/mp4")},
        )
    assert r.status_code == 202, r.text
    return r.json()["video_id"]


def test_uploads_never_take_an_id_the_lake_uses(world, tmp_path):
    settings, api = world
    tmp_path.joinpath("x.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(2000))
    video_id = _upload(api, tmp_path / "x.mp4")
    assert ids.is_platform_id(video_id)
    with psycopg.connect(settings.postgres_dsn) as conn:
        lake_titles = conn.execute(
            "SELECT title FROM videos WHERE id < %s ORDER BY id", (ids.PLATFORM_ID_BASE,)
        ).fetchall()
    assert [t for (t,) in lake_titles] == [f"lake video {v}" for v in range(1, 7)]


def test_concurrent_uploads_get_distinct_ids(world, tmp_path):
    from fyplake.media.uploads import submit_upload

    settings, _api = world
    got: list[int] = []
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            got.append(
                submit_upload(
                    b"\x00\x00\x00\x18ftypmp42" + bytes([i]) * 500,
                    CREATOR,
                    filename=f"c{i}.mp4",
                    settings=settings,
                    trigger=False,
                )
            )
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(set(got)) == 8 and all(ids.is_platform_id(v) for v in got)


def test_the_migration_and_the_library_agree_on_the_base():
    sql = Path(__file__).parents[1].joinpath("sql", "004_platform_ids.sql").read_text()
    assert sql.count(str(ids.PLATFORM_ID_BASE)) >= 2


def test_an_upload_becomes_ready_reaches_the_lake_and_is_listed(world, spark, tmp_path):
    from media_clips import make_clip

    from fyplake.media.uploads import run_inline
    from jobs.nightly import features
    from jobs.publish import feeds as publish_feeds
    from orchestration.inprocess import run_tasks
    from orchestration.tasks import LAKE_TASKS

    settings, api = world
    video_id = _upload(
        api, make_clip(tmp_path / "clip.mp4", width=144, height=256, fps=5, seed=301)
    )
    outcome = run_inline(video_id, settings=settings)
    assert outcome["status"] == "ready", outcome
    assert api.get(f"/v1/videos/{video_id}").json()["status"] == "ready"

    # the upload's record arrived in the landing zone: the lake takes it like any other video
    today = dt.datetime.now(dt.UTC).date()
    run_tasks(LAKE_TASKS, today, spark=spark, settings=settings, gates=False)
    silver = spark.read.format("delta").load(settings.lake_path("silver", "videos"))
    row = silver.where(f"video_id = {video_id}").first()
    assert row is not None and row["status"] == "ready" and row["hashtags"] == [TAG]
    assert silver.count() == 7  # the lake's six and the upload: nothing overwritten

    features.run(spark, settings, today)
    published = publish_feeds.run(spark, settings, today, datasets="lists")
    assert published["lists"]["version"] >= 1, published
    body = api.get(f"/v1/hashtags/{TAG}/videos").json()
    assert body["source"] == "published", body
    assert [i["video_id"] for i in body["items"]] == [video_id]


def test_an_external_record_in_the_platform_range_is_quarantined(world, spark):
    """A producer other than the upload pipeline may not claim an upload's id."""
    from pyspark.sql import functions as F

    from jobs.lake import parsing

    taken = ids.PLATFORM_ID_BASE + 1
    rows = [
        (taken, CREATOR, 1000, "csv"),  # an import claiming an upload's id
        (taken + 1, CREATOR, 1000, ids.PLATFORM_SOURCE),  # the pipeline's own record
        (5, CREATOR, 1000, "csv"),  # an ordinary lake id
    ]
    df = spark.createDataFrame(
        rows, "video_id bigint, creator_id bigint, duration_ms bigint, source string"
    ).withColumn(parsing.REASON, F.lit(None).cast("string"))
    checked = {
        r["video_id"]: r[parsing.REASON]
        for r in parsing.check_dimension_values(df, "videos").collect()
    }
    assert checked[taken].startswith("reserved_id: video_id=1000000000001")
    assert checked[taken + 1] is None and checked[5] is None
