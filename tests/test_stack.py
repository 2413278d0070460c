"""The embedded stack: restart keeps data, migrations are idempotent, pgvector HNSW works."""

from __future__ import annotations

import json
import subprocess
import sys

import psycopg
import pytest
import redis

from fyplake import endpoints as library_endpoints
from fyplake.endpoints import EndpointNotConfigured
from infra.migrations import current_version, discover, migrate
from infra.stack import Stack


def test_restart_keeps_postgres_and_valkey_data(stack, settings):
    with psycopg.connect(stack.postgres, autocommit=True) as conn:
        conn.execute("INSERT INTO users (id, country) VALUES (910001, 'NZ') ON CONFLICT DO NOTHING")
    redis.Redis.from_url(stack.valkey).set("fyp:test:restart", "kept")

    # the library finds the running stack from its state files, as infra/stack.py reports it
    assert library_endpoints.postgres_dsn(settings) == stack.postgres
    assert library_endpoints.valkey_url(settings) == stack.valkey

    st = Stack(settings)
    stopped = st.down()
    assert stopped == {"postgres": True, "valkey": True}
    assert st.status()["running"] == {"postgres": False, "valkey": False}
    # stopped: the library raises instead of starting it
    with pytest.raises(EndpointNotConfigured, match="fyp stack up"):
        library_endpoints.postgres_dsn(settings)
    with pytest.raises(EndpointNotConfigured, match="fyp stack up"):
        library_endpoints.valkey_url(settings)
    assert st.status()["running"] == {"postgres": False, "valkey": False}

    endpoints = st.up()
    assert endpoints.valkey == stack.valkey, "Valkey should come back on the same URL"
    with psycopg.connect(endpoints.postgres) as conn:
        row = conn.execute("SELECT country FROM users WHERE id = 910001").fetchone()
    assert row == ("NZ",)
    assert redis.Redis.from_url(endpoints.valkey).get("fyp:test:restart") == b"kept"


def test_migrations_are_idempotent_and_tracked(stack):
    assert migrate(stack.postgres) == []  # the fixture already applied everything
    assert current_version(stack.postgres) == max(m.version for m in discover())
    with psycopg.connect(stack.postgres) as conn:
        rows = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    assert [r[0] for r in rows] == [m.version for m in discover()]


def test_pgvector_hnsw_nearest_neighbour(pg):
    """The schema's HNSW index is what the planner uses, and it finds the true neighbours.

    The neighbour check runs on a temporary copy of `video_embeddings` (same column type, same
    index definition), so embeddings other tests published cannot crowd the top 3.
    """
    query_vec = [0.0] * 128
    query_vec[7], query_vec[8] = 1.0, 0.5
    pg.execute("SET enable_seqscan = off")
    plan = "\n".join(
        r[0]
        for r in pg.execute(
            "EXPLAIN SELECT video_id FROM video_embeddings ORDER BY embedding <=> %s::vector "
            "LIMIT 3",
            (str(query_vec),),
        ).fetchall()
    )
    assert "idx_video_embeddings_hnsw" in plan

    pg.execute(
        "CREATE TEMP TABLE nn_probe (LIKE video_embeddings INCLUDING DEFAULTS INCLUDING INDEXES)"
    )
    try:
        vectors = {}
        for i in range(50):
            vec = [0.0] * 128
            vec[i % 128] = 1.0
            vec[(i + 1) % 128] = 0.5
            vectors[930000 + i] = vec
        with pg.cursor() as cur:
            cur.executemany(
                "INSERT INTO nn_probe (video_id, embedding) VALUES (%s, %s::vector)",
                [(vid, str(vec)) for vid, vec in vectors.items()],
            )
        query = str(vectors[930007])
        probe_plan = "\n".join(
            r[0]
            for r in pg.execute(
                "EXPLAIN SELECT video_id FROM nn_probe ORDER BY embedding <=> %s::vector LIMIT 3",
                (query,),
            ).fetchall()
        )
        assert "Index Scan" in probe_plan, probe_plan
        rows = pg.execute(
            "SELECT video_id FROM nn_probe ORDER BY embedding <=> %s::vector LIMIT 3", (query,)
        ).fetchall()
    finally:
        pg.execute("DROP TABLE IF EXISTS nn_probe")
    assert rows[0][0] == 930007
    assert {r[0] for r in rows[1:]} == {930006, 930008}


def test_cli_status_json_contract(stack):
    out = subprocess.run(
        [sys.executable, "-m", "cli", "stack", "status", "--json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    data = json.loads(out)
    for key in ("postgres", "valkey", "lake", "spark_master", "media"):
        assert data[key], key
    assert data["postgres"] == stack.postgres
    assert data["valkey"] == stack.valkey


def test_cli_error_is_one_line_and_nonzero():
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "stack", "sideways"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert proc.stderr.strip().count("\n") == 0
    assert "sideways" in proc.stderr
