"""`fyp sql "SELECT ..."`: SQL over lake tables by name, with time travel and file output."""

from __future__ import annotations

import click

from cli._common import FypError, emit_json, json_option, print_table


@click.command()
@click.argument("query")
@click.option("--as-of", "as_of", help="Delta version (integer) or timestamp (ISO-8601, UTC).")
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Write .csv/.parquet/.jsonl.")
@click.option(
    "--engine",
    type=click.Choice(["auto", "duckdb", "spark"]),
    default="auto",
    show_default=True,
    help="auto: delta-rs + DuckDB for small tables, Spark SQL for large ones.",
)
@click.option("--max-rows", default=200, show_default=True, help="Rows shown in the text table.")
@json_option
def sql(
    query: str, as_of: str | None, out: str | None, engine: str, max_rows: int, as_json: bool
) -> None:
    """Run QUERY over the lake; tables are <layer>.<table>, e.g. gold.video_daily_stats."""
    from fyplake.config import get_settings
    from fyplake.lake_query import LakeQueryError, plain_rows, run_sql, write_result

    try:
        settings = get_settings()

        def spark():  # built only when the Spark engine answers
            from infra.spark import get_spark

            return get_spark("fyp-sql", settings)

        result, used = run_sql(settings, query, as_of=as_of, engine=engine, spark=spark)
        if out:
            path = write_result(result, out)
            if not as_json:
                click.echo(f"{result.num_rows} rows -> {path} ({used})")
                return
    except LakeQueryError as exc:
        raise FypError(str(exc)) from None
    rows = plain_rows(result)
    if as_json:
        emit_json(rows)
        return
    print_table(rows[:max_rows], columns=result.column_names)
    more = f", first {max_rows} shown" if len(rows) > max_rows else ""
    click.echo(f"({len(rows)} rows{more}; {used})", err=True)
