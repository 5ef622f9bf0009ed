"""The run report as one self-contained HTML page: inline CSS, plots as PNG data URIs.

Every number is read from the computed report (never recomputed here) and its cell carries
`data-json` (the value's JSON pointer into report.json) and `data-value` (the value as JSON), so
the page can be checked against the JSON by a program. All text is escaped: reasons, notes, ids
and model names come from models and users.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from html import escape
from typing import Any

Formatter = Callable[[Any], str]
LABELS = {
    "verdict_correct": "verifier said Correct",
    "answer_ok": "answer matches gold",
    "tokens_per_example": "tokens / example",
    "cost_per_example": "cost / example",
    "pass_per_round": "passes / round",
    "rounds_per_pass": "rounds / pass",
    "cot_words_mean": "mean CoT words",
    "p50": "median",
}
CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ddd;padding:3px 8px}
th{background:#f4f4f4;text-align:left}td[data-value]{text-align:right;font-variant-numeric:tabular-nums}
code{font-size:12px}img{max-width:100%;display:block;margin:.6em 0}.note{color:#666}
"""


def pointer(parts: Sequence[Any]) -> str:
    """JSON pointer (RFC 6901) of a value in report.json."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


MISSING = object()


def lookup(report: dict[str, Any], parts: Sequence[Any], default: Any = None) -> Any:
    """The value at `parts`, or `default` when the path is absent."""
    value: Any = report
    for part in parts:
        found = isinstance(value, dict) and part in value
        found = found or (isinstance(value, list) and isinstance(part, int) and part < len(value))
        if not found:
            return default
        value = value[part]
    return value


def fmt_number(value: Any) -> str:
    """Integers whole, others with two decimals (one from 100 up), None as a dash."""
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.2f}"


def fmt_rate(value: Any) -> str:
    """A share as a percentage."""
    return "–" if value is None else f"{value:.1%}"


def fmt_cost(value: Any) -> str:
    """USD, or "unpriced" when no call had a price."""
    return "unpriced" if value is None else f"${value:.4f}"


def formatter_for(name: str) -> Formatter:
    """How a named value is shown: rates as %, costs in USD, the rest as numbers."""
    if name in ("rate", "agreement", "success_rate", "pass_per_round"):
        return fmt_rate
    if name in ("cost", "cost_per_example"):
        return fmt_cost
    return fmt_number


def cell(report: dict[str, Any], *parts: Any) -> str:
    """A table cell showing one value of the report, tagged with its pointer and raw value."""
    value = lookup(report, parts, MISSING)
    if value is MISSING:
        return "<td>–</td>"
    text = formatter_for(str(parts[-1]))(value)
    return (
        f'<td data-json="{escape(pointer(parts))}" '
        f'data-value="{escape(json.dumps(value))}">{escape(text)}</td>'
    )


def header(*names: Any) -> str:
    """A header row; report keys are shown with their labels."""
    labels = (LABELS.get(str(n), str(n).replace("_", " ")) for n in names)
    return "<tr>" + "".join(f"<th>{escape(label)}</th>" for label in labels) + "</tr>"


def grid(
    report: dict[str, Any], base: Sequence[Any], rows: Sequence[Any], columns: Sequence[str]
) -> str:
    """A table of report[base][row][column], one row per key."""
    body = [header("", *columns)]
    for row in rows:
        cells = "".join(cell(report, *base, row, c) for c in columns)
        body.append(f"<tr><th>{escape(str(row))}</th>{cells}</tr>")
    return "<table>" + "".join(body) + "</table>"


def image(plots: dict[str, str], name: str, alt: str) -> str:
    """An embedded plot, or nothing when there was no data to draw."""
    uri = plots.get(name)
    return f'<img alt="{escape(alt)}" src="{escape(uri)}">' if uri else ""


def reason_table(report: dict[str, Any], base: Sequence[Any], what: str) -> str:
    """Grouped reasons at `base`: leading phrase, count, one full example, some question ids."""
    groups = lookup(report, base) or []
    if not groups:
        return f'<p class="note">No {escape(what)}s.</p>'
    rows = [header(what, "count", "example", "questions")]
    for i, group in enumerate(groups):
        rows.append(
            f"<tr><th>{escape(group['reason'])}</th>{cell(report, *base, i, 'count')}"
            f"<td>{escape(group['example'])}</td>"
            f"<td><code>{escape(', '.join(group['questions']))}</code></td></tr>"
        )
    return "<table>" + "".join(rows) + "</table>"


def page(title: str, body: Sequence[str]) -> str:
    """The whole document: one file, no external assets."""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
