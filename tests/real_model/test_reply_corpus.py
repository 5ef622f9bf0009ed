"""The project's reply readers against replies a real model gave (no model needed to run these).

tests/fixtures/real_replies/smollm2.jsonl holds what SmolLM2-135M-Instruct answered in the
real-model tests, each with what a person reads in it, written down by reading it once:
`expected.letter` (the option a CoT or summary concludes with, null for none), `expected.verdict`
(Correct / Error / null for no verdict) or `expected.score` (0-5 / null). A row whose `known_gap`
says where the reader and the person disagree is an expected failure, and a strict one: the day a
reader change fixes it, the test says so and the row's `known_gap` is deleted.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from reasonmed.agents.output_readers import parse_score, parse_verdict
from reasonmed.agents.outputs import Score, Verdict
from reasonmed.replies.answers import extract_answer
from reasonmed.replies.reply_types import ParseFailure

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "real_replies" / "smollm2.jsonl"
ROWS: list[dict[str, Any]] = [
    json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()
]
ANSWER_AGENTS = {"generator", "refiner", "regenerator", "summarizer"}


def _cases(agents: set[str]) -> list[Any]:
    return [
        pytest.param(
            row,
            id=row["id"],
            marks=[pytest.mark.xfail(strict=True, reason=row["known_gap"])]
            if "known_gap" in row
            else [],
        )
        for row in ROWS
        if row["agent"] in agents
    ]


def test_the_corpus_is_real_replies_of_every_kind() -> None:
    assert 30 <= len(ROWS) <= 80
    assert len({row["id"] for row in ROWS}) == len(ROWS)
    agents = Counter(row["agent"] for row in ROWS)
    assert {"generator", "verifier", "ranker", "regenerator", "summarizer"} <= set(agents)
    for row in ROWS:
        assert row["reply"].strip() and row["prompt_summary"] and row["options"]
        assert row["gold"] in row["options"]
        expected = row["expected"]
        if row["agent"] in ANSWER_AGENTS:
            assert expected["letter"] is None or expected["letter"] in row["options"]
        elif row["agent"] == "verifier":
            assert expected["verdict"] in (None, "Correct", "Error")
        else:
            assert expected["score"] is None or 0 <= expected["score"] <= 5


@pytest.mark.parametrize("row", _cases(ANSWER_AGENTS))
def test_extract_answer_reads_what_a_person_reads(row: dict[str, Any]) -> None:
    result = extract_answer(row["reply"], row["options"])
    assert result.letter == row["expected"]["letter"], result


@pytest.mark.parametrize("row", _cases({"verifier"}))
def test_parse_verdict_reads_what_a_person_reads(row: dict[str, Any]) -> None:
    parsed = parse_verdict(row["reply"])
    if row["expected"]["verdict"] is None:
        assert isinstance(parsed, ParseFailure), parsed
    else:
        assert isinstance(parsed, Verdict), parsed
        assert parsed.verdict == row["expected"]["verdict"]


@pytest.mark.parametrize("row", _cases({"ranker"}))
def test_parse_score_reads_what_a_person_reads(row: dict[str, Any]) -> None:
    parsed = parse_score(row["reply"])
    if row["expected"]["score"] is None:
        assert isinstance(parsed, ParseFailure), parsed
    else:
        assert isinstance(parsed, Score), parsed
        assert parsed.score == row["expected"]["score"]
