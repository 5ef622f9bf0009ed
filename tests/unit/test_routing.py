"""Routing is pure: tested with plain state and a real config, no model."""

from __future__ import annotations

from pathlib import Path

import pytest
from langgraph.types import Send

from reasonmed.core.config import RunConfig, load_config
from reasonmed.graph import routing as r

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
QUESTION = {"id": "q1", "question": "?", "options": {"A": "a", "B": "b"}, "answer": "A"}


@pytest.fixture(scope="module")
def config() -> RunConfig:
    return load_config(EXAMPLES / "config.mock.yaml")


def _paths(flags: list[bool]) -> list[dict]:
    return [
        {
            "index": i,
            "cot": f"cot {i}",
            "correct": ok,
            "verdict": "Correct" if ok else "Error",
            "reason": "" if ok else f"reason {i}",
        }
        for i, ok in enumerate(flags)
    ]


def test_generation_tasks_are_models_by_temperatures(config: RunConfig) -> None:
    tasks = r.generation_tasks(QUESTION, config)
    gen = config.agents.generator
    assert len(tasks) == len(gen.models) * len(gen.temperatures) == config.paths_per_question
    assert [t["index"] for t in tasks] == list(range(len(tasks)))
    assert (tasks[0]["model"], tasks[0]["temperature"]) == (gen.models[0], gen.temperatures[0])
    assert (tasks[1]["model"], tasks[1]["temperature"]) == (gen.models[0], gen.temperatures[1])
    assert tasks[-1]["model"] == gen.models[-1]


def test_samples_per_temperature_repeat_each_pair_with_their_own_index(config: RunConfig) -> None:
    from reasonmed.graph.stepping import first_tasks

    sampled = config.model_copy(deep=True)
    sampled.agents.generator.samples_per_temperature = 2
    tasks = r.generation_tasks(QUESTION, sampled)
    gen = sampled.agents.generator
    assert len(tasks) == len(gen.models) * len(gen.temperatures) * 2
    assert [t["index"] for t in tasks] == list(range(len(tasks)))
    pairs = [(t["model"], t["temperature"]) for t in tasks]
    assert (
        pairs[:4]
        == [(gen.models[0], gen.temperatures[0])] * 2 + [(gen.models[0], gen.temperatures[1])] * 2
    )
    planned = [(p.alias, p.detail) for p in first_tasks(sampled)]
    assert planned == [(m, f"path {i} · T={temp}") for i, (m, temp) in enumerate(pairs)]


@pytest.mark.parametrize(
    ("errors", "tier"),
    [(0, "easy"), (4, "easy"), (5, "medium"), (7, "medium"), (8, "difficult"), (9, "difficult")],
)
def test_assign_tier_paper_thresholds(errors: int, tier: str, config: RunConfig) -> None:
    assert r.assign_tier(errors, config) == tier


def test_unparseable_verdicts_count_as_errors() -> None:
    paths = _paths([True, True])
    paths.append({"index": 2, "cot": "x", "verdict": None, "correct": False})
    assert r.count_errors(paths) == 1
    assert r.tier_reason(6, 9, "medium") == "6 of 9 judged Error: medium"


def test_error_reasons_exclude_the_paths_own() -> None:
    paths = _paths([True, False, False, False])
    paths[3]["reason"] = "reason 1"  # duplicates are listed once
    assert r.error_reasons(paths) == ["reason 1", "reason 2"]
    assert r.error_reasons(paths, exclude_index=1) == ["reason 2", "reason 1"]


def test_difficult_goes_to_regenerator_from_first_correct_path() -> None:
    paths = _paths([False, False, True, False])
    state = {"question": QUESTION, "paths": paths, "tier": "difficult"}
    sends = r.after_classify(state)
    assert isinstance(sends, list) and len(sends) == 1
    assert sends[0].node == r.REGENERATE
    kept = sends[0].arg["kept"]
    assert kept["source_index"] == 2 and kept["cot"] == "cot 2" and kept["status"] == "pending"
    assert sends[0].arg["error_reasons"] == ["reason 0", "reason 1", "reason 3"]
    no_correct = {"question": QUESTION, "paths": _paths([False, False]), "tier": "difficult"}
    assert r.after_classify(no_correct)[0].arg["kept"]["source_index"] == 0


