"""`fyp video ID [--json]`: a video's processing status, reason, renditions and thumbnails."""

from __future__ import annotations

import click

from cli._common import FypError, emit_json, json_option, print_table


@click.command()
@click.argument("video_id", type=int)
@json_option
def video(video_id: int, as_json: bool) -> None:
    """Status (processing/ready/failed/duplicate), reason, renditions and thumbnails of a video."""
    import psycopg

    from fyplake.config import get_settings
    from fyplake.media.catalog import video_media
    from infra.stack import postgres_dsn

    settings = get_settings()
    with psycopg.connect(postgres_dsn(settings)) as conn:
        try:
            media = video_media(conn, video_id, settings)
        except psycopg.errors.UndefinedTable:
            raise FypError("the media tables are missing: run `fyp db migrate`") from None
    if media is None:
        raise FypError(f"no video {video_id}")
    if as_json:
        emit_json(media)
        return
    click.echo(f"video       {media['video_id']} (creator {media['creator_id']})")
    click.echo(f"status      {media['status']}")
    if media["reason"]:
        click.echo(f"reason      {media['reason']}")
    if media["duplicate_of"]:
        click.echo(f"duplicate   of video {media['duplicate_of']}")
    if media["duration_ms"]:
        click.echo(f"duration    {media['duration_ms'] / 1000:.1f} s")
    if media["width"]:
        click.echo(
            f"source      {media['width']}x{media['height']}"
            f"{'' if media['has_audio'] else ', no audio'}"
        )
    if media["sound_id"]:
        click.echo(f"sound       {media['sound_id']}")
    if media["url"]:
        click.echo(f"playlist    {media['url']}")
    if media["renditions"]:
        click.echo("")
        print_table(
            [
                {
                    "rendition": r["name"],
                    "size": f"{r['width']}x{r['height']}",
                    "kbit/s": round(r["bandwidth"] / 1000),
                    "codecs": r["codecs"],
                    "segments": r["segment_count"],
                    "url": r["url"],
                }
                for r in media["renditions"]
            ]
        )
    if media["thumbnails"]:
        click.echo("")
        print_table(
            [
                {
                    "t": f"{t['t_ms'] / 1000:.1f} s",
                    "size": f"{t['width']}x{t['height']}",
                    "url": t["url"],
                }
                for t in media["thumbnails"]
            ]
        )
