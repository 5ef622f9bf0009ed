"""Eval statistics: Wilson intervals, t intervals, score summaries, seeded sampling."""

from __future__ import annotations

import statistics

import pytest

from reasonmed.evals.accuracy import NO_SOURCE, accuracy_summary
from reasonmed.evals.intervals import mean_interval, summarize_scores, t975, wilson_interval
from reasonmed.evals.results import ExamAnswer
from reasonmed.evals.sampling import population_fingerprint, sample_indices


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        (5, 10, 0.2366, 0.7634),  # reference values of the Wilson score interval
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (29, 41, 0.5552, 0.8239),
        (1, 1, 0.2065, 1.0),
    ],
)
def test_wilson_interval_matches_reference_values(successes, n, low, high) -> None:
    got = wilson_interval(successes, n)
    assert got == pytest.approx((low, high), abs=1e-4)
    assert 0.0 <= got[0] <= successes / n <= got[1] <= 1.0


def test_wilson_interval_edge_cases() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)  # nothing measured: anything is possible
    with pytest.raises(ValueError):
        wilson_interval(11, 10)
    wide, narrow = wilson_interval(7, 10), wilson_interval(700, 1000)
    assert wide[1] - wide[0] > narrow[1] - narrow[0]


def test_t_quantiles_and_mean_interval() -> None:
    assert t975(1) == pytest.approx(12.706)
    assert t975(30) == pytest.approx(2.042)
    assert t975(60) == pytest.approx(2.0003, abs=1e-3)
    assert t975(1000) == pytest.approx(1.9623, abs=1e-3)
    low, high = mean_interval([1, 2, 3])  # mean 2, sd 1, t(2) = 4.303
    assert (low, high) == pytest.approx((2 - 4.303 / 3**0.5, 2 + 4.303 / 3**0.5))
    assert mean_interval([7]) is None


def test_unparseable_scores_are_counted_apart_not_as_zero() -> None:
    summary = summarize_scores([8, None, 6, None, 10, 6])
    assert (summary.judged, summary.scored, summary.unparseable) == (6, 4, 2)
    assert summary.unparseable_share == pytest.approx(2 / 6)
    assert summary.mean == pytest.approx(7.5)  # the reference scripts' 0s would give 5.0
    assert summary.sd == pytest.approx(statistics.stdev([8, 6, 10, 6]))
    assert summary.distribution == {1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 6: 2, 7: 0, 8: 1, 9: 0, 10: 1}
    assert sum(summary.distribution.values()) == summary.scored
    low, high = summary.ci95
    assert low < summary.mean < high
    as_json = summary.as_dict()
    assert as_json["distribution"]["6"] == 2 and as_json["unparseable"] == 2


def test_score_summary_of_nothing_parsed_and_bad_scores() -> None:
    empty = summarize_scores([None, None])
    assert empty.mean is None and empty.ci95 is None and empty.unparseable_share == 1.0
    assert summarize_scores([]).unparseable_share is None
    with pytest.raises(ValueError):
        summarize_scores([0, 5])


def test_accuracy_by_source_sums_to_overall() -> None:
    def answer(source: str, letter: str | None, gold: str = "A") -> ExamAnswer:
        return ExamAnswer(
            source=source, gold=gold, letter=letter, method="x", correct=letter == gold
        )

    answers = [answer("a", "A"), answer("a", "B"), answer("b", None), answer("", "A")]
    summary = accuracy_summary(answers)
    overall, by_source = summary["overall"], summary["by_source"]
    assert (overall["n"], overall["correct"], overall["no_answer"]) == (4, 2, 1)
    assert overall["rate"] == 0.5
    assert set(by_source) == {"a", "b", NO_SOURCE}
    for key in ("n", "correct", "no_answer"):
        assert sum(block[key] for block in by_source.values()) == overall[key]
    assert by_source["b"]["rate"] == 0.0 and by_source["b"]["ci95"][0] == 0.0


def test_sampling_is_deterministic_for_a_seed() -> None:
    first = sample_indices(10_000, 3000, seed=7)
    assert first == sample_indices(10_000, 3000, seed=7)
    assert first != sample_indices(10_000, 3000, seed=8)
    assert first == sorted(set(first)) and len(first) == 3000
    assert first[0] >= 0 and first[-1] < 10_000
    assert sample_indices(5, 3000, seed=1) == [0, 1, 2, 3, 4]  # a sample larger than all: all
    assert sample_indices(5, None, seed=1) == [0, 1, 2, 3, 4]
    # Pinned: a change of the sampling algorithm would silently change published samples.
    assert sample_indices(100, 5, seed=0) == [5, 33, 49, 53, 97]
    with pytest.raises(ValueError):
        sample_indices(5, 0, seed=1)


def test_population_fingerprint_sees_order_and_membership() -> None:
    keys = ["q1#0", "q1#1", "q2#0"]
    assert population_fingerprint(keys) == population_fingerprint(list(keys))
    assert population_fingerprint(keys) != population_fingerprint(keys[::-1])
    assert population_fingerprint(keys) != population_fingerprint(keys[:2])
