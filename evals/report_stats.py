"""Small statistics for the run report: rates, Cohen's kappa, distributions, reason groups.

Pure functions over plain numbers and strings, so each is checked by hand on tiny inputs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

HISTOGRAM_BINS = 10
GROUP_EXAMPLES = 5  # question ids listed per reason group
_PHRASE_END = re.compile(r"[;:]|\.\s|\s[-–]\s|\(")


def rate(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to divide by."""
    return part / whole if whole else None


def cohen_kappa(a: int, b: int, c: int, d: int) -> float | None:
    """Cohen's kappa of a 2x2 table [[a, b], [c, d]] (rows one rater, columns the other).

    None when undefined: no items, or chance agreement of 1 (both raters constant).
    """
    n = a + b + c + d
    if n == 0:
        return None
    observed = (a + d) / n
    chance = ((a + b) * (a + c) + (c + d) * (b + d)) / (n * n)
    if math.isclose(chance, 1.0):
        return None
    return (observed - chance) / (1 - chance)


def leading_phrase(reason: str) -> str:
    """A reason's leading phrase with numbers as N, so similar reasons group together.

    "regenerated CoT failed re-verification 2 times; last: ..." ->
    "regenerated CoT failed re-verification N times".
    """
    text = " ".join((reason or "").split())
    head = _PHRASE_END.split(text, maxsplit=1)[0]
    head = re.sub(r"\d+(\.\d+)?", "N", head).strip(" .,")
    return head[:100] or "(no reason recorded)"


def group_reasons(
    items: Iterable[tuple[str, str]], key: Callable[[str], str] = leading_phrase
) -> list[dict[str, Any]]:
    """(question id, reason) pairs grouped by `key` of the reason, largest group first."""
    groups: dict[str, dict[str, Any]] = {}
    for question_id, reason in items:
        group = groups.setdefault(
            key(reason), {"reason": key(reason), "count": 0, "example": reason, "questions": []}
        )
        group["count"] += 1
        if question_id not in group["questions"] and len(group["questions"]) < GROUP_EXAMPLES:
            group["questions"].append(question_id)
    return sorted(groups.values(), key=lambda g: (-g["count"], g["reason"]))


def percentile(ordered: Sequence[float], q: float) -> float:
    """The q-th quantile (0..1) of sorted values, interpolating linearly between ranks."""
    pos = (len(ordered) - 1) * q
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def histogram(values: Sequence[int], bins: int = HISTOGRAM_BINS) -> dict[str, list]:
    """Equal-width bins from min to max; the last bin includes max."""
    if not values:
        return {"edges": [], "counts": []}
    low, high = min(values), max(values)
    width = (high - low) / bins if high > low else 1.0
    count = bins if high > low else 1
    counts = [0] * count
    for v in values:
        counts[min(int((v - low) / width), count - 1)] += 1
    return {"edges": [round(low + i * width, 2) for i in range(count + 1)], "counts": counts}


def distribution(values: Sequence[int]) -> dict[str, Any]:
    """Count, extremes, mean, quartiles, 90th percentile and a histogram."""
    ordered = sorted(values)
    if not ordered:
        return {"count": 0, "histogram": histogram([])}
    stats = {f"p{int(q * 100)}": percentile(ordered, q) for q in (0.25, 0.5, 0.75, 0.9)}
    return {
        "count": len(ordered),
        "min": ordered[0],
        "max": ordered[-1],
        "mean": sum(ordered) / len(ordered),
        **stats,
        "histogram": histogram(ordered),
    }
