"""The numbers of a run report, as pure functions of `ReportInputs`.

Kept apart from loading and rendering so every figure in the HTML and in report.json is one
value computed once, here, and testable with a handful of hand-made rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from reasonmed.evals.report_data import ExampleData, QuestionData, ReportInputs
from reasonmed.evals.report_stats import cohen_kappa, distribution, group_reasons, rate

SCHEMA = "reasonmed.report/1"
TIERS = ("easy", "medium", "difficult")
UNCLASSIFIED = "unclassified"
FINAL_STATES = ("done", "rejected", "failed", "unfinished")
LENGTHS = ("cot_chars", "cot_words", "summary_chars", "summary_words")


def final_state(status: str) -> str:
    """done / rejected / failed as stored; pending and running are both unfinished."""
    return status if status in ("done", "rejected", "failed") else "unfinished"


def temperature_key(value: Any) -> str:
    """A temperature as a JSON key: 0.7 -> "0.7", 1.0 -> "1"."""
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def _tier(question: QuestionData) -> str:
    return question.tier if question.tier in TIERS else UNCLASSIFIED


def _tiers_present(questions: Sequence[QuestionData]) -> list[str]:
    unclassified = any(_tier(q) == UNCLASSIFIED for q in questions)
    return [*TIERS, UNCLASSIFIED] if unclassified else list(TIERS)


def question_counts(questions: Sequence[QuestionData]) -> dict[str, Any]:
    """Questions by final state, by tier, and by tier and state."""
    tiers = _tiers_present(questions)
    by_tier_state = {t: dict.fromkeys(FINAL_STATES, 0) for t in tiers}
    for q in questions:
        by_tier_state[_tier(q)][final_state(q.status)] += 1
    return {
        "total": len(questions),
        "by_state": {s: sum(row[s] for row in by_tier_state.values()) for s in FINAL_STATES},
        "by_tier": {t: sum(by_tier_state[t].values()) for t in tiers},
        "by_tier_and_state": by_tier_state,
    }


def _pass_entry(paths: Sequence[dict[str, Any]]) -> dict[str, Any]:
    correct = sum(1 for p in paths if p.get("correct"))
    return {
        "paths": len(paths),
        "correct": correct,
        "rate": rate(correct, len(paths)),
        "verdict_correct": sum(1 for p in paths if p.get("verdict") == "Correct"),
        "answer_ok": sum(1 for p in paths if p.get("answer_ok") is True),
        "unparsed_verdicts": sum(1 for p in paths if p.get("verdict") is None),
    }


def judged_paths(questions: Iterable[QuestionData]) -> list[dict[str, Any]]:
    """Every generated path the verifier step has judged (it wrote `correct`), any question."""
    return [p for q in questions for p in q.paths if "correct" in p]


def pass_rates(paths: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Share of judged paths that count as Correct, overall, by model, temperature and both.

    Models keep the generator's order (model-major path indices); temperatures are sorted.
    """
    by_model: dict[str, list[dict[str, Any]]] = {}
    by_temp: dict[str, list[dict[str, Any]]] = {}
    by_both: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for p in paths:
        model, temp = str(p.get("model")), temperature_key(p.get("temperature"))
        by_model.setdefault(model, []).append(p)
        by_temp.setdefault(temp, []).append(p)
        by_both.setdefault((model, temp), []).append(p)
    temps = sorted(by_temp, key=_temperature_order)
    return {
        "overall": _pass_entry(paths),
        "by_model": {m: _pass_entry(group) for m, group in by_model.items()},
        "by_temperature": {t: _pass_entry(by_temp[t]) for t in temps},
        "by_model_temperature": {
            m: {t: _pass_entry(by_both[m, t]) for t in temps if (m, t) in by_both} for m in by_model
        },
    }


def _temperature_order(key: str) -> tuple[int, float, str]:
    try:
        return (0, float(key), key)
    except ValueError:
        return (1, 0.0, key)


