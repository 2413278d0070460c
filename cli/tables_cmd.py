"""`fyp tables`: the lake's tables with rows, Delta version and size (read from the Delta log)."""

from __future__ import annotations

import click

from cli._common import emit_json, json_option, print_table


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(n)


@click.command()
@click.option("--schema", is_flag=True, help="Print the table reference (Markdown) instead.")
@json_option
def tables(schema: bool, as_json: bool) -> None:
    """List lake tables (<layer>.<table>) with row counts, versions and sizes."""
    from fyplake import catalog
    from fyplake.config import get_settings
    from fyplake.lake_query import list_tables

    if schema:
        click.echo("| table | partitioned by | key | columns | contents |")
        click.echo("|---|---|---|---|---|")
        for name, spec in sorted(catalog.TABLES.items()):
            click.echo(
                f"| `{name}` | {', '.join(spec.partition_by)} | {', '.join(spec.key)} | "
                f"{spec.schema} | {spec.description} |"
            )
        return
    rows = list_tables(get_settings())
    if as_json:
        emit_json(rows)
        return
    print_table(
        [
            {
                "table": r["table"],
                "rows": r["rows"] if r["version"] is not None else "-",
                "version": r["version"] if r["version"] is not None else "-",
                "files": r["files"],
                "size": _human(r["size_bytes"]),
                "partitioned by": r["partitioned_by"],
            }
            for r in rows
        ]
    )
