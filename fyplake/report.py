"""The nightly run report: one self-contained HTML page per run (charts inlined as PNG).

Sections: stage timings, lake table sizes, quality-gate results, evaluation metrics against the
baselines over past runs, and the published feeds' popularity skew and catalog coverage.
Everything is read without Spark (job result files of the run, delta-rs for the tables), so the
report task is cheap and can run on any Airflow worker.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
import logging
from pathlib import Path
from typing import Any

from fyplake import storage
from fyplake.config import Settings, get_settings

logger = logging.getLogger(__name__)


def latest_report(settings: Settings | None = None) -> str | Path | None:
    """The latest nightly report: a local path, or its URL when the lake is in an object
    store (``fyplake.run_files``)."""
    from fyplake.run_files import reports_dir

    settings = settings or get_settings()
    latest = storage.join(reports_dir(settings), "latest.html")
    return latest if storage.exists(latest, settings) else None


# --- inputs -----------------------------------------------------------------------------------


def _delta_table(settings: Settings, full_name: str):  # noqa: ANN202 - deltalake.DeltaTable
    from fyplake.catalog import table
    from fyplake.lake_query import open_delta

    try:
        return open_delta(settings, table(full_name))
    except Exception:  # noqa: BLE001 - unreadable table: the report shows what exists
        logger.warning("cannot read %s", full_name, exc_info=True)
        return None


def table_sizes(settings: Settings) -> list[dict[str, Any]]:
    from fyplake.catalog import TABLES

    rows = []
    for name in sorted(TABLES):
        dt_ = _delta_table(settings, name)
        if dt_ is None:
            continue
        import pyarrow as pa

        # deltalake 1.x returns an arro3 table; pa.table() takes it through the Arrow C interface
        actions = pa.table(dt_.get_add_actions(flatten=True)).to_pydict()
        rows.append(
            {
                "table": name,
                "version": dt_.version(),
                "files": len(actions.get("path", [])),
                "rows": int(sum(v or 0 for v in actions.get("num_records", []))),
                "bytes": int(sum(actions.get("size_bytes", []))),
            }
        )
    return rows


def evaluation_history(settings: Settings):  # noqa: ANN201 - pandas.DataFrame | None
    dt_ = _delta_table(settings, "gold.evaluation")
    if dt_ is None:
        return None
    return dt_.to_pandas()


def last_ranker(settings: Settings) -> dict[str, Any] | None:
    """What ranked the newest feeds: the rank job's ``ranker_used``, ``model_id`` and
    ``ranker_note`` from its latest gold.runs row (None before any rank run)."""
    dt_ = _delta_table(settings, "gold.runs")
    if dt_ is None:
        return None
    runs = dt_.to_pandas()
    runs = runs[runs["job"] == "rank"]
    if not len(runs):
        return None
    params = json.loads(runs.sort_values("finished_at")["params"].iloc[-1] or "{}")
    keys = ("ranker_used", "model_id", "ranker_note")
    return {"ds": str(runs.sort_values("finished_at")["ds"].iloc[-1])[:10]} | {
        k: params.get(k) for k in keys
    }


#: Per-user ranking metrics of gold.evaluation, shown as "mean ± standard error".
RANKING_METRICS = ("ndcg", "precision", "recall", "map")
#: Further per-model columns of the evaluation table.
MODEL_COLUMNS = (
    "coverage",
    "novelty",
    "gt_affinity",
    "gt_quality",
    "ndcg_cold",
    "ndcg_blend",
    "ndcg_warm",
)
ENGINE = "fyp"
PAIRED_PREFIX = "fyp_minus_"
CANDIDATES = "candidates"


def is_model(name: str) -> bool:
    """A recommender's row of gold.evaluation (not a paired difference, candidate recall or
    bandit replay)."""
    return not (name.startswith(PAIRED_PREFIX) or name.startswith("bandit_") or name == CANDIDATES)


def split_metrics(metrics: list[dict]) -> dict[str, dict[str, dict[str, float]]]:
    """gold.evaluation rows of one run (model, metric, value) -> {"models", "paired",
    "candidates", "bandit"}: model -> metric -> value ("paired" keyed by the baseline)."""
    out: dict[str, dict[str, dict[str, float]]] = {
        "models": {},
        "paired": {},
        "candidates": {},
        "bandit": {},
    }
    for m in metrics:
        model = m["model"]
        if model.startswith("bandit_"):
            part = "bandit"
        elif model.startswith(PAIRED_PREFIX):
            part, model = "paired", model[len(PAIRED_PREFIX) :]
        elif model == CANDIDATES:
            part = "candidates"
        else:
            part = "models"
        out[part].setdefault(model, {})[m["metric"]] = m["value"]
    return out


def best_baseline(models: dict[str, dict[str, float]]) -> str | None:
    """The model other than the engine with the highest mean nDCG."""
    others = [m for m, v in models.items() if m != ENGINE and v.get("ndcg") is not None]
    return max(others, key=lambda m: (models[m]["ndcg"], m), default=None)


def mean_se(vals: dict[str, float], name: str, sign: bool = False) -> str:
    """ "mean ± se" of metric ``name`` (the mean alone when there is no ``<name>_se``)."""
    v = vals.get(name)
    if v is None or v != v:  # absent or NaN
        return "-"
    mean = f"{v:+.4f}" if sign else f"{v:.4f}"
    se = vals.get(f"{name}_se")
    return mean if se is None or se != se else f"{mean} ± {se:.4f}"


def candidate_sources(cand: dict[str, float]) -> list[str]:
    """The sources of a run's candidate-recall metrics, in stored order."""
    return [
        m[len("marginal_") :] for m in cand if m.startswith("marginal_") and not m.endswith("_se")
    ]


