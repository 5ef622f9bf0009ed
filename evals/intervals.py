"""The statistics the eval reports print: Wilson intervals, mean intervals, score summaries.

Pure functions over plain numbers, so the reports are checked without a model. No scipy: the
two quantiles needed (normal and Student's t at 97.5 %) are constants and a small table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Z95 = 1.959963984540054
# Student's t 97.5 % quantile for 1..30 degrees of freedom; beyond, z + (z^3 + z) / (4 df), the
# first Cornish-Fisher term (off by under 0.1 % there).
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip
SCORES = tuple(range(1, 11))


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion; (0, 1) when there is nothing to measure.

    Chosen over the normal approximation because evals are often small or near 0 / 1, where
    p +- z*sqrt(p(1-p)/n) leaves [0, 1] or collapses to a point.
    """
    if n <= 0:
        return (0.0, 1.0)
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n ({n}), got {successes}")
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # At 0 or n successes the bound is exactly 0 or 1; floating point would leave 1 - 1e-16.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return (low, high)


def t975(df: int) -> float:
    """Student's t 97.5 % quantile (two-sided 95 %) for df degrees of freedom."""
    if df < 1:
        raise ValueError("need at least one degree of freedom")
    return _T975[df - 1] if df <= len(_T975) else Z95 + (Z95**3 + Z95) / (4 * df)


def mean_interval(values: Sequence[float]) -> tuple[float, float] | None:
    """95 % t interval of the mean; None below two values (no spread to measure)."""
    n = len(values)
    if n < 2:
        return None
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = t975(n - 1) * sd / math.sqrt(n)
    return (mean - half, mean + half)


@dataclass(frozen=True)
class ScoreSummary:
    """Judge scores of one eval: the mean is over parsed scores only (see `summarize_scores`)."""

    judged: int  # items sent to the judge
    scored: int  # of those, with a parsed 1-10 score
    unparseable: int  # of those, whose reply never parsed: reported apart, not as 0
    mean: float | None
    sd: float | None
    ci95: tuple[float, float] | None
    distribution: dict[int, int]  # 1..10 -> count; sums to `scored`

    @property
    def unparseable_share(self) -> float | None:
        """Share of judged items without a parsed score."""
        return self.unparseable / self.judged if self.judged else None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready (distribution keys as strings, as JSON needs)."""
        return {
            "judged": self.judged,
            "scored": self.scored,
            "unparseable": self.unparseable,
            "unparseable_share": self.unparseable_share,
            "mean": self.mean,
            "sd": self.sd,
            "ci95": list(self.ci95) if self.ci95 else None,
            "distribution": {str(k): v for k, v in self.distribution.items()},
        }


def summarize_scores(scores: Iterable[int | None]) -> ScoreSummary:
    """Summarize judge scores, one per judged item, None where the reply could not be parsed.

    The reference scripts counted an unparseable reply as 0, which drags the mean down by an
    amount that measures the judge's formatting, not the data; here such items are counted apart
    and the mean, interval and distribution cover parsed scores only.
    """
    values = list(scores)
    parsed = [s for s in values if s is not None]
    bad = [s for s in parsed if s not in SCORES]
    if bad:
        raise ValueError(f"judge scores must be integers 1-10, got {bad[:3]}")
    n = len(parsed)
    mean = sum(parsed) / n if n else None
    sd = (
        math.sqrt(sum((s - mean) ** 2 for s in parsed) / (n - 1))
        if n > 1 and mean is not None
        else None
    )
    return ScoreSummary(
        judged=len(values),
        scored=n,
        unparseable=len(values) - n,
        mean=mean,
        sd=sd,
        ci95=mean_interval(parsed),
        distribution={score: parsed.count(score) for score in SCORES},
    )


def proportion(successes: int, n: int) -> dict[str, object]:
    """A share with its Wilson interval, JSON-ready."""
    low, high = wilson_interval(successes, n)
    return {"n": n, "correct": successes, "rate": successes / n if n else None, "ci95": [low, high]}
