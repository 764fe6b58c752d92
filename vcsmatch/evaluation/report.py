"""An HTML report of an ``EvaluationResult``: tables and plots in one self-contained file.

Plots are drawn with matplotlib (Agg, no display needed) and embedded as base64 PNG, so the
file can be mailed or attached to a ticket. Only aggregates appear: no person's data.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from vcsmatch.evaluation.evaluate import EvaluationResult


def _png(fig) -> str:  # noqa: ANN001 - a matplotlib Figure
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _bars(result: EvaluationResult, metric: str, title: str) -> str | None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    names = list(result.models)
    values = [float(getattr(result.models[n], metric)) for n in names]
    if all(np.isnan(v) for v in values):
        return None
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.bar(
        names,
        np.nan_to_num(values),
        color=["#1f6f8b" if i == 0 else "#9bb7c4" for i in range(len(names))],
    )
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=20)
    for i, v in enumerate(values):
        if not np.isnan(v):
            ax.text(i, v, f"{v:.3f}" if v < 10 else f"{v:.0f}", ha="center", va="bottom")
    return _png(fig)


def _groups(result: EvaluationResult, dim: str) -> str | None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    groups = sorted({g for m in result.models.values() for g in m.ndcg_by_group.get(dim, {})})
    if not groups:
        return None
    fig, ax = plt.subplots(figsize=(8, 3.4))
    width = 0.8 / max(1, len(result.models))
    x = np.arange(len(groups))
    for i, m in enumerate(result.models.values()):
        vals = [m.ndcg_by_group.get(dim, {}).get(g, np.nan) for g in groups]
        ax.bar(x + i * width, np.nan_to_num(vals), width, label=m.name)
    first = next(iter(result.models.values()))
    sizes = first.group_sizes.get(dim, {})
    labels = [f"{g}\n(n={sizes.get(g, 0)})" for g in groups]
    ax.set_xticks(x + width * (len(result.models) - 1) / 2, labels)
    ax.set_title(f"NDCG@{result.k} by {dim} (people with a relevant service)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _png(fig)


def write_html_report(result: EvaluationResult, path: str | Path) -> Path:
    """Write the report to ``path`` and return it."""
    path = Path(path)
    esc = html.escape
    frame = result.to_frame()
    table = frame.to_html(float_format=lambda v: f"{v:.3f}", border=0, classes="scores")
    first = next(iter(result.models), None)
    ratios = ""
    if first is not None and len(result.models) > 1:
        items = "".join(
            f"<li>{esc(first)} / {esc(name)}: {result.ratio(first, name):.2f}×</li>"
            for name in result.models
            if name != first
        )
        ratios = f"<h2>Ratios of {esc(result.primary)}@{result.k}</h2><ul>{items}</ul>"
    plots = []
    for metric, title in (
        ("true_ndcg", f"NDCG@{result.k} against true relevance"),
        ("ndcg", f"NDCG@{result.k} against held-out ratings"),
        ("recall", f"Recall@{result.k} against held-out ratings"),
        ("rated_ndcg", f"NDCG@{result.k} ordering only the services each person rated"),
        ("coverage", "Catalogue coverage (distinct services suggested)"),
        ("new_share", "Share of suggestions that nobody had rated"),
    ):
        img = _bars(result, metric, title)
        if img:
            plots.append(img)
    for dim in ("sex", "age band"):
        img = _groups(result, dim)
        if img:
            plots.append(img)
    gaps = "".join(
        f"<li>{esc(m.name)}: {esc(g[0])} {esc(g[1])} vs {esc(g[2])}, gap {g[3]:.3f}</li>"
        for m in result.models.values()
        if (g := m.largest_gap) is not None
    )
    fair = (
        "<p>Read first: true_ndcg, the order against the world's known relevance.</p>"
        if result.primary == "true_ndcg"
        else "<p>Read first: rated_ndcg (the order of only the services each person rated) "
        "and snips. ndcg on logged ratings favours the old tool: practitioners could rate only "
        "what it showed, so every service it did not show counts as not relevant and its own "
        "picks score best.</p>"
    )
    if result.propensity_source:
        fair += (
            f"<p>snips@{result.k} weights each held-out rating by the inverse of the chance "
            f"the old tool showed it ({esc(result.propensity_source)}) and averages the gain "
            f"of the rated services each top {result.k} holds: what the suggestions would be "
            "worth, without rewarding a copy of the old tool's choices.</p>"
        )
    images = "".join(f'<img alt="plot" src="data:image/png;base64,{p}">' for p in plots)
    doc = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vcsmatch evaluation</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
table.scores{{border-collapse:collapse}} .scores td,.scores th{{padding:.2rem .6rem;
border-bottom:1px solid #ddd;text-align:right}} img{{max-width:100%;display:block;
margin:1rem 0}}</style></head><body>
<h1>vcsmatch evaluation</h1>
<p>Split: {esc(result.split or "given")}. {result.n_train_ratings} training ratings,
{result.n_test_ratings} test ratings, {result.n_test_people} test people,
{result.n_services} services. Top {result.k} per person. Gains: rating minus 3 for ratings of
4 and 5. Every model was fitted and scored in this run.</p>
<h2>Scores</h2>{fair}{table}{ratios}
<h2>Largest NDCG gap between groups</h2><ul>{gaps or "<li>not enough people per group</li>"}</ul>
<h2>Plots</h2>{images}
</body></html>
"""
    path.write_text(doc, encoding="utf-8")
    return path