def latest_evaluation_runs(hist) -> dict[str, Any]:  # noqa: ANN001 - pandas.DataFrame
    """holdout -> the rows of its latest evaluation run (by created_at) on the latest ds."""
    latest = hist[hist["ds"] == hist["ds"].max()]
    out = {}
    for holdout, grp in latest.groupby(latest["holdout"].fillna("time")):
        run_id = grp.sort_values("created_at")["run_id"].iloc[-1]
        out[holdout] = grp[grp["run_id"] == run_id]
    return out


def evaluation_html(holdout: str, run) -> str:  # noqa: ANN001 - pandas.DataFrame
    """One run's tables: models x metrics (mean ± SE), the paired difference, candidate recall."""
    parts = split_metrics(run[["model", "metric", "value"]].to_dict("records"))
    ks = run.loc[run["metric"] == "ndcg", "k"]
    k = int(ks.iloc[0]) if len(ks) else None
    models = {m: v for m, v in parts["models"].items() if "ndcg" in v}
    users = models.get(ENGINE, {}).get("users")
    run_id = html.escape(str(run["run_id"].iloc[0]))
    out = [
        f"<h3>{html.escape(str(holdout))} hold-out, k = {k}, run {run_id}"
        + (f", {users:.0f} test users" if users else "")
        + "</h3>"
    ]
    rows = []
    for model, vals in models.items():
        row: dict[str, Any] = {"model": model}
        row.update({f"{c}@{k}": mean_se(vals, c) for c in RANKING_METRICS})
        row.update({c: vals.get(c) for c in MODEL_COLUMNS if c in vals})
        rows.append(row)
    out.append(_table(rows))
    best = best_baseline(models)
    diff = parts["paired"].get(best) if best else None
    if diff:
        out.append(
            f"<p>paired nDCG@{k}, engine minus the best baseline ({html.escape(best)}), per user "
            f"over the same users: <b>{html.escape(mean_se(diff, 'ndcg_diff', sign=True))}</b></p>"
        )
    cand = parts["candidates"].get(CANDIDATES)
    if cand:
        sources = candidate_sources(cand)
        rec = [{"source": "all", "recall": mean_se(cand, "recall_all"), "marginal": "", "note": ""}]
        rec += [
            {
                "source": s,
                "recall": mean_se(cand, f"recall_{s}"),
                "marginal": mean_se(cand, f"marginal_{s}"),
                "note": "adds nothing measurable" if cand.get(f"adds_nothing_{s}") == 1.0 else "",
            }
            for s in sources
        ]
        out.append(
            "<p>candidate recall (share of held-out positives among the engine's candidates, "
            "before ranking; marginal: found by no other source)</p>" + _table(rec)
        )
    return "".join(out)


def feed_distribution(settings: Settings, ds: dt.date):  # noqa: ANN201
    """video_id -> impressions in the feeds of ``ds`` (only the video_id column is read)."""
    import pyarrow.compute as pc

    dt_ = _delta_table(settings, "gold.feeds")
    if dt_ is None:
        return None
    data = dt_.to_pyarrow_table(partitions=[("ds", "=", ds.isoformat())], columns=["video_id"])
    if data.num_rows == 0:
        return None
    counts = pc.value_counts(data.column("video_id")).to_pandas()
    return counts.map(lambda s: s["counts"]).sort_values(ascending=False).reset_index(drop=True)


def ready_catalog_size(settings: Settings) -> int | None:
    dt_ = _delta_table(settings, "silver.videos")
    if dt_ is None:
        return None
    import pyarrow.compute as pc

    status = dt_.to_pyarrow_table(columns=["status"]).column("status")
    return int(pc.sum(pc.equal(status, "ready")).as_py() or 0)


# --- rendering --------------------------------------------------------------------------------


def _png(fig) -> str:  # noqa: ANN001
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return f'<img src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p><em>none</em></p>"
    cols = list(rows[0])
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in cols) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def gini(counts) -> float:  # noqa: ANN001
    """Gini coefficient of impressions per video (0 = even, 1 = one video gets everything)."""
    import numpy as np

    x = np.sort(np.asarray(counts, dtype=float))
    if x.size == 0 or x.sum() == 0:
        return 0.0
    n = x.size
    cum = np.cumsum(x)
    return float((n + 1 - 2 * (cum / cum[-1]).sum()) / n)


