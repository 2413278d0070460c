"""`fyp feed USER_ID`: the user's feed exactly as the API serves it (same service function)."""

from __future__ import annotations

import click

from cli._common import FypError, emit_json, json_option, print_table


async def _feed_page(user_id: int, limit: int | None, cursor: str | None) -> dict:
    import dataclasses

    from psycopg_pool import AsyncConnectionPool

    from fyplake.config import get_settings
    from fyplake.serving.clients import async_valkey_client
    from fyplake.serving.reader import ServingReader, pg_demographics
    from infra.stack import postgres_dsn, valkey_url  # the embedded stack starts if not up

    settings = get_settings()
    client = async_valkey_client(valkey_url(settings), timeout=5.0, max_connections=4)
    pool = AsyncConnectionPool(
        postgres_dsn(settings),
        min_size=1,
        max_size=1,
        open=False,
        kwargs={"autocommit": True},
    )
    await pool.open()
    try:
        reader = ServingReader(client, settings, demographics=pg_demographics(pool))
        page = await reader.feed_page(user_id, limit, cursor)
    finally:
        await pool.close()
        await client.aclose()
    data = dataclasses.asdict(page)
    data["items"] = [item._asdict() for item in page.items]
    return data


@click.command()
@click.argument("user_id", type=int)
@click.option("--limit", type=int, default=None, help="Page size (default: FYP_FEED_PAGE_SIZE).")
@click.option("--cursor", default=None, help="next_cursor of a previous page.")
@json_option
def feed(user_id: int, limit: int | None, cursor: str | None, as_json: bool) -> None:
    """Show USER_ID's feed page as GET /v1/feed/USER_ID serves it."""
    import asyncio

    import redis.exceptions

    from fyplake.serving.reader import CursorError

    if user_id <= 0:
        raise FypError("USER_ID must be a positive integer")
    try:
        page = asyncio.run(_feed_page(user_id, limit, cursor))
    except CursorError as exc:
        raise FypError(str(exc)) from None
    except redis.exceptions.ConnectionError as exc:
        raise FypError(f"Valkey is unreachable: {exc}") from None
    if as_json:
        emit_json(page)
        return
    kind = "personalized" if page["personalized"] else "cold start"
    click.echo(
        f"user {user_id}: {kind}, feed version {page['feed_version']}, "
        f"lists version {page['lists_version']}"
    )
    print_table(page["items"], ["rank", "video_id", "score", "source"])
    if page["next_cursor"]:
        click.echo(f"next: fyp feed {user_id} --cursor {page['next_cursor']}")
