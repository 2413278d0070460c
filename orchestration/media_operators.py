"""Task bodies of the ``video_transcode`` and ``video_upload_drain`` DAGs.

Each function takes the Airflow task context (a mapping: ``params``, ``dag_run``, ``ti``) and
calls one step of :mod:`fyplake.media.pipeline`, so the DAG file stays thin wiring. Importing this
module is cheap (no Airflow, no media libraries at import time).

Failure policy, shared by every task: an exception is re-raised so Airflow retries it (with
backoff); on the *last* attempt the video is first marked ``failed`` with the error as the
reason, so no upload is left ``processing`` forever. A bad file is not an exception: validate
marks it ``failed`` and returns False, which short-circuits (skips) the rest of the run, and the
run ends successful.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


def video_id_of(context: Mapping[str, Any]) -> int:
    """The run's video id: ``params["video_id"]`` (the trigger's conf overrides the default)."""
    params = context.get("params") or {}
    value = params.get("video_id")
    if value in (None, 0, "") and context.get("dag_run") is not None:
        value = (getattr(context["dag_run"], "conf", None) or {}).get("video_id")
    if value in (None, 0, ""):
        raise ValueError('video_transcode needs conf {"video_id": <id>}')
    return int(value)


def _final_attempt(context: Mapping[str, Any]) -> bool:
    ti = context.get("ti")
    if ti is None:
        return True
    try_number = int(getattr(ti, "try_number", 1) or 1)
    max_tries = int(getattr(ti, "max_tries", 0) or 0)
    return try_number > max_tries


def _settings() -> Any:
    """Settings for a task: endpoints from Airflow Connections when defined, else FYP_*."""
    if "airflow.sdk" in sys.modules:  # inside a task; never import Airflow just for this
        try:
            from orchestration.connections import apply_endpoint_env

            apply_endpoint_env()
        except Exception as exc:  # noqa: BLE001 - no connections: the FYP_* environment stands
            logger.debug("no endpoint connections applied: %s", exc)
    from fyplake.config import get_settings

    return get_settings()


def _guarded(what: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    def wrap(fn: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(fn)
        def inner(context: Mapping[str, Any], *args: Any, **kwargs: Any) -> T:
            video_id = video_id_of(context)
            try:
                return fn(context, video_id, *args, **kwargs)
            except Exception as exc:
                if _final_attempt(context):
                    from fyplake.media.pipeline import mark_failed

                    ti = context.get("ti")
                    attempts = getattr(ti, "try_number", 1) if ti is not None else 1
                    try:
                        mark_failed(video_id, f"{what} failed after {attempts} attempt(s): {exc}")
                    except Exception:  # noqa: BLE001 - keep the original error
                        logger.exception("could not mark video %s failed", video_id)
                raise

        return inner

    return wrap


@_guarded("validation")
def validate(context: Mapping[str, Any], video_id: int) -> bool:
    """Acknowledge the job and validate the upload; False (skip the rest) when it failed."""
    from fyplake.media.pipeline import step_validate

    run_id = getattr(context.get("dag_run"), "run_id", None) or context.get("run_id")
    result = step_validate(video_id, settings=_settings(), run_id=run_id, runner="airflow")
    if not result["ok"]:
        logger.info("video %s not processed: %s", video_id, result.get("reason"))
    return bool(result["ok"])


@_guarded("fingerprinting")
def fingerprint(context: Mapping[str, Any], video_id: int) -> bool:
    """Content fingerprint and duplicate check; False (skip the rest) for a duplicate."""
    from fyplake.media.pipeline import step_fingerprint

    result = step_fingerprint(video_id, settings=_settings())
    return not result.get("duplicate_of") and not result.get("skipped")


@_guarded("transcode")
def transcode(context: Mapping[str, Any], video_id: int) -> list[dict[str, Any]]:
    """Plan the ladder and encode every rung from one decode of the original (one ffmpeg
    filter graph: ``split`` -> ``scale`` -> one encoder per rung); each rung's playlist and
    segments go to the media store. Returns the renditions for ``store`` (largest first)."""
    from fyplake.media.pipeline import step_plan, step_transcode_ladder
    from fyplake.media.transcode import default_threads

    settings = _settings()
    plan = step_plan(video_id, settings=settings)
    return step_transcode_ladder(
        video_id, plan, settings=settings, threads=default_threads(settings, 1)
    )


@_guarded("thumbnails")
def thumbnails(context: Mapping[str, Any], video_id: int) -> list[dict[str, Any]]:
    from fyplake.media.pipeline import step_thumbnails

    return step_thumbnails(video_id, settings=_settings())


@_guarded("audio")
def audio(context: Mapping[str, Any], video_id: int) -> dict[str, Any]:
    from fyplake.media.pipeline import step_audio

    return step_audio(video_id, settings=_settings())


@_guarded("store")
def store(
    context: Mapping[str, Any], video_id: int, renditions: Any, thumbs: Any
) -> dict[str, Any]:
    from fyplake.media.pipeline import step_store

    return step_store(video_id, list(renditions or []), list(thumbs or []), settings=_settings())


@_guarded("mark ready")
def mark_ready(context: Mapping[str, Any], video_id: int) -> dict[str, Any]:
    from fyplake.media.pipeline import step_mark_ready

    return step_mark_ready(video_id, settings=_settings())


def claim_uploads(limit: int = 20) -> list[dict[str, Any]]:
    """For the drain DAG: claim pending upload jobs; TriggerDagRunOperator kwargs per job."""
    import time

    from fyplake.media.uploads import claim_pending

    stamp = int(time.time())
    return [
        {"conf": {"video_id": vid}, "trigger_run_id": f"upload__{vid}__{stamp}"}
        for vid in claim_pending(settings=_settings(), limit=limit)
    ]
