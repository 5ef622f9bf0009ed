"""The estimate's arithmetic, with a tiny config and three questions; no model, no database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reasonmed.core.config import RunConfig, config_from_dict
from reasonmed.graph.estimate import (
    CHARS_PER_TOKEN,
    DEFAULT_REPLY_TOKENS,
    DEFAULT_TIER_MIX,
    MIN_OBSERVED_CALLS,
    AgentLine,
    Estimate,
    Observed,
    estimate,
)
from reasonmed.prompts.render import format_question_block, render
from reasonmed.sources.question_files import load_questions

QUESTIONS = [
    {"id": "q1", "question": "Which vitamin is fat-soluble?", "options": ["C", "B12", "K"],
     "answer": "C"},
    {"id": "q2", "question": "A long vignette. " * 40, "options": ["Yes", "No"], "answer": "A"},
    {"id": "q3", "question": "Which drug reverses heparin?", "options": {"A": "Protamine",
     "B": "Vitamin K", "C": "Naloxone", "D": "Flumazenil"}, "answer": "A",
     "context": "Heparin acts on antithrombin."},
]  # fmt: skip


def tiny_config(*overrides: str, temperatures: tuple[float, ...] = (0.7, 1.0)) -> RunConfig:
    """Two generator aliases x len(temperatures) paths; every other agent on alias `a`."""
    local = "http://127.0.0.1:9/v1"
    others = ("verifier", "ranker", "refiner", "regenerator", "summarizer")
    raw: dict[str, Any] = {
        "models": {name: {"model": f"model-{name}", "base_url": local} for name in "ab"},
        "agents": {
            "generator": {"models": ["a", "b"], "temperatures": list(temperatures)},
            **{agent: {"model": "a"} for agent in others},
        },
        "pipeline": {"keep": 2, "easy_max_errors": 1, "medium_max_errors": 2},
    }
    return config_from_dict(raw, overrides=overrides)


@pytest.fixture
def questions(tmp_path: Path) -> Path:
    path = tmp_path / "three.jsonl"
    path.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
    return path


def lines(result: Estimate) -> dict[str, AgentLine]:
    return {line.agent: line for line in result.lines}


def only(tier: str, errors: int, *, passes: int = 10) -> Observed:
    """Every observed question ended in `tier` with `errors` Errors; rewrites pass passes/10."""
    rounds = {"refiner": 10, "regenerator": 10}
    return Observed(
        errors={tier: {errors: 50}}, rounds=rounds, passes=dict.fromkeys(rounds, passes)
    )


def test_generator_and_verifier_calls_are_models_times_temperatures(questions: Path) -> None:
    two = lines(estimate(questions, tiny_config()))
    three = lines(estimate(questions, tiny_config(temperatures=(0.7, 0.9, 1.0))))
    for agent in ("generator", "verifier"):  # 3 questions x 2 aliases x temperatures
        assert two[agent].calls == pytest.approx(3 * 2 * 2)
        assert three[agent].calls == pytest.approx(3 * 2 * 3)
    assert (three["generator"].calls_min, three["generator"].calls_max) == (18, 18)
    assert two["generator"].aliases == ["a", "b"] and two["generator"].models == [
        "model-a",
        "model-b",
    ]
    assert two["reverifier"].aliases == ["a"]


def test_easy_questions_rank_every_correct_path_and_summarize_the_kept_ones(
    questions: Path,
) -> None:
    result = estimate(questions, tiny_config(), observed=only("easy", 0))  # 4 of 4 correct
    by = lines(result)
    assert result.tier_mix == {"easy": 1.0, "medium": 0.0, "difficult": 0.0}
    assert by["ranker"].calls == 3 * 4  # more Correct paths than keep: each one is scored
    assert by["summarizer"].calls == 3 * 2 == result.examples
    assert by["refiner"].calls == by["regenerator"].calls == by["reverifier"].calls == 0
    # With exactly `keep` Correct paths there is nothing to choose: no ranker call.
    assert (
        lines(estimate(questions, tiny_config(), observed=only("medium", 2)))["ranker"].calls == 0
    )


def test_medium_rounds_follow_the_pass_rate_and_the_attempts_bound(questions: Path) -> None:
    always = lines(estimate(questions, tiny_config(), observed=only("medium", 2, passes=10)))
    assert always["refiner"].calls == always["reverifier"].calls == 3 * 2  # 1 round per kept CoT
    never = estimate(
        questions, tiny_config("agents.refiner.attempts=3"), observed=only("medium", 2, passes=0)
    )
    by = lines(never)
    assert by["refiner"].calls == by["reverifier"].calls == 3 * 2 * 3  # every attempt used
    assert by["summarizer"].calls == never.examples == 3 * 2  # the originals are kept
    assert by["refiner"].calls_max == 3 * 2 * 3


def test_difficult_questions_regenerate_and_are_rejected_when_every_round_fails(
    questions: Path,
) -> None:
    failing = estimate(questions, tiny_config(), observed=only("difficult", 4, passes=0))
    by = lines(failing)
    assert by["regenerator"].calls == by["reverifier"].calls == 3 * 2  # attempts = 2
    assert by["ranker"].calls == by["refiner"].calls == 0
    assert by["summarizer"].calls == failing.examples == 0
    half = estimate(questions, tiny_config(), observed=only("difficult", 3, passes=5))
    assert lines(half)["regenerator"].calls == pytest.approx(3 * 1.5)  # 1 + 0.5 rounds
    assert half.examples == pytest.approx(3 * 0.75)  # passes within 2 rounds: 1 - 0.5**2


def test_without_observations_the_assumptions_say_so(questions: Path) -> None:
    result = estimate(questions, tiny_config("agents.summarizer.max_tokens=50"))
    by = lines(result)
    assert result.tier_mix == DEFAULT_TIER_MIX
    assert any("tier mix" in note and "ASSUMED" in note for note in result.assumptions)
    assert any("characters / 4" in note and "heuristic" in note for note in result.assumptions)
    assert by["generator"].reply_tokens_per_call == DEFAULT_REPLY_TOKENS["generator"]
    assert by["summarizer"].reply_tokens_per_call == 50  # the default capped at max_tokens
    assert "capped at max_tokens 50" in by["summarizer"].reply_source
    for line in result.lines:
        assert line.calls_min <= line.calls <= line.calls_max


def test_observed_reply_lengths_are_used_from_enough_calls(questions: Path) -> None:
    calls = {"verifier": MIN_OBSERVED_CALLS, "ranker": MIN_OBSERVED_CALLS - 1}
    seen = Observed(reply_tokens={"verifier": 42.0, "ranker": 7.0}, reply_calls=calls)
    by = lines(estimate(questions, tiny_config(), observed=seen))
    assert by["verifier"].reply_tokens_per_call == 42.0
    assert by["verifier"].completion_tokens == 42.0 * by["verifier"].calls
    assert by["reverifier"].reply_tokens_per_call == 42.0  # same prompt and model
    assert by["ranker"].reply_tokens_per_call == DEFAULT_REPLY_TOKENS["ranker"]  # too few calls
    assert by["verifier"].reply_source == f"observed mean of {MIN_OBSERVED_CALLS} verifier calls"


def test_reply_token_overrides_win_and_size_the_prompts_that_read_them(questions: Path) -> None:
    seen = Observed(reply_tokens={"generator": 999.0}, reply_calls={"generator": 500})
    short = lines(estimate(questions, tiny_config(), observed=seen, reply_tokens={"generator": 0}))
    long = lines(estimate(questions, tiny_config(), observed=seen, reply_tokens={"generator": 300}))
    assert long["generator"].completion_tokens == 300 * long["generator"].calls
    assert long["generator"].reply_source == "--reply-tokens"
    for reader in ("verifier", "ranker"):  # a 300-token CoT adds 300 prompt tokens per call
        per_call = long[reader].prompt_tokens / long[reader].calls
        assert per_call - short[reader].prompt_tokens / short[reader].calls == pytest.approx(300)
    with pytest.raises(ValueError, match="unknown agent"):
        estimate(questions, tiny_config(), reply_tokens={"judge": 10})


def test_prompt_tokens_equal_a_literal_render_with_the_placeholder(questions: Path) -> None:
    reply = {"generator": 123, "verifier": 45}
    result = estimate(questions, tiny_config(), reply_tokens=reply)
    cot = "x" * (123 * CHARS_PER_TOKEN)
    chars = 0
    for q in load_questions(questions):
        block = format_question_block(q.question, q.options, q.context)
        prompt = render("verifier", question_block=block, gold_answer=q.gold_text(), cot=cot)
        chars += sum(len(m["content"]) for m in prompt.messages)
    verifier = lines(result)["verifier"]
    assert verifier.prompt_tokens / verifier.calls == pytest.approx(chars / 3 / CHARS_PER_TOKEN)


def test_cost_uses_each_alias_price_and_leaves_unpriced_ones_out(questions: Path) -> None:
    priced = ("models.a.price_input_per_mtok=3", "models.a.price_output_per_mtok=15")
    result = estimate(questions, tiny_config(*priced))
    by = lines(result)
    verifier = by["verifier"]
    expected = (verifier.prompt_tokens * 3 + verifier.completion_tokens * 15) / 1e6
    assert verifier.cost == pytest.approx(expected)
    assert by["generator"].cost is None  # alias b has no price
    assert result.unpriced_aliases == ["b"]
    assert result.totals.cost == pytest.approx(sum(x.cost for x in result.lines if x.cost))
    assert any("no price for b" in note for note in result.assumptions)

    everything = estimate(questions, tiny_config(*priced, "models.b.price_input_per_mtok=1"))
    gen = lines(everything)["generator"]  # half the calls at a's prices, half at b's
    half_a = (gen.prompt_tokens * 3 + gen.completion_tokens * 15) / 2e6
    assert gen.cost == pytest.approx(half_a + gen.prompt_tokens * 1 / 2e6)
    assert everything.unpriced_aliases == []
    assert everything.cost_per_example == pytest.approx(
        everything.totals.cost / everything.examples
    )
    assert everything.totals.cost_min <= everything.totals.cost <= everything.totals.cost_max

    unpriced = estimate(questions, tiny_config())
    assert unpriced.totals.cost is None and unpriced.cost_per_example is None
    json.dumps(unpriced.model_dump(mode="json"))  # JSON-able
