"""`fyp evaluate [--k 10] [--holdout time|random] [--json]`: offline metrics vs baselines."""

from __future__ import annotations

import math

import click

from fyplake.cli._common import FypError, emit_json, json_option

#: Metrics shown as columns of the main table, in order.
COLUMNS = (
    "precision", "recall", "ndcg", "map", "coverage", "novelty", "gt_affinity", "gt_quality",
    "ndcg_cold", "ndcg_blend", "ndcg_warm",
)


@click.command()
@click.option("--k", "k", type=int, default=None, help="Cut-off k (default: FYP_REC_EVAL_K, 10).")
@click.option(
    "--holdout",
    type=click.Choice(["time", "random"]),
    default=None,
    help="Per-user hold-out: last events by time (default) or a seeded random split.",
)
@click.option("--date", "ds", help="Evaluate as of this date (default: the last date in the data).")
@json_option
def evaluate(k: int | None, holdout: str | None, ds: str | None, as_json: bool) -> None:
    """Hold out data, run the engine on the rest, print metrics beside the baselines."""
    from jobs._entry import parse_ds
    from jobs.evaluate import run
    from infra.spark import get_spark
    from fyplake.config import get_settings

    if k is not None and k < 1:
        raise FypError("--k must be at least 1")
    try:
        day = parse_ds(ds) if ds else None
    except ValueError as exc:
        raise FypError(str(exc)) from None
    settings = get_settings()
    spark = get_spark("fyp-evaluate", settings)
    try:
        result = run(spark, settings, day, k=k, holdout=holdout)
    except (FileNotFoundError, ValueError) as exc:
        raise FypError(str(exc)) from None
    if as_json:
        emit_json(result)
        return
    print_evaluation(result)


def _fmt(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.4f}" if abs(v) < 100 else f"{v:.0f}"


def print_evaluation(result: dict) -> None:
    """The metrics table (models x metrics at k), then the exploration replay lines."""
    k = result["k"]
    table: dict[str, dict[str, float]] = {}
    extra: dict[str, dict[str, float]] = {}
    for m in result["metrics"]:
        if m["model"].startswith("bandit_"):
            extra.setdefault(m["model"], {})[m["metric"]] = m["value"]
        else:
            table.setdefault(m["model"], {})[m["metric"]] = m["value"]
    cols = [c for c in COLUMNS if any(c in row for row in table.values())]
    heads = [f"{c}@{k}" if c in ("precision", "recall", "ndcg", "map") else c for c in cols]
    click.echo(
        f"evaluation {result['run_id']}  ds={result['ds']}  holdout={result['holdout']}  "
        f"users={result['counts'].get('test_users_with_relevant')}"
        + (f"  ({result['timings']['total_s']} s)" if result.get("timings", {}).get("total_s") else "")
    )
    width = max(len(m) for m in table) if table else 5
    click.echo("model".ljust(width) + "  " + "  ".join(h.rjust(12) for h in heads))
    for model, vals in table.items():
        click.echo(model.ljust(width) + "  " + "  ".join(_fmt(vals.get(c)).rjust(12) for c in cols))
    base = table.get("most_popular", {}).get("ndcg")
    ours = table.get("fyp", {}).get("ndcg")
    if base and ours is not None:
        click.echo(f"nDCG@{k} fyp / most_popular = {ours / base:.2f}x")
    if extra:
        click.echo("new-video exploration (replay on observed completion rates, per nightly round):")
        for model, vals in extra.items():
            click.echo(
                f"  {model:18} good found: {_fmt(vals.get('good_graduated_share'))} "
                f"in median {_fmt(vals.get('good_median_rounds_to_graduate'))} rounds; "
                f"bad faded {_fmt(vals.get('bad_faded_share'))}; "
                f"impressions on bad {_fmt(vals.get('impressions_on_bad_share'))}"
            )
