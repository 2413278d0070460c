"""The video_transcode / video_upload_drain DAGs through Airflow itself.

Airflow runs in a child process with the Airflow environment of this test session's FYP_HOME
(its own AIRFLOW_HOME and metadata DB, ``infra.airflow_env``), so its configuration never leaks
into other tests. Clip seeds used in this file: 401-409.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import media_clips as clips
import pytest

from fyplake.config import REPO_ROOT
from fyplake.media.catalog import video_media
from fyplake.media.uploads import submit_upload

pytestmark = pytest.mark.airflow

DAG_FILE = REPO_ROOT / "dags" / "video_transcode.py"

_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=sys.argv[1])
    out = {"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {}, "runs": []}
    for dag_id, dag in bag.dags.items():
        out["dags"][dag_id] = {
            "tags": sorted(dag.tags),
            "owners": sorted({t.owner for t in dag.tasks}),
            "retries": {t.task_id: t.retries for t in dag.tasks},
            "mapped": sorted(t.task_id for t in dag.tasks
                             if "MappedOperator" in type(t).__name__),
            "schedule": repr(dag.schedule),
            "max_active_runs": dag.max_active_runs,
            "params": sorted(dag.params.keys()),
        }
    for arg in sys.argv[2:]:
        if arg == "drain":
            run = bag.dags["video_upload_drain"].test()
            tis = [(ti.task_id, ti.map_index, str(ti.state)) for ti in run.get_task_instances()]
            from airflow.models.dagrun import DagRun
            from airflow.utils.session import create_session

            with create_session() as session:
                triggered = [
                    {"run_id": r.run_id, "conf": r.conf, "state": str(r.state)}
                    for r in session.query(DagRun).filter(DagRun.dag_id == "video_transcode")
                    if r.run_id.startswith("upload__")
                ]
            out["drain"] = {"state": str(run.state), "tis": tis, "triggered": triggered}
            continue
        run = bag.dags["video_transcode"].test(run_conf={"video_id": int(arg)})
        tis = [(ti.task_id, ti.map_index, str(ti.state)) for ti in run.get_task_instances()]
        out["runs"].append({"video_id": int(arg), "state": str(run.state), "tis": tis})
    print("RESULT:" + json.dumps(out))
    """
)


def _airflow(settings, stack, *video_ids: int, timeout: int = 600) -> dict:
    from infra.airflow_env import airflow_environ, ensure_airflow_db

    ensure_airflow_db(settings)
    env = {**os.environ, **airflow_environ(settings, stack)}
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(DAG_FILE), *map(str, video_ids)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT:")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT:") :])


def test_dags_import_with_owner_tags_retries_and_mapping(settings, stack):
    out = _airflow(settings, stack)
    assert out["errors"] == {}
    assert set(out["dags"]) == {"video_transcode", "video_upload_drain"}
    vt = out["dags"]["video_transcode"]
    assert vt["tags"] == ["media", "transcode", "video"] and vt["owners"] == ["media"]
    assert all(r >= 2 for r in vt["retries"].values())
    assert vt["mapped"] == []  # the ladder is one task: one decode, one filter graph
    assert set(vt["retries"]) == {
        "validate",
        "fingerprint",
        "transcode",
        "thumbnails",
        "audio",
        "store",
        "mark_ready",
    }
    assert vt["params"] == ["video_id"] and vt["max_active_runs"] >= 16
    assert vt["schedule"] == "None"
    drain = out["dags"]["video_upload_drain"]
    assert drain["mapped"] == ["trigger_transcode"] and drain["owners"] == ["media"]


@pytest.mark.slow
def test_dag_runs_transcode_and_short_circuits_bad_uploads(pg, settings, stack, tmp_path):
    pg.execute("INSERT INTO users (id) VALUES (7401) ON CONFLICT DO NOTHING")
    good = submit_upload(
        clips.make_clip(tmp_path / "dag.mp4", width=480, height=854, seconds=16, seed=401),
        7401,
        settings=settings,
    )
    bad = submit_upload(clips.text_as_mp4(tmp_path / "dag_text.mp4"), 7401, settings=settings)
    out = _airflow(settings, stack, good, bad, good)
    run_good, run_bad, run_again = out["runs"]

    assert run_good["state"] == "success"
    transcodes = [m for t, m, _ in run_good["tis"] if t == "transcode"]
    assert transcodes == [-1]  # one task instance makes the whole ladder (480p and 360p)
    assert all(s == "success" for _, _, s in run_good["tis"])
    media = video_media(pg, good, settings)
    assert media["status"] == "ready"
    assert [r["name"] for r in media["renditions"]] == ["480p", "360p"]
    # Idempotent: the second run of the same upload (ready by then) succeeds and leaves the
    # same renditions (the same content-addressed keys, the rows replaced).
    assert run_again["state"] == "success"
    assert all(s == "success" for _, _, s in run_again["tis"])
    assert media["job"]["runner"] == "airflow" and media["job"]["state"] == "done"
    assert media["job"]["dag_run_id"]

    # A text file: validate marks it failed and short-circuits; the run itself succeeds.
    assert run_bad["state"] == "success"
    states = {t: s for t, _, s in run_bad["tis"]}
    assert states["validate"] == "success"
    assert states["mark_ready"] == "skipped" and states["fingerprint"] == "skipped"
    media = video_media(pg, bad, settings)
    assert media["status"] == "failed"
    assert media["reason"] == "invalid upload: the file is text, not a video"


@pytest.mark.slow
def test_drain_dag_triggers_a_run_for_each_queued_upload(pg, settings, stack, tmp_path):
    pg.execute("INSERT INTO users (id) VALUES (7402) ON CONFLICT DO NOTHING")
    queued = submit_upload(
        clips.make_clip(tmp_path / "drain.mp4", width=320, height=568, seed=402),
        7402,
        settings=settings,
    )
    assert video_media(pg, queued, settings)["job"]["state"] == "queued"
    out = _airflow(settings, stack, "drain")
    assert out["drain"]["state"] == "success"
    assert any(t == "trigger_transcode" and s == "success" for t, _, s in out["drain"]["tis"])
    mine = [r for r in out["drain"]["triggered"] if r["conf"] == {"video_id": queued}]
    assert len(mine) == 1 and mine[0]["run_id"].startswith(f"upload__{queued}__")
    job = video_media(pg, queued, settings)["job"]
    assert job["state"] == "triggered" and job["runner"] == "airflow" and job["attempts"] == 1
    from fyplake.media.pipeline import mark_failed

    mark_failed(queued, "test cleanup", settings=settings)
