"""Runs against a faulty endpoint: 10% 429s, 5% 500s, 5% malformed replies (the mock's mix at a
fault rate of 0.2). Every question must end done, rejected, or failed with a typed reason; the
failed ones are retried by the next run; a run after everything finished calls nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from reasonmed.mockserver.process import MockServerProcess
from reasonmed.sources.question_files import load_questions
from tests.support.cli import reasonmed
from tests.support.pipeline import MOCK_CONFIG, QUESTIONS, mock_overrides, query

RUN = "faulty"


@pytest.fixture(scope="module")
def faulty() -> Iterator[MockServerProcess]:
    with MockServerProcess(answer_key=QUESTIONS, fault_rate=0.2) as server:
        yield server


@pytest.mark.parametrize("client", ["sdk", "http"])
def test_every_question_ends_final_or_with_a_typed_reason(db_url, faulty, client) -> None:
    sets = [a for o in mock_overrides(faulty.base_url) for a in ("--set", o)]
    # Few retries, so some questions do fail and the failure path is exercised too.
    aliases = ("qwen72b", "huatuo70b", "r1distill70b", "gpt4o", "o1mini", "gpt4omini")
    sets += [a for alias in aliases for a in ("--set", f"models.{alias}.max_retries=1")]
    sets += [a for alias in aliases for a in ("--set", f"models.{alias}.client={client}")]
    command = ["run", str(QUESTIONS), "--config", str(MOCK_CONFIG), "--db", db_url,
               "--run-id", RUN, "--concurrency", "16", *sets]  # fmt: skip
    first = reasonmed(*command)
    assert first.returncode in (0, 1), first.stderr
    total = len(load_questions(QUESTIONS))

    status = json.loads(reasonmed("status", "--run-id", RUN, "--db", db_url, "--json").stdout)
    assert status["total_questions"] == total
    assert sum(status["questions"].values()) == total
    assert status["questions"]["pending"] == status["questions"]["running"] == 0
    # A run that left failed questions is "incomplete"; one with every question final, complete.
    assert status["status"] == ("incomplete" if status["questions"]["failed"] else "complete")

    listed = reasonmed("failures", "--run-id", RUN, "--db", db_url, "--json")
    assert listed.returncode == 0, listed.stderr
    report = json.loads(listed.stdout)
    failed = [r for r in report["questions"] if r["status"] == "failed"]
    rejected = [r for r in report["questions"] if r["status"] == "rejected"]
    assert len(failed) == status["questions"]["failed"]
    assert len(rejected) == status["questions"]["rejected"]
    for row in failed:  # typed: which node, which model, which error, how many attempts
        failure = row["failure"]
        assert failure["kind"] in {"rate_limited", "server_error"}, json.dumps(failure)
        assert failure["node"] and failure["model"] and failure["attempts"] >= 2  # 1 retry
        assert failure["error"] and row["reason"]
    assert all(r["reason"] for r in rejected)
    assert sum(report["summary"]["failed_by_kind"].values()) == len(failed)
    assert (first.returncode == 1) == bool(failed)
    if failed:
        assert (
            "retried by running the same"
            in reasonmed("failures", "--run-id", RUN, "--db", db_url).stderr
        )

    # Malformed verifier replies were recorded as parse failures and re-asked, not guessed.
    verify = query(
        db_url,
        f"SELECT parsed FROM rm_llm_calls WHERE run_id = '{RUN}' AND node = 'verify'",
    )
    parsed = [json.loads(p) if isinstance(p, str) else p for (p,) in verify]
    assert any(p and p.get("failure") for p in parsed)
    errors = query(
        db_url,
        f"SELECT count(*) FROM rm_llm_calls WHERE run_id = '{RUN}' AND error IS NOT NULL",
    )[0][0]
    assert errors >= len(failed)

    # Retrying: each further run only retries what failed, until everything is final.
    for _ in range(4):
        if not reasonmed("failures", "--run-id", RUN, "--db", db_url, "--json").stdout.count(
            '"status": "failed"'
        ):
            break
        again = reasonmed(*command)
        assert again.returncode in (0, 1), again.stderr
    final = query(db_url, f"SELECT status, failure FROM rm_questions WHERE run_id = '{RUN}'")
    assert {s for s, _ in final} <= {"done", "rejected"}
    assert all(f is None for _, f in final)  # a retried question's old failure is cleared

    before = faulty.stats()["requests"]
    done = reasonmed(*command)
    assert done.returncode == 0, done.stderr
    assert faulty.stats()["requests"] == before  # a finished run calls nothing
    status = json.loads(reasonmed("status", "--run-id", RUN, "--db", db_url, "--json").stdout)
    assert status["status"] == "complete"
