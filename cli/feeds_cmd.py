"""`fyp feeds status|rollback|flush-counters|sync-ready`: published feeds and lists in Valkey."""

from __future__ import annotations

import click

from cli._common import FypError, emit_json, json_option

DATASET = click.option(
    "--dataset",
    type=click.Choice(["feed", "lists", "all"]),
    default="feed",
    show_default=True,
    help="feed: per-user feeds; lists: cold-start pools, trending, hashtags, sounds.",
)


def _client():  # noqa: ANN202
    from fyplake.serving.clients import valkey_client
    from infra.stack import valkey_url  # the embedded stack starts if not up

    return valkey_client(url=valkey_url())


def _datasets(name: str) -> list[str]:
    return ["feed", "lists"] if name == "all" else [name]


@click.group()
def feeds() -> None:
    """Published feeds and lists: versions, rollback, counters."""


@feeds.command()
@click.option(
    "--dataset",
    type=click.Choice(["feed", "lists", "all"]),
    default="all",
    show_default=True,
    help="Which dataset to show.",
)
@json_option
def status(dataset: str, as_json: bool) -> None:
    """Current and kept versions (default: both datasets)."""
    from fyplake import keys
    from fyplake.serving.versions import VersionedStore

    client = _client()
    names = _datasets(dataset)
    data = {ds: VersionedStore(client, ds).status() for ds in names}
    data["ready_videos"] = int(client.scard(keys.READY_VIDEOS))
    data["pending_counter_batches"] = int(client.scard(keys.COUNTERS_PENDING))
    if as_json:
        emit_json(data)
        return
    for ds in names:
        st = data[ds]
        click.echo(f"{ds}: current version {st['current']}")
        for v in st["versions"]:
            mark = "*" if v.get("current") else " "
            click.echo(
                f"  {mark} v{v['version']:<5} {v['status']:9} items={v.get('items', 0):<9} "
                f"run={v.get('run_id', '')} ttl={v.get('ttl_s', '')}s"
            )
    click.echo(f"ready videos: {data['ready_videos']}")


@feeds.command()
@DATASET
@click.option(
    "--to",
    "to",
    type=int,
    default=None,
    help="Version to make current (default: the previous committed one).",
)
@json_option
def rollback(dataset: str, to: int | None, as_json: bool) -> None:
    """Point the API back at the previous published version (or --to VERSION)."""
    from fyplake.serving.versions import PublishError, VersionedStore

    client = _client()
    out = {}
    for ds in _datasets(dataset):
        try:
            old, new = VersionedStore(client, ds).rollback(to)
        except PublishError as exc:
            raise FypError(str(exc)) from None
        out[ds] = {"from": old, "to": new}
    if as_json:
        emit_json(out)
    else:
        for ds, r in out.items():
            click.echo(
                f"{ds}: version {r['from']} -> {r['to']} (the API follows within "
                "FYP_POINTER_REFRESH_S)"
            )


@feeds.command("flush-counters")
@json_option
def flush_counters_cmd(as_json: bool) -> None:
    """Move view/like/comment/share counters from Valkey into Postgres (exactly once)."""
    import psycopg

    from fyplake.config import get_settings
    from fyplake.serving.counters import flush_counters
    from infra.stack import postgres_dsn

    settings = get_settings()
    with psycopg.connect(postgres_dsn(settings), autocommit=True) as conn:
        result = flush_counters(_client(), conn, chunk=settings.counter_flush_chunk)
    if as_json:
        emit_json(result.as_dict())
    else:
        click.echo(
            f"applied {len(result.applied)} batch(es) covering {result.videos} videos "
            f"{result.totals}; cleaned up {len(result.already_applied)} already applied"
        )


@feeds.command("sync-ready")
@json_option
def sync_ready(as_json: bool) -> None:
    """Rebuild the ready set fyp:videos:ready from Postgres."""
    import psycopg

    from fyplake.serving.ready import sync_ready_from_postgres
    from infra.stack import postgres_dsn

    with psycopg.connect(postgres_dsn()) as conn:
        count = sync_ready_from_postgres(_client(), conn)
    if as_json:
        emit_json({"ready_videos": count})
    else:
        click.echo(f"ready set rebuilt: {count} videos")