def build_report(settings: Settings, ds: dt.date, run_dir: str | Path, title: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parts = [f"<h1>{html.escape(title)}</h1>", f"<p>data interval date: <b>{ds}</b></p>"]

    # 1. stage timings
    from fyplake.run_files import read_results

    results = read_results(run_dir, settings)
    timings = [(k, float(v.get("seconds", 0))) for k, v in results.items() if "seconds" in v]
    parts.append("<h2>Stage timings</h2>")
    if timings:
        fig, ax = plt.subplots(figsize=(7, 0.35 * len(timings) + 1))
        ax.barh([t[0] for t in timings][::-1], [t[1] for t in timings][::-1], color="#4477aa")
        ax.set_xlabel("seconds (inside the Spark application)")
        parts.append(_png(fig))
    parts.append(_table([{"stage": k, "seconds": s} for k, s in timings]))

    # 2. table sizes
    sizes = table_sizes(settings)
    parts.append("<h2>Lake tables</h2>" + _table(sizes))

    # 3. quality gates
    gates = [
        {
            "stage": k,
            "gate": v.get("gate"),
            "success": v.get("success"),
            "message": v.get("message"),
        }
        for k, v in results.items()
        if "gate" in v
    ]
    parts.append("<h2>Quality gates</h2>" + _table(gates))

    # 4. evaluation over past runs
    parts.append("<h2>Offline evaluation (engine vs baselines, past runs)</h2>")
    hist = evaluation_history(settings)
    if hist is not None and len(hist):
        ndcg = hist[(hist["metric"] == "ndcg") & hist["model"].map(is_model)]
        holdouts = sorted(ndcg["holdout"].dropna().unique()) if len(ndcg) else []
        if holdouts:
            fig, axes = plt.subplots(
                1, len(holdouts), figsize=(7 * len(holdouts), 3.2), squeeze=False
            )
            for ax, holdout in zip(axes[0], holdouts, strict=True):
                for model, grp in ndcg[ndcg["holdout"] == holdout].groupby("model"):
                    grp = grp.sort_values("ds")
                    ax.plot(grp["ds"].astype(str), grp["value"], marker="o", label=model)
                ax.set_title(f"{holdout} hold-out", fontsize=9)
                ax.set_ylabel("nDCG@k")
                ax.legend(fontsize=8)
            parts.append(_png(fig))
        for holdout, run in latest_evaluation_runs(hist).items():
            parts.append(evaluation_html(holdout, run))
    else:
        parts.append("<p><em>no evaluation yet</em></p>")

    # 5. popularity skew and coverage of the published feeds
    parts.append("<h2>Feeds: popularity skew and catalog coverage</h2>")
    dist = feed_distribution(settings, ds)
    if dist is not None:
        catalog_size = ready_catalog_size(settings) or 0
        share_top = float(dist.head(max(1, len(dist) // 10)).sum() / dist.sum())
        summary = {
            "videos in feeds": len(dist),
            "ready catalog": catalog_size,
            "catalog coverage": (len(dist) / catalog_size) if catalog_size else None,
            "gini of impressions": gini(dist.values),
            "share of top 10% videos": share_top,
        }
        fig, ax = plt.subplots(figsize=(7, 3))
        ax.plot(range(1, len(dist) + 1), dist.values, color="#aa3377")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("video rank by feed impressions")
        ax.set_ylabel("feed slots")
        parts.append(_png(fig))
        parts.append(_table([summary]))
    else:
        parts.append("<p><em>no feeds for this date</em></p>")

    style = (
        "body{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;"
        "padding:3px 8px;font-size:13px;text-align:left}h2{margin-top:1.6em}"
    )
    generated = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>{''.join(parts)}"
        f"<p><small>generated {generated}</small></p></body></html>"
    )


def write_report(
    settings: Settings, ds: dt.date, run_dir: str | Path, run_id: str, title: str | None = None
) -> str | Path:
    from fyplake.run_files import report_path, reports_dir

    page = build_report(settings, ds, run_dir, title or f"fyp_nightly {ds} ({run_id})").encode()
    path = report_path(settings, ds.isoformat(), run_id)
    storage.write_atomic(path, page, settings)
    storage.write_atomic(storage.join(reports_dir(settings), "latest.html"), page, settings)
    return path


def write_run_report(context: dict[str, Any], ds: dt.date) -> str:
    """The nightly DAG's last task: write the report of ``ds``'s run, return its path (XCom)."""
    settings = get_settings()
    run_id = str(context["run_id"])
    dag_id = context["dag"].dag_id if context.get("dag") else "fyp_nightly"
    from fyplake.run_files import run_dir

    path = write_report(settings, ds, run_dir(settings, dag_id, run_id), run_id)
    logger.info("nightly report: %s", path.as_uri() if isinstance(path, Path) else path)
    return str(path)
