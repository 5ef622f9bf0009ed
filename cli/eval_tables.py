"""The eval reports as terminal tables (the JSON reports, `--json`, carry the same numbers)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _interval(ci: list[float] | None, percent: bool = False) -> str:
    if not ci:
        return "-"
    low, high = ci
    return f"{_pct(low)} - {_pct(high)}" if percent else f"{low:.2f} - {high:.2f}"


def accuracy_tables(report: dict[str, Any]) -> Group:
    """Accuracy overall and per source, with Wilson intervals and no-answer counts."""
    model = report["model"]
    table = Table(
        title=f"eval {report['eval_id']}: accuracy of {model['alias']} ({model['model']})",
        caption=report["note"],
    )
    for column in ("source", "questions", "correct", "accuracy", "95% CI (Wilson)", "no answer"):
        table.add_column(column, justify="left" if column == "source" else "right")
    rows = [*report["by_source"].items(), ("overall", report["overall"])]
    for name, block in rows:
        table.add_row(
            Text(name, style="bold" if name == "overall" else ""),
            str(block["n"]),
            str(block["correct"]),
            _pct(block["rate"]),
            _interval(block["ci95"], percent=True),
            str(block["no_answer"]),
        )
    return Group(table, _footer(report, f"{report['answered']} of {report['questions']}"))


def score_tables(report: dict[str, Any]) -> Group:
    """Checks, judge score statistics and the 1-10 distribution of a score eval."""
    judge = report["judge"]
    scores = report["scores"]
    checks = report["checks"]
    summary = Table(
        title=f"eval {report['eval_id']}: judge {judge['alias']} ({judge['model']})",
        caption=report["note"],
        show_header=False,
    )
    summary.add_column("what")
    summary.add_column("value", justify="right")
    mean = "-" if scores["mean"] is None else f"{scores['mean']:.2f}"
    unflagged = report["scores_unflagged"]
    rows = [
        ("items (sampled)", f"{report['n']} ({report['sampled']})"),
        ("blocked by checks, not judged", _named(checks["blocked_items"], checks["blocked"])),
        ("judged", str(scores["judged"])),
        ("flagged (judged anyway)", _named(checks["flagged_items"], checks["flags"])),
        ("scored", str(scores["scored"])),
        (
            "unparseable (excluded from mean)",
            f"{scores['unparseable']} ({_pct(scores['unparseable_share'])})",
        ),
        ("unparseable replies / judge replies", _ratio(scores)),
        ("mean score", mean),
        ("95% CI of the mean (t)", _interval(scores["ci95"])),
        ("sd", "-" if scores["sd"] is None else f"{scores['sd']:.2f}"),
        (
            "mean over unflagged",
            "-"
            if unflagged["mean"] is None
            else f"{unflagged['mean']:.2f} (n={unflagged['scored']})",
        ),
    ]
    for name, value in rows:
        summary.add_row(name, value)
    distribution = Table(title="score distribution (parsed scores)")
    for score in scores["distribution"]:
        distribution.add_column(score, justify="right")
    distribution.add_row(*(str(count) for count in scores["distribution"].values()))
    return Group(summary, distribution, _footer(report, f"{report['n']} of {report['sampled']}"))


def _named(total: int, counts: dict[str, int]) -> str:
    parts = ", ".join(f"{name} {count}" for name, count in counts.items() if count)
    return f"{total}" + (f" ({parts})" if parts else "")


def _ratio(scores: dict[str, Any]) -> str:
    return f"{scores['unparseable_replies']} / {scores['judge_replies']}"


def _footer(report: dict[str, Any], done: str) -> Text:
    calls = report.get("calls") or {}
    cost = calls.get("cost")
    lines = [
        f"status {report['status']}: {done} items have a result; config "
        f"{report['config_hash'][:12]}, prompt {str(report['prompt_hash'])[:12]}",
        f"calls {calls.get('calls', 0)} (cache hits {calls.get('cache_hits', 0)}, errors "
        f"{calls.get('errors', 0)}), tokens {calls.get('prompt_tokens', 0)} in / "
        f"{calls.get('completion_tokens', 0)} out"
        + ("" if cost is None else f", cost ${cost:,.4f}"),
    ]
    return Text("\n".join(lines))
