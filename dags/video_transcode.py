"""Video pipeline DAGs: ``video_transcode`` (one run per upload) and ``video_upload_drain``.

``video_transcode`` is triggered per upload with conf ``{"video_id": N}`` (by the upload path
through the Airflow API, or by ``video_upload_drain``)::

    validate -> fingerprint -> transcode          (the whole ladder: one decode, one filter graph)
                            -> thumbnails, audio  (alongside the ladder)
             -> store -> mark_ready

``transcode`` plans the ladder from the probe and makes every rung with one ffmpeg run
(``split`` -> ``scale`` -> one x264 encoder per rung, built with ffmpeg-python): the source is
decoded once, not once per rung as a task per rendition would (issue 17, item 4); a re-run
rewrites the same content-addressed keys.

``validate`` and ``fingerprint`` are short-circuits: a bad file (marked ``failed`` with a reason)
or a duplicate (marked ``duplicate``) skips the rest and the run still succeeds, so one bad
upload never fails anything else. An ffmpeg crash is retried with backoff; its last attempt marks
the video ``failed``. The task bodies live in :mod:`orchestration.media_operators` (plain Python,
imported inside each task, so parsing this file stays cheap).

``video_upload_drain`` runs every minute: it claims upload jobs still ``queued`` (the upload was
made while Airflow was down or not configured) or triggered but never started, and triggers a
``video_transcode`` run for each.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Asset, Param, dag, task

#: Emitted each time a video becomes ready (downstream feeds may schedule on it).
VIDEOS_READY = Asset(
    name="postgres.videos_ready", uri="fyplake://postgres/videos/ready", group="media"
)

DEFAULT_ARGS = {
    "owner": "media",
    "retries": 2,
    "retry_delay": timedelta(seconds=10),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=5),
    "execution_timeout": timedelta(minutes=20),
}


@dag(
    dag_id="video_transcode",
    schedule=None,
    catchup=False,
    max_active_runs=64,
    is_paused_upon_creation=False,
    default_args=DEFAULT_ARGS,
    params={"video_id": Param(0, type="integer", minimum=0, description="videos.id to process")},
    tags=["media", "video", "transcode"],
    doc_md=__doc__,
)
def video_transcode():
    @task.short_circuit
    def validate(**context) -> bool:
        from orchestration import media_operators as operators

        return operators.validate(context)

    @task.short_circuit
    def fingerprint(**context) -> bool:
        from orchestration import media_operators as operators

        return operators.fingerprint(context)

    @task(retry_delay=timedelta(seconds=20))
    def transcode(**context) -> list[dict]:
        from orchestration import media_operators as operators

        return operators.transcode(context)

    @task
    def thumbnails(**context) -> list[dict]:
        from orchestration import media_operators as operators

        return operators.thumbnails(context)

    @task
    def audio(**context) -> dict:
        from orchestration import media_operators as operators

        return operators.audio(context)

    @task
    def store(renditions, thumbs, **context) -> dict:
        from orchestration import media_operators as operators

        return operators.store(context, renditions, thumbs)

    @task(outlets=[VIDEOS_READY])
    def mark_ready(**context) -> dict:
        from orchestration import media_operators as operators

        return operators.mark_ready(context)

    checked = validate()
    unique = fingerprint()
    renditions = transcode()
    thumbs = thumbnails()
    sound = audio()
    checked >> unique >> [renditions, thumbs, sound]
    stored = store(renditions, thumbs)
    sound >> stored
    stored >> mark_ready()


@dag(
    dag_id="video_upload_drain",
    schedule=timedelta(minutes=1),
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=False,
    default_args={"owner": "media", "retries": 1, "retry_delay": timedelta(seconds=30)},
    tags=["media", "video", "queue"],
    doc_md="Triggers video_transcode for upload jobs nobody triggered (see video_transcode).",
)
def video_upload_drain():
    @task
    def claim() -> list[dict]:
        from orchestration import media_operators as operators

        return operators.claim_uploads(limit=20)

    # One trigger per claimed job: kwargs {"conf": {"video_id": N}, "trigger_run_id": ...}.
    TriggerDagRunOperator.partial(
        task_id="trigger_transcode",
        trigger_dag_id="video_transcode",
        logical_date=None,
        wait_for_completion=False,
        skip_when_already_exists=True,
    ).expand_kwargs(claim())


video_transcode()
video_upload_drain()
