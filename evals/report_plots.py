"""The report's plots, drawn from the computed numbers and returned as PNG data URIs.

Figures are built on matplotlib's object API with an explicit Agg canvas, never through pyplot,
so rendering needs no display, keeps no global figure state and is safe in any process. Each
plot draws only numbers that report.json also holds, so picture and table cannot disagree.
"""

from __future__ import annotations

import base64
import io
from itertools import pairwise
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

DPI = 100
STATE_COLORS = {
    "done": "#4c9a6a",
    "rejected": "#d08a3b",
    "failed": "#c0504d",
    "unfinished": "#9a9a9a",
}


def png_data_uri(fig: Figure) -> str:
    """The figure as a self-contained `data:image/png;base64,...` URI."""
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def tier_plot(questions: dict[str, Any]) -> str | None:
    """Questions per tier, stacked by how they ended."""
    rows = questions["by_tier_and_state"]
    if not questions["total"]:
        return None
    fig = Figure(figsize=(6, 3.2), layout="constrained")
    ax = fig.add_subplot()
    tiers = list(rows)
    bottom = [0] * len(tiers)
    for state, color in STATE_COLORS.items():
        heights = [rows[t][state] for t in tiers]
        if any(heights):
            ax.bar(tiers, heights, bottom=bottom, color=color, label=state)
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_ylabel("questions")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("Questions per tier, by final state")
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))
    return png_data_uri(fig)


def _rate(cell: dict[str, Any] | None) -> float:
    """A cell's rate, NaN (drawn blank) when it has no judged path."""
    return float("nan") if not cell or cell["rate"] is None else cell["rate"]


def pass_rate_plot(pass_rates: dict[str, Any]) -> str | None:
    """Pass rate by generator model x temperature, as an annotated heatmap."""
    grid = pass_rates["by_model_temperature"]
    models = list(grid)
    temps = sorted({t for row in grid.values() for t in row}, key=float)
    if not models or not temps:
        return None
    matrix = [[_rate(grid[m].get(t)) for t in temps] for m in models]
    fig = Figure(figsize=(1.6 + 1.2 * len(temps), 1.2 + 0.6 * len(models)), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(matrix, vmin=0, vmax=1, cmap="RdYlGn", aspect="auto")
    ax.set_xticks(range(len(temps)), labels=[f"T={t}" for t in temps])
    ax.set_yticks(range(len(models)), labels=models)
    for i, m in enumerate(models):
        for j, t in enumerate(temps):
            cell = grid[m].get(t)
            if cell and cell["rate"] is not None:
                text = f"{cell['rate']:.0%}\n{cell['correct']}/{cell['paths']}"
                ax.text(j, i, text, ha="center", va="center", fontsize=8)
    ax.set_title("Pass rate (judged Correct) by model and temperature")
    fig.colorbar(image, ax=ax, fraction=0.05)
    return png_data_uri(fig)


def histogram_plot(distribution: dict[str, Any], title: str, unit: str) -> str | None:
    """A precomputed histogram (edges and counts) as bars."""
    histogram = distribution.get("histogram") or {}
    edges, counts = histogram.get("edges") or [], histogram.get("counts") or []
    if not counts:
        return None
    fig = Figure(figsize=(6, 2.8), layout="constrained")
    ax = fig.add_subplot()
    widths = [b - a for a, b in pairwise(edges)]
    ax.bar(edges[:-1], counts, width=widths, align="edge", color="#4f7fb8", edgecolor="white")
    ax.set_xlabel(unit)
    ax.set_ylabel("examples")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title)
    return png_data_uri(fig)


def tokens_plot(usage: dict[str, Any]) -> str | None:
    """Tokens per example by tier (prompt + completion)."""
    rows = {t: u for t, u in usage["by_tier"].items() if u["tokens_per_example"] is not None}
    if not rows:
        return None
    fig = Figure(figsize=(6, 2.8), layout="constrained")
    ax = fig.add_subplot()
    ax.bar(list(rows), [u["tokens_per_example"] for u in rows.values()], color="#7a68a6")
    ax.set_ylabel("tokens per example")
    ax.set_title("Tokens spent per exported example, by tier")
    return png_data_uri(fig)


def all_plots(report: dict[str, Any]) -> dict[str, str]:
    """Every plot the report has data for, by name."""
    lengths = report["lengths"]
    plots = {
        "tiers": tier_plot(report["questions"]),
        "pass_rates": pass_rate_plot(report["pass_rates"]),
        "cot_words": histogram_plot(lengths["cot_words"], "CoT length", "words"),
        "summary_words": histogram_plot(lengths["summary_words"], "Summary length", "words"),
        "tokens": tokens_plot(report["usage"]),
    }
    return {name: uri for name, uri in plots.items() if uri is not None}
