"""The run report's numbers, on small hand-made rows whose answers are worked out by hand."""

from __future__ import annotations

import pytest

from reasonmed.evals.report_data import ExampleData, QuestionData, ReportInputs
from reasonmed.evals.report_numbers import (
    agreement,
    compute_report,
    judged_paths,
    pass_rates,
    question_counts,
    rewrite_outcomes,
    usage,
)
from reasonmed.evals.report_stats import (
    cohen_kappa,
    distribution,
    group_reasons,
    histogram,
    leading_phrase,
)


def _path(model: str, temp: float, verdict: str | None, answer_ok: bool | None) -> dict:
    return {
        "model": model,
        "temperature": temp,
        "verdict": verdict,
        "answer_ok": answer_ok,
        "correct": verdict == "Correct" and answer_ok is not False,
    }


def test_cohen_kappa_matches_a_worked_example() -> None:
    # 20 agree-yes, 5 yes/no, 10 no/yes, 15 agree-no: po = 0.7, pe = 0.5, kappa = 0.4.
    assert cohen_kappa(20, 5, 10, 15) == pytest.approx(0.4)
    assert cohen_kappa(10, 0, 0, 10) == pytest.approx(1.0)
    # Perfect disagreement with balanced margins: po = 0, pe = 0.5 -> -1.
    assert cohen_kappa(0, 5, 5, 0) == pytest.approx(-1.0)


def test_cohen_kappa_is_none_when_undefined() -> None:
    assert cohen_kappa(0, 0, 0, 0) is None
    assert cohen_kappa(7, 0, 0, 0) is None  # both raters constant: chance agreement is 1


def test_pass_rates_by_model_temperature_and_both() -> None:
    paths = [
        _path("a", 0.7, "Correct", True),
        _path("a", 0.7, "Correct", False),  # the answer check overrules the verifier
        _path("a", 1.0, "Error", False),
        _path("b", 0.7, "Correct", True),
        _path("b", 1.0, None, True),  # unparsed verdict: not Correct
        _path("b", 1.0, "Correct", None),  # check off: the verdict alone decides
    ]
    rates = pass_rates(paths)
    assert rates["overall"]["paths"] == 6 and rates["overall"]["correct"] == 3
    assert rates["overall"]["rate"] == pytest.approx(0.5)
    assert list(rates["by_model"]) == ["a", "b"]
    assert rates["by_model"]["a"]["rate"] == pytest.approx(1 / 3)
    assert rates["by_model"]["b"]["rate"] == pytest.approx(2 / 3)
    assert rates["by_model"]["b"]["unparsed_verdicts"] == 1
    assert rates["by_model"]["a"]["verdict_correct"] == 2
    assert rates["by_temperature"]["0.7"]["rate"] == pytest.approx(2 / 3)
    assert rates["by_temperature"]["1"]["correct"] == 1
    assert rates["by_model_temperature"]["a"]["0.7"] == {
        "paths": 2,
        "correct": 1,
        "rate": 0.5,
        "verdict_correct": 2,
        "answer_ok": 1,
        "unparsed_verdicts": 0,
    }


def test_pass_rates_count_only_judged_paths() -> None:
    judged = _path("a", 0.7, "Correct", True)
    unjudged = {"model": "a", "temperature": 0.9}  # generated, not verified yet
    questions = [QuestionData("q1", "running", None, paths=[judged, unjudged])]
    assert judged_paths(questions) == [judged]
    assert pass_rates([])["overall"]["rate"] is None


def test_agreement_table_and_kappa_leave_out_unpaired_paths() -> None:
    paths = (
        [_path("m", 1, "Correct", True)] * 20
        + [_path("m", 1, "Correct", False)] * 5
        + [_path("m", 1, "Error", True)] * 10
        + [_path("m", 1, "Error", False)] * 15
        + [_path("m", 1, None, False), _path("m", 1, "Correct", None)]
    )
    result = agreement(paths)
    assert result["table"] == {
        "Correct": {"match": 20, "mismatch": 5},
        "Error": {"match": 10, "mismatch": 15},
    }
    assert result["pairs"] == 50
    assert result["agreement"] == pytest.approx(0.7)
    assert result["kappa"] == pytest.approx(0.4)
    assert (result["unparsed_verdicts"], result["answer_check_off"]) == (1, 1)


def test_leading_phrase_groups_reasons_that_differ_in_numbers_and_detail() -> None:
    a = "regenerated CoT failed re-verification 2 times; last: concludes D, not B."
    b = "regenerated CoT failed re-verification 3 times; last: no clear final answer"
    assert (
        leading_phrase(a) == leading_phrase(b) == "regenerated CoT failed re-verification N times"
    )
    assert leading_phrase("no chain of thought passed") == "no chain of thought passed"
    assert leading_phrase("") == "(no reason recorded)"
    groups = group_reasons([("q1", a), ("q2", b), ("q3", "no chain of thought passed"), ("q2", a)])
    assert [(g["reason"], g["count"]) for g in groups] == [
        ("regenerated CoT failed re-verification N times", 3),
        ("no chain of thought passed", 1),
    ]
    assert groups[0]["example"] == a and groups[0]["questions"] == ["q1", "q2"]