def agreement(paths: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The LLM verifier's verdict against the deterministic answer check, with Cohen's kappa.

    Paths whose verdict never parsed, or judged with the answer check off, have no pair and are
    counted apart.
    """
    pairs = [
        (p["verdict"], p["answer_ok"])
        for p in paths
        if p.get("verdict") in ("Correct", "Error") and isinstance(p.get("answer_ok"), bool)
    ]
    cells = Counter(pairs)
    a, b = cells[("Correct", True)], cells[("Correct", False)]
    c, d = cells[("Error", True)], cells[("Error", False)]
    return {
        "table": {"Correct": {"match": a, "mismatch": b}, "Error": {"match": c, "mismatch": d}},
        "pairs": len(pairs),
        "agreement": rate(a + d, len(pairs)),
        "kappa": cohen_kappa(a, b, c, d),
        "unparsed_verdicts": sum(1 for p in paths if p.get("verdict") is None),
        "answer_check_off": sum(1 for p in paths if p.get("answer_ok") is None),
    }


REWRITES = (("refinement", "medium"), ("regeneration", "difficult"))


def rewrite_result(tier: str, kept: dict[str, Any]) -> str:
    """passed / failed / in_progress for a kept CoT that was sent for a rewrite.

    Medium: passed when the refined text passed re-verification (origin "refined"), failed when
    every round failed (the original verified CoT was kept instead). Difficult: passed when the
    regenerated text passed, failed when it never did (the question is then rejected).
    """
    status = kept.get("status")
    if status == "ready":
        return "passed" if tier != "medium" or kept.get("origin") == "refined" else "failed"
    return "failed" if status == "failed" else "in_progress"


def rewrite_outcomes(
    questions: Sequence[QuestionData], verdicts: Sequence[tuple[str | None, str | None]] = ()
) -> dict[str, Any]:
    """How refinement (medium) and regeneration (difficult) fared, from the kept records.

    A kept CoT counts once it has been sent for a rewrite (attempts > 0); success rates are over
    the finished ones; a round is one rewrite; `reverify_verdicts` tallies the verifier's replies
    at re-verification.
    """
    out: dict[str, Any] = {}
    for name, tier in REWRITES:
        results: dict[str, list[tuple[str, dict[str, Any]]]] = {
            "passed": [],
            "failed": [],
            "in_progress": [],
        }
        for q in questions:
            for k in q.kept if _tier(q) == tier else []:
                if int(k.get("attempts") or 0) > 0:
                    results[rewrite_result(tier, k)].append((q.question_id, k))
        passed, failed = results["passed"], results["failed"]
        rounds = sum(int(k.get("attempts") or 0) for group in results.values() for _, k in group)
        tally = Counter(v or "unparsed" for t, v in verdicts if t == tier)
        out[name] = {
            "records": sum(len(group) for group in results.values()),
            "passed": len(passed),
            "failed": len(failed),
            "in_progress": len(results["in_progress"]),
            "success_rate": rate(len(passed), len(passed) + len(failed)),
            "rounds": rounds,
            "pass_per_round": rate(len(passed), rounds),
            "rounds_per_pass": rate(
                sum(int(k.get("attempts") or 0) for _, k in passed), len(passed)
            ),
            "failure_notes": group_reasons((qid, k.get("note") or "") for qid, k in failed),
            "reverify_verdicts": {v: tally[v] for v in ("Correct", "Error", "unparsed")},
        }
    return out


def usage(questions: Sequence[QuestionData], examples: Sequence[ExampleData]) -> dict[str, Any]:
    """Calls, tokens and cost in total and per tier, and per example of each.

    Cost sums the priced calls; it is None when no call of the group had a price, and
    `unpriced_calls` says how many calls a total leaves out.
    """

    def entry(qs: list[QuestionData], n_examples: int) -> dict[str, Any]:
        tokens_in = sum(q.prompt_tokens for q in qs)
        tokens_out = sum(q.completion_tokens for q in qs)
        priced = sum(q.priced_calls for q in qs)
        calls = sum(q.calls for q in qs)
        cost = sum(q.cost for q in qs) if priced else None
        return {
            "questions": len(qs),
            "examples": n_examples,
            "calls": calls,
            "prompt_tokens": tokens_in,
            "completion_tokens": tokens_out,
            "tokens": tokens_in + tokens_out,
            "tokens_per_example": rate(tokens_in + tokens_out, n_examples),
            "cost": cost,
            "cost_per_example": cost / n_examples if cost is not None and n_examples else None,
            "unpriced_calls": calls - priced,
        }

    per_tier = Counter(e.tier for e in examples)
    return {
        "total": entry(list(questions), len(examples)),
        "by_tier": {
            t: entry([q for q in questions if _tier(q) == t], per_tier[t])
            for t in _tiers_present(questions)
        },
    }


def lengths(examples: Sequence[ExampleData]) -> dict[str, Any]:
    """Length distributions of the examples' CoTs and summaries, and mean words per origin."""
    origins = sorted({e.origin for e in examples})
    return {
        **{name: distribution([getattr(e, name) for e in examples]) for name in LENGTHS},
        "by_origin": {
            o: {
                "examples": sum(1 for e in examples if e.origin == o),
                "cot_words_mean": distribution(
                    [e.cot_words for e in examples if e.origin == o]
                ).get("mean"),
            }
            for o in origins
        },
    }


def compute_report(inputs: ReportInputs) -> dict[str, Any]:
    """Every number of the report, JSON-ready."""
    questions, examples = inputs.questions, inputs.examples
    paths = judged_paths(questions)
    rejected = [(q.question_id, q.reason) for q in questions if q.status == "rejected"]
    failed = [
        (q.question_id, q.failure_kind or q.reason) for q in questions if q.status == "failed"
    ]
    return {
        "schema": SCHEMA,
        "run": {
            "run_id": inputs.run_id,
            "status": inputs.run_status,
            "created_at": inputs.created_at,
            "updated_at": inputs.updated_at,
            "config_hash": inputs.config_hash,
            "prompt_hashes": dict(sorted(inputs.prompt_hashes.items())),
        },
        "questions": question_counts(questions),
        "examples": {
            "total": len(examples),
            "by_tier": {t: sum(1 for e in examples if e.tier == t) for t in TIERS},
            "by_origin": dict(sorted(Counter(e.origin for e in examples).items())),
        },
        "pass_rates": pass_rates(paths),
        "agreement": agreement(paths),
        "rewrites": rewrite_outcomes(questions, inputs.reverify_verdicts),
        "rejections": group_reasons(rejected),
        "failures": group_reasons(failed),
        "usage": usage(questions, examples),
        "lengths": lengths(examples),
    }
