"""`fyp import movielens DIR | kuairec FILE | csv FILE`: real interaction logs into the landing
zone (the next `fyp build` takes them into the lake and on to feeds)."""

from __future__ import annotations

import click

from cli._common import FypError, emit_json, json_option

id_offset_option = click.option(
    "--id-offset",
    default=0,
    show_default=True,
    help="Added to user and item ids (keep several datasets apart in one lake).",
)


def _report(summary, as_json: bool) -> None:
    data = summary.as_dict()
    if as_json:
        emit_json(data)
        return
    click.echo(f"{data['source']}: {data['input']} -> landing, arrival hour {data['arrival_hour']}")
    for entity, n in sorted(data["records"].items()):
        click.echo(f"   {entity:8} {n:>10,} records")
    click.echo(f"   {len(data['files'])} files; next: fyp build")


@click.group(name="import")
def import_() -> None:
    """Import real interaction logs into the landing zone."""


@import_.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@id_offset_option
@json_option
def movielens(folder: str, id_offset: int, as_json: bool) -> None:
    """MovieLens 100K FOLDER (u.data, u.item, u.user): ratings become watches/likes/shares."""
    from fyplake.config import get_settings
    from fyplake.importers.movielens import import_movielens

    try:
        _report(import_movielens(get_settings(), folder, id_offset=id_offset), as_json)
    except (FileNotFoundError, ValueError) as exc:
        raise FypError(str(exc)) from None


@import_.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@id_offset_option
@json_option
def kuairec(file: str, id_offset: int, as_json: bool) -> None:
    """KuaiRec matrix CSV FILE (user_id, video_id, play_duration, video_duration, ...)."""
    from fyplake.config import get_settings
    from fyplake.importers.kuairec import import_kuairec

    try:
        _report(import_kuairec(get_settings(), file, id_offset=id_offset), as_json)
    except (FileNotFoundError, ValueError) as exc:
        raise FypError(str(exc)) from None


@import_.command(name="csv")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--rating-scale",
    default=5.0,
    show_default=True,
    help="Top of the weight/rating column's scale (ratings are normalised by it).",
)
@id_offset_option
@json_option
def csv_(file: str, rating_scale: float, id_offset: int, as_json: bool) -> None:
    """CSV FILE with user, item, timestamp and an optional weight or completion column."""
    from fyplake.config import get_settings
    from fyplake.importers.csv_log import import_csv

    try:
        _report(
            import_csv(get_settings(), file, rating_scale=rating_scale, id_offset=id_offset),
            as_json,
        )
    except (FileNotFoundError, ValueError) as exc:
        raise FypError(str(exc)) from None


# `fyp import`: the CLI registry looks commands up by name, and `import` is a Python keyword
globals()["import"] = import_