def test_question_counts_by_tier_and_final_state() -> None:
    questions = [
        QuestionData("q1", "done", "easy"),
        QuestionData("q2", "done", "easy"),
        QuestionData("q3", "rejected", "difficult"),
        QuestionData("q4", "failed", None),
        QuestionData("q5", "pending", None),
        QuestionData("q6", "running", "medium"),
    ]
    counts = question_counts(questions)
    assert counts["total"] == 6
    assert counts["by_state"] == {"done": 2, "rejected": 1, "failed": 1, "unfinished": 2}
    assert counts["by_tier"] == {"easy": 2, "medium": 1, "difficult": 1, "unclassified": 2}
    assert counts["by_tier_and_state"]["unclassified"] == {
        "done": 0,
        "rejected": 0,
        "failed": 1,
        "unfinished": 1,
    }


def test_rewrite_outcomes_from_kept_records_and_reverify_replies() -> None:
    medium = QuestionData(
        "m1",
        "done",
        "medium",
        kept=[
            {"slot": 0, "origin": "refined", "status": "ready", "attempts": 1},
            {
                "slot": 1,
                "origin": "generated",
                "status": "ready",
                "attempts": 2,
                "note": "refinement failed re-verification 2 times; original kept",
            },
        ],
    )
    easy = QuestionData("e1", "done", "easy", kept=[{"slot": 0, "status": "ready", "attempts": 0}])
    difficult = [
        QuestionData(
            "d1",
            "done",
            "difficult",
            kept=[{"origin": "regenerated", "status": "ready", "attempts": 2}],
        ),
        QuestionData(
            "d2",
            "rejected",
            "difficult",
            kept=[{"status": "failed", "attempts": 2, "note": "regenerated CoT failed 2 times"}],
        ),
        QuestionData("d3", "running", "difficult", kept=[{"status": "pending", "attempts": 1}]),
    ]
    verdicts = [("medium", "Correct"), ("medium", "Error"), ("difficult", None), ("easy", "Error")]
    out = rewrite_outcomes([medium, easy, *difficult], verdicts)
    refinement, regeneration = out["refinement"], out["regeneration"]
    assert (refinement["records"], refinement["passed"], refinement["failed"]) == (2, 1, 1)
    assert refinement["success_rate"] == pytest.approx(0.5)
    assert refinement["rounds"] == 3 and refinement["rounds_per_pass"] == pytest.approx(1.0)
    assert refinement["failure_notes"][0]["reason"] == "refinement failed re-verification N times"
    assert refinement["reverify_verdicts"] == {"Correct": 1, "Error": 1, "unparsed": 0}
    assert (regeneration["passed"], regeneration["failed"], regeneration["in_progress"]) == (
        1,
        1,
        1,
    )
    assert regeneration["success_rate"] == pytest.approx(0.5)  # over the finished two
    assert regeneration["pass_per_round"] == pytest.approx(1 / 5)
    assert regeneration["reverify_verdicts"] == {"Correct": 0, "Error": 0, "unparsed": 1}


def test_usage_per_tier_and_example_with_and_without_prices() -> None:
    questions = [
        QuestionData("q1", "done", "easy", calls=10, prompt_tokens=1000, completion_tokens=200),
        QuestionData(
            "q2",
            "done",
            "medium",
            calls=20,
            prompt_tokens=3000,
            completion_tokens=600,
            cost=0.5,
            priced_calls=15,
        ),
    ]
    examples = [ExampleData.of("q1", s, "easy", "generated", "x y", "z") for s in (0, 1)]
    examples.append(ExampleData.of("q2", 0, "medium", "refined", "a b c", "d e"))
    result = usage(questions, examples)
    easy, medium = result["by_tier"]["easy"], result["by_tier"]["medium"]
    assert easy["tokens_per_example"] == pytest.approx(600)
    assert easy["cost"] is None and easy["cost_per_example"] is None  # nothing priced
    assert easy["unpriced_calls"] == 10
    assert medium["cost"] == pytest.approx(0.5) and medium["cost_per_example"] == pytest.approx(0.5)
    assert result["by_tier"]["difficult"]["tokens_per_example"] is None  # no examples
    total = result["total"]
    assert total["tokens"] == 4800 and total["tokens_per_example"] == pytest.approx(1600)
    assert total["cost"] == pytest.approx(0.5) and total["unpriced_calls"] == 15


def test_distribution_and_histogram() -> None:
    stats = distribution([1, 2, 3, 4, 10])
    assert (stats["count"], stats["min"], stats["max"]) == (5, 1, 10)
    assert stats["mean"] == pytest.approx(4) and stats["p50"] == pytest.approx(3)
    assert stats["p90"] == pytest.approx(7.6)  # between 4 and 10, 60 % of the way
    hist = histogram([1, 2, 3, 4, 10], bins=3)
    assert hist == {"edges": [1, 4, 7, 10], "counts": [3, 1, 1]}  # max falls in the last bin
    assert histogram([5, 5]) == {"edges": [5, 6], "counts": [2]}
    assert distribution([]) == {"count": 0, "histogram": {"edges": [], "counts": []}}


def test_compute_report_records_hashes_and_counts_examples() -> None:
    inputs = ReportInputs(
        run_id="r",
        config_hash="abc",
        prompt_hashes={"verifier": "v1", "generator": "g1"},
        questions=[QuestionData("q1", "done", "easy", paths=[_path("a", 0.7, "Correct", True)])],
        examples=[ExampleData.of("q1", 0, "easy", "generated", "one two three", "four")],
    )
    report = compute_report(inputs)
    assert report["run"]["config_hash"] == "abc"
    assert report["run"]["prompt_hashes"] == {"generator": "g1", "verifier": "v1"}
    assert report["examples"]["by_tier"] == {"easy": 1, "medium": 0, "difficult": 0}
    assert report["lengths"]["cot_words"]["mean"] == 3
    assert report["pass_rates"]["overall"]["rate"] == 1.0
