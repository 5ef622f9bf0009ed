"""The whole pipeline over real HTTP against the mock endpoint, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from reasonmed.exports.jsonl_export import export_examples
from reasonmed.graph.run_status import run_status
from reasonmed.graph.runner import RunRequest, run_pipeline
from reasonmed.graph.trace import build_trace
from reasonmed.mockserver.process import MockServerProcess
from reasonmed.sources.question_files import load_questions
from reasonmed.storage.call_log import CallLog
from reasonmed.storage.db import Database
from tests.support.pipeline import MOCK_CONFIG, QUESTIONS, mock_overrides


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServerProcess]:
    with MockServerProcess(answer_key=QUESTIONS) as server:
        yield server


async def test_sample_questions_end_to_end(db_url: str, mock: MockServerProcess, tmp_path: Path):
    request = RunRequest(
        questions=QUESTIONS,
        config_path=MOCK_CONFIG,
        db_url=db_url,
        run_id="e2e",
        overrides=mock_overrides(mock.base_url),
        concurrency=8,
    )
    before = mock.stats()["requests"]
    result = await run_pipeline(request)
    used = mock.stats()["requests"] - before
    assert result.complete, result.failed
    questions = load_questions(QUESTIONS)

    db = Database.from_url(db_url)
    try:
        status = run_status(db, "e2e")
        by_status = status["questions"]
        assert by_status["done"] + by_status["rejected"] == len(questions)
        assert by_status["rejected"] >= 1  # the difficult-reject scenario
        assert all(status["tiers"][tier] > 0 for tier in ("easy", "medium", "difficult"))

        out = tmp_path / "train.jsonl"
        count = export_examples(db, "e2e", "reasonmed", out)
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert len(rows) == count == status["examples"]
        per_question = Counter(row["id"] for row in rows)
        tiers = {row["id"]: row["tier"] for row in rows}
        for qid, n in per_question.items():
            assert n == (1 if tiers[qid] == "difficult" else 2), (qid, tiers[qid], n)
        origins = Counter(row["provenance"]["origin"] for row in rows)
        assert origins["generated"] and origins["refined"] and origins["regenerated"]
        notes = " ".join(str(row["provenance"].get("note") or "") for row in rows)
        assert "original kept" in notes  # a refinement that failed re-verification
        for row in rows:
            cot, summary = row["output"].rsplit("\n\n", 1)  # reasonmed: CoT, blank line, summary
            assert cot.strip() and summary.strip()
            assert row["instruction"].count("\n") >= 2 and "A. " in row["instruction"]

        logged = sum(row["calls"] for row in CallLog(db).usage("e2e"))
        assert logged == used  # every request the endpoint served is in the call log
    finally:
        db.close()

    # Running the same command again finds every question finished: no model call at all.
    again = mock.stats()["requests"]
    rerun = await run_pipeline(request)
    assert rerun.complete and mock.stats()["requests"] == again


async def test_one_generator_model_writes_all_paths_with_samples(
    sqlite_url: str, mock: MockServerProcess, tmp_path: Path
) -> None:
    """One model, three temperatures, three samples each: the paper's nine paths, each its own
    request (seed), and the tiers counted over all nine."""
    small = tmp_path / "three.jsonl"
    small.write_text("".join(QUESTIONS.read_text().splitlines(keepends=True)[:3]))
    overrides = [
        *mock_overrides(mock.base_url),
        'agents.generator.models=["qwen72b"]',
        "agents.generator.samples_per_temperature=3",
    ]
    request = RunRequest(
        questions=small, config_path=MOCK_CONFIG, db_url=sqlite_url, run_id="s", overrides=overrides
    )
    result = await run_pipeline(request)
    assert result.complete, result.failed
    db = Database.from_url(sqlite_url)
    try:
        qid = load_questions(small)[0].id
        rows = CallLog(db).for_question("s", qid)
        trace = build_trace(db, "s", qid)
    finally:
        db.close()
    generated = [row for row in rows if row.node == "generate"]
    assert len(generated) == 9 and {row.alias for row in generated} == {"qwen72b"}
    assert len({row.sampling["index"] for row in generated}) == 9
    assert len({row.sampling["seed"] for row in generated}) == 9
    assert Counter(row.sampling["temperature"] for row in generated) == {0.7: 3, 0.9: 3, 1.0: 3}
    assert len([row for row in rows if row.node == "verify"]) == 9
    assert " of 9 judged Error" in trace["tier_reason"]  # the tier counts over all nine
