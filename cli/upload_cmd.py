"""`fyp upload FILE --creator ID [--wait] [--json]`: upload a video the way POST /v1/videos does."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cli._common import FypError, emit_json, json_option


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--creator", "creator_id", type=int, required=True, help="Uploading user's id.")
@click.option("--title", default="", help="Video title.")
@click.option("--description", default="", help="Video description.")
@click.option("--hashtag", "hashtags", multiple=True, help="A hashtag (repeatable), without '#'.")
@click.option("--sound", "sound_id", type=int, default=None, help="Sound picked by the uploader.")
@click.option(
    "--wait",
    is_flag=True,
    help="Run (embedded default: in this process) or await the transcode; print the final status.",
)
@click.option(
    "--timeout", default=900.0, show_default=True, help="Seconds --wait waits for Airflow."
)
@json_option
def upload(
    file: Path,
    creator_id: int,
    title: str,
    description: str,
    hashtags: tuple[str, ...],
    sound_id: int | None,
    wait: bool,
    timeout: float,
    as_json: bool,
) -> None:
    """Upload FILE as a video of user --creator (the same path as POST /v1/videos).

    The upload is stored and queued for the video_transcode pipeline. With --wait: when
    FYP_MEDIA_TRIGGER_URL names an Airflow API, the Airflow run is awaited; otherwise (the
    embedded default) the pipeline's steps run here, in this process, and the final status is
    printed. Exit status 1 when the video ends `failed`.
    """
    import psycopg

    from fyplake.config import get_settings
    from fyplake.media.catalog import video_media
    from fyplake.media.uploads import UploadError, run_inline, submit_upload, wait_for
    from infra.migrations import migrate
    from infra.stack import postgres_dsn

    settings = get_settings()
    dsn = postgres_dsn(settings)
    migrate(dsn)
    try:
        video_id = submit_upload(
            file,
            creator_id,
            filename=file.name,
            title=title,
            description=description,
            hashtags=[h.lstrip("#") for h in hashtags],
            sound_id=sound_id,
            settings=settings,
        )
    except UploadError as exc:
        raise FypError(str(exc)) from None
    if wait:
        if settings.media_trigger_url:
            wait_for(video_id, settings=settings, timeout_s=timeout)
        else:
            on_step = None
            if sys.stderr.isatty() and not as_json:

                def on_step(name: str) -> None:
                    click.echo(f"  {name} done", err=True)

            try:
                run_inline(video_id, settings=settings, on_step=on_step)
            except RuntimeError:
                # Another runner (the drain DAG) took the job: wait for it instead.
                wait_for(video_id, settings=settings, timeout_s=timeout)
    with psycopg.connect(dsn) as conn:
        media = video_media(conn, video_id, settings)
    assert media is not None
    if as_json:
        emit_json(media)
    else:
        _print_summary(media)
    if wait and media["status"] == "failed":
        click.echo(f"fyp: error: video {video_id} failed: {media['reason']}", err=True)
        sys.exit(1)


def _print_summary(media: dict) -> None:
    click.echo(f"video {media['video_id']}: {media['status']}")
    if media["reason"]:
        click.echo(f"reason      {media['reason']}")
    if media["duplicate_of"]:
        click.echo(f"duplicate of video {media['duplicate_of']}")
    if media["url"]:
        click.echo(f"playlist    {media['url']}")
        click.echo(
            "renditions  "
            + ", ".join(f"{r['name']} ({r['width']}x{r['height']})" for r in media["renditions"])
        )
    if media["sound_id"]:
        click.echo(f"sound       {media['sound_id']}")
