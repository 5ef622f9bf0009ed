"""Prices, cost reporting and `run --budget`, through the CLI on SQLite and Postgres."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from reasonmed.mockserver.process import MockServerProcess
from tests.support.cli import reasonmed
from tests.support.pipeline import MOCK_CONFIG, QUESTIONS, mock_overrides, query

RUN = "budgeted"
ALIASES = ("qwen72b", "huatuo70b", "r1distill70b", "gpt4o", "o1mini", "gpt4omini")
PRICE_IN, PRICE_OUT = 2.0, 8.0  # USD per million tokens


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServerProcess]:
    with MockServerProcess(answer_key=QUESTIONS) as server:
        yield server


def _priced(mock: MockServerProcess) -> list[str]:
    sets = [a for o in mock_overrides(mock.base_url) for a in ("--set", o)]
    for alias in ALIASES:
        sets += ["--set", f"models.{alias}.price_input_per_mtok={PRICE_IN}"]
        sets += ["--set", f"models.{alias}.price_output_per_mtok={PRICE_OUT}"]
    return sets


def _status(db_url: str) -> dict:
    done = reasonmed("status", "--run-id", RUN, "--db", db_url, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_budget_stops_resumably_and_cost_totals_survive_resumes(
    db_url: str, mock: MockServerProcess, tmp_path: Path
) -> None:
    questions = tmp_path / "twelve.jsonl"
    questions.write_text("\n".join(QUESTIONS.read_text().splitlines()[:12]) + "\n")
    base = ["run", str(questions), "--config", str(MOCK_CONFIG), "--db", db_url,
            "--run-id", RUN, "--concurrency", "2", *_priced(mock)]  # fmt: skip

    # A budget with no prices cannot be enforced: refused before any call.
    plain = [a for o in mock_overrides(mock.base_url) for a in ("--set", o)]
    unpriced = reasonmed("run", str(questions), "--config", str(MOCK_CONFIG), "--db", db_url,
                         "--run-id", "unpriced", "--budget", "1", *plain)  # fmt: skip
    assert unpriced.returncode == 2 and "--budget needs a price" in unpriced.stderr

    first = reasonmed(*base, "--budget", "0.02")
    assert first.returncode == 4, first.stderr
    assert "budget reached" in first.stderr and "--budget AMOUNT" in first.stderr
    status = _status(db_url)
    finished = status["questions"]["done"] + status["questions"]["rejected"]
    assert 0 < finished < 12
    assert status["questions"]["running"] == 0  # in-flight questions were allowed to finish
    spent = status["cost"]["total"]
    assert spent >= 0.02
    # Stored per call at the run's prices: the total is the token arithmetic, exactly.
    tokens = query(db_url, "SELECT sum(prompt_tokens), sum(completion_tokens), sum(cost) "
                   f"FROM rm_llm_calls WHERE run_id = '{RUN}' AND NOT cache_hit")[0]  # fmt: skip
    assert tokens[2] == pytest.approx((tokens[0] * PRICE_IN + tokens[1] * PRICE_OUT) / 1e6)
    assert spent == pytest.approx(tokens[2])
    per_question = spent / finished
    assert spent < 0.02 + 3 * per_question  # overshoot bounded by the questions in flight

    # The same budget again: already spent, so nothing starts and nothing is called.
    before = mock.stats()["requests"]
    again = reasonmed(*base, "--budget", "0.02")
    assert again.returncode == 4 and mock.stats()["requests"] == before

    # A higher budget, then none: the run completes; totals add up over the sessions.
    more = reasonmed(*base, "--budget", "1000")
    assert more.returncode == 0, more.stderr
    status = _status(db_url)
    assert status["questions"]["done"] + status["questions"]["rejected"] == 12
    total = query(db_url, f"SELECT sum(cost) FROM rm_llm_calls WHERE run_id = '{RUN}'")[0][0]
    assert status["cost"]["total"] == pytest.approx(total) and total > spent
    assert status["cost"]["per_example"] == pytest.approx(total / status["examples"])
    assert status["cost"]["unpriced_calls"] == 0
    by_tier = {row["tier"]: row for row in status["calls"]["by_tier"]}
    assert set(by_tier) <= {"easy", "medium", "difficult"}
    assert sum(r["cost"] for r in by_tier.values()) == pytest.approx(total)
    assert sum(r["cost"] for r in status["calls"]["by_agent"]) == pytest.approx(total)
    table = reasonmed("status", "--run-id", RUN, "--db", db_url)
    assert "cost per example" in table.stdout and "$" in table.stdout
