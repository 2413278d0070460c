"""`fyp evaluate [--k 10] [--holdout time|random|both] [--json]`: offline metrics vs baselines."""

from __future__ import annotations

import math

import click

from cli._common import FypError, emit_json, json_option
from fyplake.report import (
    CANDIDATES,
    MODEL_COLUMNS,
    RANKING_METRICS,
    best_baseline,
    candidate_sources,
    mean_se,
    split_metrics,
)


@click.command()
@click.option("--k", "k", type=int, default=None, help="Cut-off k (default: FYP_REC_EVAL_K, 10).")
@click.option(
    "--holdout",
    type=click.Choice(["time", "random", "both"]),
    default=None,
    help="Per-user hold-out: last events by time (default), a seeded random split, or both "
    "(two evaluation runs, one table each).",
)
@click.option("--date", "ds", help="Evaluate as of this date (default: the last date in the data).")
@json_option
def evaluate(k: int | None, holdout: str | None, ds: str | None, as_json: bool) -> None:
    """Hold out data, run the engine on the rest, print metrics beside the baselines."""
    from fyplake.config import get_settings
    from infra.spark import get_spark
    from jobs._entry import parse_ds
    from jobs.nightly.evaluate import run

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
    for i, one in enumerate(result.get("runs", [result])):
        if i:
            click.echo("")
        print_evaluation(one)
    if "runs" in result:
        click.echo(f"both hold-outs in {result['timings']['total_s']} s")


def _fmt(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.4f}" if abs(v) < 100 else f"{v:.0f}"


def _best_cells(ndcg_by_cell: dict[str, float], shown: int = 3) -> str:
    """The search's best few cells, not all of them: a search scores hundreds (`--json` has
    every one)."""
    if not ndcg_by_cell:
        return ""
    from jobs.recsys.blend import BLEND_KEYS

    best = sorted(ndcg_by_cell.items(), key=lambda kv: (-kv[1], kv[0]))[:shown]
    return f"; {len(ndcg_by_cell)} cells scored, the best ({'/'.join(BLEND_KEYS)}): " + ", ".join(
        f"{cell} {v}" for cell, v in best
    )


def print_evaluation(result: dict) -> None:
    """One hold-out: the table (models x metrics at k, "mean ± standard error" over the test
    users), the paired difference engine minus the best baseline, the engine's candidate recall
    per source, notes on the baselines, then the exploration replay."""
    k = result["k"]
    parts = split_metrics(result["metrics"])
    table = parts["models"]
    notes = result.get("notes") or {}
    click.echo(
        f"evaluation {result['run_id']}  ds={result['ds']}  holdout={result['holdout']}  "
        f"users={result['counts'].get('test_users_with_relevant')}"
        + (f"  ({total} s)" if (total := (result.get("timings") or {}).get("total_s")) else "")
    )
    stages = [f"{n[:-2]} {v}" for n, v in (result.get("timings") or {}).items() if n != "total_s"]
    if stages:
        click.echo("seconds: " + ", ".join(stages))
    shown = {m: v for m, v in table.items() if "ndcg" in v}
    cols = [c for c in MODEL_COLUMNS if any(c in row for row in shown.values())]
    heads = [f"{c}@{k}" for c in RANKING_METRICS] + cols
    cells = {
        m: [mean_se(v, c) for c in RANKING_METRICS] + [_fmt(v.get(c)) for c in cols]
        for m, v in shown.items()
    }
    widths = [max([len(h)] + [len(c[i]) for c in cells.values()]) for i, h in enumerate(heads)]
    width = max([len(m) for m in shown] + [5])

    def line(name, row):
        return (
            name.ljust(width)
            + "  "
            + "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True))
        )

    click.echo(line("model", heads))
    for model, row in cells.items():
        click.echo(line(model, row))
    best = best_baseline(shown)
    diff = parts["paired"].get(best) if best else None
    if diff:
        users = f" over the same {diff['users']:.0f} users" if diff.get("users") else ""
        click.echo(
            f"paired nDCG@{k}, fyp - {best} (best baseline) = "
            f"{mean_se(diff, 'ndcg_diff', sign=True)}{users}"
        )
        rest = [
            f"{m} {mean_se(v, 'ndcg_diff', sign=True)}"
            for m, v in parts["paired"].items()
            if m != best
        ]
        if rest:
            click.echo("  fyp - " + "; ".join(rest))
    for model, vals in table.items():
        if "skipped_items" in vals:
            click.echo(
                f"{model}: skipped, {vals['skipped_items']:.0f} videos with a training positive "
                "is above its driver-side catalogue limit"
            )
        elif "skipped_pairs" in vals:
            click.echo(
                f"{model}: skipped, {vals['skipped_pairs']:.0f} training pairs is above its "
                "driver-side limit"
            )
        elif model == "ease" and "lambda" in vals:
            grid = (notes.get("ease") or {}).get("validation_ndcg")
            click.echo(
                f"ease: lambda {vals['lambda']:.4g} chosen on a validation slice of the training "
                "split" + (f" (nDCG@{k} by lambda: {grid})" if grid else "")
            )
    if blend := notes.get("blend"):
        w = blend.get("blend_weights") or {}
        how = blend.get("blend_source")
        extra = ""
        if how == "validated":
            extra = (
                f" on a {blend.get('blend_holdout')} slice of {blend.get('blend_users')} users' "
                f"training impressions: nDCG@10 {blend.get('blend_ndcg_best')} vs "
                f"{blend.get('blend_ndcg_prior')} for the prior"
                + _best_cells(blend.get("blend_ndcg") or {})
            )
        elif blend.get("blend_note"):
            extra = f" ({blend['blend_note']})"
        click.echo(
            f"hybrid blend: w_popularity {w.get('w_popularity')}, w_cowatch "
            f"{w.get('w_cowatch')} ({how}){extra}"
        )
        if "cold_prior" in blend:
            grid = blend.get("cold_prior_ndcg")
            click.echo(
                f"cold-start prior strength: {blend['cold_prior']:g} "
                f"({blend.get('cold_prior_source')}"
                + (f"; nDCG@10 of the pools by prior: {grid}" if grid else "")
                + ")"
            )
    cand = parts["candidates"].get(CANDIDATES)
    if cand:
        click.echo(
            "candidate recall (share of each user's held-out positives among the engine's "
            "candidates, before ranking; marginal: found by no other source):"
        )
        click.echo(f"  {'all':12} {mean_se(cand, 'recall_all')}")
        for s in candidate_sources(cand):
            flag = cand.get(f"adds_nothing_{s}") == 1.0
            click.echo(
                f"  {s:12} {mean_se(cand, f'recall_{s}')}   "
                f"marginal {mean_se(cand, f'marginal_{s}')}"
                + ("   adds nothing measurable" if flag else "")
            )
    if parts["bandit"]:
        click.echo(
            "new-video exploration (replay on observed completion rates, per nightly round):"
        )
        for model, vals in parts["bandit"].items():
            click.echo(
                f"  {model:18} good found: {_fmt(vals.get('good_graduated_share'))} "
                f"in median {_fmt(vals.get('good_median_rounds_to_graduate'))} rounds; "
                f"bad faded {_fmt(vals.get('bad_faded_share'))}; "
                f"impressions on bad {_fmt(vals.get('impressions_on_bad_share'))}"
            )
