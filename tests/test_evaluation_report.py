"""How an evaluation run reads back from gold.evaluation rows: the console table and the report."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from click.testing import CliRunner

from fyplake import report

ROWS = [
    ("fyp", "users", 10, 40.0),
    ("fyp", "ndcg", 10, 0.2),
    ("fyp", "ndcg_se", 10, 0.02),
    ("fyp", "precision", 10, 0.05),
    ("fyp", "coverage", 10, 0.3),
    ("ease", "ndcg", 10, 0.25),
    ("ease", "ndcg_se", 10, 0.03),
    ("ease", "lambda", 10, 12.5),
    ("most_popular", "ndcg", 10, 0.1),
    ("most_popular", "ndcg_se", 10, 0.01),
    ("fyp_minus_ease", "users", 10, 40.0),
    ("fyp_minus_ease", "ndcg_diff", 10, -0.05),
    ("fyp_minus_ease", "ndcg_diff_se", 10, 0.01),
    ("fyp_minus_most_popular", "ndcg_diff", 10, 0.1),
    ("fyp_minus_most_popular", "ndcg_diff_se", 10, 0.02),
    ("candidates", "recall_all", 0, 0.6),
    ("candidates", "recall_all_se", 0, 0.05),
    ("candidates", "recall_sound", 0, 0.01),
    ("candidates", "marginal_sound", 0, 0.0),
    ("candidates", "marginal_sound_se", 0, 0.0),
    ("candidates", "adds_nothing_sound", 0, 1.0),
    ("candidates", "recall_hashtag", 0, 0.5),
    ("candidates", "marginal_hashtag", 0, 0.3),
    ("candidates", "marginal_hashtag_se", 0, 0.04),
    ("candidates", "adds_nothing_hashtag", 0, 0.0),
]


def _frame(holdout: str, run_id: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            (run_id, dt.date(2026, 11, 3), m, metric, k, v, holdout, dt.datetime(2026, 11, 4))
            for m, metric, k, v in ROWS
        ],
        columns=["run_id", "ds", "model", "metric", "k", "value", "holdout", "created_at"],
    )


def test_report_shows_mean_and_se_the_paired_difference_and_candidate_recall():
    hist = pd.concat([_frame("time", "r1"), _frame("random", "r2")])
    runs = report.latest_evaluation_runs(hist)
    assert sorted(runs) == ["random", "time"]
    page = report.evaluation_html("time", runs["time"])
    assert "0.2000 ± 0.0200" in page  # fyp nDCG
    assert "engine minus the best baseline (ease)" in page and "-0.0500 ± 0.0100" in page
    assert "adds nothing measurable" in page and page.count("adds nothing measurable") == 1
    assert "fyp_minus_ease" not in page  # paired rows are not models of the table


def test_console_table_of_one_run():
    from cli.evaluate_cmd import print_evaluation

    out = CliRunner().invoke(_echo(print_evaluation, _result())).output
    lines = out.splitlines()
    assert lines[1].split()[:3] == ["model", "ndcg@10", "precision@10"]
    assert any(line.startswith("ease ") and "0.2500 ± 0.0300" in line for line in lines)
    paired = "paired nDCG@10, fyp - ease (best baseline) = -0.0500 ± 0.0100 over the same 40 users"
    assert paired in lines
    assert "  fyp - most_popular +0.1000 ± 0.0200" in lines
    sound = next(line for line in lines if line.strip().startswith("sound"))
    assert sound.endswith("adds nothing measurable")
    hashtag = next(line for line in lines if line.strip().startswith("hashtag"))
    assert "adds nothing" not in hashtag


def test_console_shows_the_blend_searchs_best_cells_not_every_one():
    from cli.evaluate_cmd import print_evaluation

    cells = {
        f"{a}/{b}/0.9/1/2/0.8": round(0.3 + a / 100 - b / 1000, 5)
        for a in range(20)
        for b in range(30)
    }
    blend = {
        "blend_weights": {"w_popularity": 19.0, "w_cowatch": 0.0},
        "blend_source": "validated",
        "blend_holdout": "time",
        "blend_users": 40,
        "blend_ndcg": cells,
        "blend_ndcg_best": 0.49,
        "blend_ndcg_prior": 0.3,
    }
    out = CliRunner().invoke(_echo(print_evaluation, _result(notes={"blend": blend}))).output
    line = next(ln for ln in out.splitlines() if ln.startswith("hybrid blend:"))
    assert "600 cells scored" in line and "w_popularity/w_cowatch/" in line
    assert "19/0/0.9/1/2/0.8 0.49, 19/1/0.9/1/2/0.8 0.489, 19/2/0.9/1/2/0.8 0.488" in line
    assert "0/0/0.9/1/2/0.8" not in line and len(line) < 400


def _result(**extra) -> dict:  # noqa: ANN003 - one run's result, as `fyp evaluate` gets it
    return {
        "k": 10,
        "run_id": "r1",
        "ds": "2026-11-03",
        "holdout": "time",
        "counts": {"test_users_with_relevant": 40},
        "metrics": [{"model": m, "metric": metric, "k": k, "value": v} for m, metric, k, v in ROWS],
        **extra,
    }


def _echo(fn, arg):  # noqa: ANN001, ANN202 - a click command that calls fn(arg)
    import click

    @click.command()
    def cmd() -> None:
        fn(arg)

    return cmd