def test_easy_and_medium_go_to_ranker() -> None:
    for tier in ("easy", "medium"):
        assert r.after_classify({"question": QUESTION, "paths": _paths([True]), "tier": tier}) == (
            r.RANK
        )
    assert r.after_classify({"question": QUESTION, "paths": [], "tier": "easy"}) == r.FINALIZE


def _kept(slot: int, **fields) -> dict:
    base = {
        "slot": slot,
        "source_index": slot,
        "cot": f"cot {slot}",
        "attempts": 0,
        "status": "pending",
        "candidate": None,
        "summary": "",
    }
    return {**base, **fields}


def test_medium_refines_then_reverifies_then_summarizes(config: RunConfig) -> None:
    state = {
        "question": QUESTION,
        "tier": "medium",
        "paths": _paths([True, True, False]),
        "kept": [_kept(0), _kept(1)],
    }
    sends = r.next_work(state, config)
    assert [s.node for s in sends] == [r.REFINE, r.REFINE]
    assert sends[0].arg["error_reasons"] == ["reason 2"]
    state["kept"] = [_kept(0, candidate="new", attempts=1), _kept(1, candidate="new", attempts=1)]
    assert [s.node for s in r.next_work(state, config)] == [r.REVERIFY, r.REVERIFY]
    state["kept"] = [_kept(0, status="ready"), _kept(1, attempts=1)]
    assert [s.node for s in r.next_work(state, config)] == [r.REFINE]
    state["kept"] = [_kept(0, status="ready"), _kept(1, status="ready", summary="done")]
    sends = r.next_work(state, config)
    assert [(s.node, s.arg["kept"]["slot"]) for s in sends] == [(r.SUMMARIZE, 0)]
    state["kept"][0]["summary"] = "s"
    assert r.next_work(state, config) == r.FINALIZE


def test_refinement_loop_is_bounded_by_attempts(config: RunConfig) -> None:
    limit = config.agents.refiner.attempts
    state = {
        "question": QUESTION,
        "tier": "medium",
        "paths": _paths([True]),
        "kept": [_kept(0, attempts=limit)],
    }
    # Out of attempts and still pending: the reverifier should have settled it; never loop.
    assert r.next_work(state, config) == r.FINALIZE
    assert r.max_attempts("difficult", config) == config.agents.regenerator.attempts


def test_failed_regeneration_rejects_the_question(config: RunConfig) -> None:
    state = {
        "question": QUESTION,
        "tier": "difficult",
        "paths": _paths([False]),
        "kept": [_kept(0, status="failed", note="still wrong after 2 attempts")],
    }
    assert r.next_work(state, config) == r.FINALIZE
    assert r.outcome(state) == {
        "status": "rejected",
        "reason": "still wrong after 2 attempts",
        "examples": 0,
    }
    done = {
        "paths": _paths([True]),
        "tier_reason": "0 of 1 judged Error: easy",
        "kept": [_kept(0, status="ready", summary="s"), _kept(1, status="ready", summary="t")],
    }
    assert r.outcome(done) == {
        "status": "done",
        "reason": "0 of 1 judged Error: easy",
        "examples": 2,
    }
    assert r.outcome({"paths": []})["status"] == "rejected"


def test_sends_carry_the_tier() -> None:
    state = {
        "question": QUESTION,
        "tier": "difficult",
        "paths": _paths([False]),
        "kept": [_kept(0)],
    }
    sends = r.after_classify(state)
    assert isinstance(sends[0], Send) and sends[0].arg["tier"] == "difficult"
