"""`eval accuracy` against the mock examinee, whose accuracy is known, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from reasonmed.core.config import load_config
from reasonmed.evals.accuracy import AccuracyRequest, run_accuracy
from reasonmed.mockserver.process import MockServerProcess
from reasonmed.prompts import template_hashes
from reasonmed.sources.question_files import load_questions
from tests.support.cli import mock_sets, reasonmed
from tests.support.pipeline import MOCK_CONFIG, QUESTIONS, mock_overrides, query

KNOWN_ACCURACY = 0.7


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServerProcess]:
    with MockServerProcess(answer_key=QUESTIONS, examinee_accuracy=KNOWN_ACCURACY) as server:
        yield server


async def test_accuracy_matches_the_known_examinee_and_resumes_without_calls(
    db_url: str, mock: MockServerProcess
) -> None:
    questions = load_questions(QUESTIONS)
    request = AccuracyRequest(
        model="qwen72b",
        questions=QUESTIONS,
        db_url=db_url,
        config_path=MOCK_CONFIG,
        overrides=mock_overrides(mock.base_url),
        concurrency=16,
    )
    before = (await mock.astats())["requests"]
    report = await run_accuracy(request)
    assert (await mock.astats())["requests"] - before == len(questions)
    assert report["status"] == "complete" and report["failures"] == []

    overall = report["overall"]
    assert overall["n"] == report["answered"] == len(questions) == 41
    assert overall["no_answer"] == 0  # the mock always ends with "Final answer: X"
    low, high = overall["ci95"]
    # The mock gets exactly round(0.7 * 41) = 29 right. Tolerance from the CI: the known
    # accuracy lies inside the Wilson interval, and the estimate is within its half-width.
    assert low <= KNOWN_ACCURACY <= high
    assert abs(overall["rate"] - KNOWN_ACCURACY) <= (high - low) / 2
    assert overall["correct"] == round(KNOWN_ACCURACY * len(questions))
    by_source = report["by_source"]
    assert set(by_source) == {q.source for q in questions}
    for key in ("n", "correct", "no_answer"):
        assert sum(block[key] for block in by_source.values()) == overall[key]

    # What the eval ran with is recorded.
    config = load_config(MOCK_CONFIG, mock_overrides(mock.base_url))
    [(config_hash, prompts, status)] = query(
        db_url,
        "SELECT config_hash, prompt_hashes, status FROM rm_evals "
        "WHERE eval_id = 'accuracy-qwen72b-questions'",
    )
    prompts = json.loads(prompts) if isinstance(prompts, str) else prompts
    assert config_hash == config.config_hash() == report["config_hash"]
    assert prompts == template_hashes() and status == "complete"

    # The same command again: every answer is stored, so no call at all.
    before = (await mock.astats())["requests"]
    again = await run_accuracy(request)
    assert (await mock.astats())["requests"] == before
    assert again["overall"] == overall and again["calls"]["calls"] == len(questions)

    # Lost results are re-asked, and the request cache answers them: still no model request.
    _delete_items(db_url, "accuracy-qwen72b-questions", 5)
    healed = await run_accuracy(request)
    assert (await mock.astats())["requests"] == before
    assert healed["overall"] == overall
    assert healed["calls"]["cache_hits"] == 5


def _delete_items(db_url: str, eval_id: str, count: int) -> None:
    from sqlalchemy import text

    from reasonmed.storage.db import Database

    db = Database.from_url(db_url)
    try:
        with db.connect(write=True) as conn:
            ids = conn.execute(
                text("SELECT item_id FROM rm_eval_items WHERE eval_id = :e ORDER BY position"),
                {"e": eval_id},
            ).scalars()
            doomed = list(ids)[:count]
            for item_id in doomed:
                conn.execute(
                    text("DELETE FROM rm_eval_items WHERE eval_id = :e AND item_id = :i"),
                    {"e": eval_id, "i": item_id},
                )
    finally:
        db.close()


def test_accuracy_cli_reports_json_and_refuses_another_config(tmp_path, mock) -> None:
    six = tmp_path / "six.jsonl"
    six.write_text("".join(QUESTIONS.read_text().splitlines(keepends=True)[:6]))
    db = f"sqlite:///{tmp_path / 'eval.db'}"
    common = ["--model", "gpt4o", "--questions", str(six), "--db", db, "--json"]
    done = reasonmed("eval", "accuracy", *common, "--config", str(MOCK_CONFIG), *mock_sets(mock))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["eval_id"] == "accuracy-gpt4o-six"
    assert report["model"] == {"alias": "gpt4o", "model": "gpt-4o"}
    assert report["overall"]["n"] == report["answered"] == 6 and report["pending"] == 0
    assert sum(b["correct"] for b in report["by_source"].values()) == report["overall"]["correct"]

    changed = reasonmed(
        "eval",
        "accuracy",
        *common,
        "--config",
        str(MOCK_CONFIG),
        *mock_sets(mock),
        "--set",
        "models.gpt4o.timeout_s=99",
    )
    assert changed.returncode == 3, changed.stderr
    assert "different config" in changed.stderr and "models.gpt4o.timeout_s" in changed.stderr


async def test_transport_failures_leave_items_for_the_next_run(sqlite_url, tmp_path) -> None:
    six = tmp_path / "six.jsonl"
    six.write_text("".join(QUESTIONS.read_text().splitlines(keepends=True)[:6]))
    async with MockServerProcess(
        answer_key=QUESTIONS, fault_rate=0.5, fault_kinds=("500",)
    ) as flaky:
        request = AccuracyRequest(
            model="qwen72b",
            questions=six,
            db_url=sqlite_url,
            config_path=MOCK_CONFIG,
            overrides=[*mock_overrides(flaky.base_url), "models.qwen72b.max_retries=0"],
        )
        failed_total, reports = 0, []
        for _ in range(6):  # each run retries only what failed before
            report = await run_accuracy(request)
            reports.append(report)
            failed_total += len(report["failures"])
            if report["status"] == "complete":
                break
        requests = (await flaky.astats())["requests"]
    first = reports[0]
    assert first["failures"] and first["status"] == "incomplete"
    assert first["answered"] + len(first["failures"]) == first["pending"] + first["answered"] == 6
    assert "500" in first["failures"][0] or "Internal" in first["failures"][0]
    assert reports[-1]["status"] == "complete" and reports[-1]["answered"] == 6
    assert requests == 6 + failed_total  # an answered question is never asked again
