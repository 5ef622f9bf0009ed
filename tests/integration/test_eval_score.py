"""`eval score`: a finished run's examples and an external JSONL file, judged by the mock.

The judge's mock endpoint breaks about half of its replies (fault injection, "malformed"), and
`agents.judge.parse_attempts=1` keeps them broken, so the unparseable share is really exercised.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterator
from pathlib import Path

import pytest

from reasonmed.core.config import load_config
from reasonmed.evals.score import ScoreRequest, run_score
from reasonmed.mockserver.process import MockServerProcess
from reasonmed.prompts import template_hashes
from reasonmed.sources.question_files import load_questions
from reasonmed.storage.db import Database
from reasonmed.storage.eval_store import EvalRow, EvalStore
from reasonmed.storage.examples import instruction_for
from tests.support.cli import mock_sets, reasonmed
from tests.support.pipeline import MOCK_CONFIG, QUESTIONS, mock_overrides, query

ONE_ATTEMPT = ["--set", "agents.judge.parse_attempts=1"]


@pytest.fixture(scope="module")
def judge() -> Iterator[MockServerProcess]:
    """The endpoint the judge calls: every other reply or so is broken JSON."""
    with MockServerProcess(
        answer_key=QUESTIONS, fault_rate=0.5, fault_kinds=("malformed",)
    ) as server:
        yield server


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> tuple[str, str]:
    """(db url, run id) of two sample questions run through the CLI against a clean mock."""
    folder = tmp_path_factory.mktemp("scored-run")
    two = folder / "two.jsonl"
    two.write_text("".join(QUESTIONS.read_text().splitlines(keepends=True)[:2]))
    db = f"sqlite:///{folder / 'run.db'}"
    with MockServerProcess(answer_key=QUESTIONS) as mock:
        done = reasonmed(
            "run", str(two), "--config", str(MOCK_CONFIG), "--db", db, *mock_sets(mock)
        )
    assert done.returncode == 0, done.stderr
    return db, "two"


def _stored_scores(db_url: str, eval_id: str) -> tuple[list[int], EvalRow | None]:
    db = Database.from_url(db_url)
    try:
        store = EvalStore(db)
        items = store.items(eval_id)
        row = store.get_eval(eval_id)
    finally:
        db.close()
    return [i.result["score"] for i in items if i.result["score"] is not None], row


def _check_statistics(report: dict, db_url: str) -> None:
    """What every score report must satisfy, whatever the judge said."""
    scores, checks = report["scores"], report["checks"]
    assert report["n"] == report["sampled"] and report["pending"] == 0
    assert scores["judged"] + checks["blocked_items"] == report["n"]
    assert scores["scored"] + scores["unparseable"] == scores["judged"]
    assert sum(scores["distribution"].values()) == scores["scored"]
    assert scores["unparseable_share"] == pytest.approx(scores["unparseable"] / scores["judged"])
    parsed, row = _stored_scores(db_url, report["eval_id"])
    assert len(parsed) == scores["scored"]
    assert scores["mean"] == pytest.approx(statistics.mean(parsed))  # unparseable left out
    assert "not as 0" in report["note"]
    assert row is not None and row.prompt_hashes == template_hashes()
    assert row.status == "complete"


def test_score_a_finished_run_through_the_cli(finished_run, judge) -> None:
    db, run_id = finished_run
    [(examples,)] = query(db, f"SELECT count(*) FROM rm_examples WHERE run_id = '{run_id}'")
    before = judge.stats()["requests"]
    done = reasonmed(
        "eval",
        "score",
        "--run-id",
        run_id,
        "--config",
        str(MOCK_CONFIG),
        "--db",
        db,
        "--json",
        *mock_sets(judge),
        *ONE_ATTEMPT,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["eval_id"] == f"score-{run_id}-reasonmed-n3000-s0"
    assert report["n"] == examples > 0
    # The pipeline's examples are verified: they pass every deterministic check.
    assert report["checks"]["blocked_items"] == 0 and report["checks"]["answer_checked"] == examples
    assert report["checks"]["flags"] == {"no_answer": 0, "answer_mismatch": 0}
    assert judge.stats()["requests"] - before == report["scores"]["judged"] == examples
    _check_statistics(report, db)
    config = load_config(MOCK_CONFIG, [*mock_overrides(judge.base_url), ONE_ATTEMPT[1]])
    assert report["config_hash"] == config.config_hash()


def _external_file(path: Path) -> dict[str, int]:
    """20 answered records (every 4th with a wrong letter) and 3 structurally broken ones."""
    records = []
    for i, question in enumerate(load_questions(QUESTIONS)[:20]):
        wrong = next(letter for letter in question.options if letter != question.answer)
        letter = wrong if i % 4 == 0 else question.answer
        output = f"The findings fit option {letter} best.\n\nFinal answer: {letter}"
        records.append(
            {"instruction": instruction_for(question), "output": output, "answer": question.answer}
        )
    records += [
        {"instruction": "Q?\nA. a\nB. b", "output": "  "},
        {"instruction": "Q?\nA. a\nB. b", "output": "<think>The patient is probably"},
        {"instruction": "Q?\nA. a\nB. b", "output": "x" * 2500 + "\n\nFinal answer: A"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return {"answered": 20, "wrong": 5}


async def test_score_an_external_file_with_checks_and_unparseable_replies(
    db_url: str, judge: MockServerProcess, tmp_path: Path
) -> None:
    expected = _external_file(tmp_path / "other.jsonl")
    request = ScoreRequest(
        db_url=db_url,
        config_path=MOCK_CONFIG,
        input_path=tmp_path / "other.jsonl",
        overrides=[*mock_overrides(judge.base_url), ONE_ATTEMPT[1]],
        max_chars=2000,
    )
    before = (await judge.astats())["requests"]
    report = await run_score(request)
    sent = (await judge.astats())["requests"] - before
    checks, scores = report["checks"], report["scores"]
    assert report["n"] == 23
    assert checks["blocked"] == {"empty": 1, "truncated": 1, "too_long": 1}
    assert sent == scores["judged"] == expected["answered"]  # blocked records never sent
    assert checks["flags"] == {"no_answer": 0, "answer_mismatch": expected["wrong"]}
    assert checks["flagged_items"] == expected["wrong"]
    assert 0 < scores["unparseable"] < scores["judged"]
    assert scores["unparseable_replies"] == scores["unparseable"]
    _check_statistics(report, db_url)
    config = load_config(MOCK_CONFIG, request.overrides)
    assert report["config_hash"] == config.config_hash()

    again = await run_score(request)
    assert (await judge.astats())["requests"] - before == sent  # all stored: no call
    assert again["scores"] == scores
