"""`fyp demo`: the README's main job, end to end on the embedded default."""

from __future__ import annotations

import time

import click


@click.command()
@click.option("--users", default=2000, show_default=True, help="Users in the generated world.")
@click.option("--videos", default=3000, show_default=True, help="Videos in the generated world.")
@click.option("--days", default=3, show_default=True, help="Simulated days of history.")
@click.option("--seed", default=7, show_default=True, help="Random seed (deterministic world).")
def demo(users: int, videos: int, days: int, seed: int) -> None:
    """Start the stack, generate a world, land it in the lake and show what landed."""
    from fyplake.config import get_settings
    from fyplake.landing_stats import landing_counts
    from fyplake.synth import generate_world
    from infra.migrations import migrate
    from infra.stack import Stack

    settings = get_settings()
    t0 = time.monotonic()
    click.echo("== 1/4 starting the embedded stack")
    endpoints = Stack(settings).up()
    migrate(endpoints.postgres)
    for name, value in endpoints.as_dict().items():
        click.echo(f"   {name:13} {value}")

    click.echo(f"== 2/4 generating a world: {users} users, {videos} videos, {days} days")
    summary = generate_world(users=users, videos=videos, days=days, seed=seed)
    click.echo(f"   {summary}")

    click.echo("== 3/4 landing zone contents")
    for entity, (files, records) in landing_counts(settings).items():
        click.echo(f"   {entity:8} {records:>10,} records in {files:>5,} files")

    click.echo("== 4/4 the lake: ingest -> bronze -> silver -> gold, each gated (issue 3)")
    _lake(settings)
    click.echo(f"done in {time.monotonic() - t0:.0f} s")


def _lake(settings) -> None:
    """Ingest every landed arrival day through the gated lake pipeline; show the tables."""
    from fyplake.lake_query import list_tables
    from infra.spark import get_spark
    from jobs.lake.pipeline import landing_dates, run_lake_pipeline

    spark = get_spark("fyp-demo", settings)
    for day in landing_dates(settings):
        out = run_lake_pipeline(spark, settings, day)
        ing = out["ingest"]
        click.echo(
            f"   {day}: {ing['lines']:,} landed = {ing['accepted']:,} accepted "
            f"+ {ing['quarantined']:,} quarantined; gates passed"
        )
    for row in list_tables(settings):
        if row["version"] is not None:
            click.echo(f"   {row['table']:28} {row['rows']:>10,} rows  v{row['version']}")
