"""`reasonmed estimate` as users run it, and how its figures compare with a real run on the mock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from reasonmed.cli import main as cli
from reasonmed.core.config import load_config
from reasonmed.graph.estimate import LINES, estimate
from reasonmed.graph.observed_runs import observe_runs
from reasonmed.mockserver.process import MockServerProcess
from reasonmed.storage.db import Database
from tests.support.cli import reasonmed
from tests.support.pipeline import MOCK_CONFIG, QUESTIONS, ROOT, mock_overrides, query

PRICES = {"qwen72b": (1.0, 2.0), "gpt4o": (2.5, 10.0)}  # USD per million tokens, in / out
# The reality check: calls per agent within 35% of the calls logged. Prompt tokens of the agents
# whose prompts rest only on observed reply lengths (generator, verifier, ranker) within 25%: the
# mock counts tokens as characters / 4, like the estimate, so the rest is the method's own error
# (CoT cleaning, which CoTs the ranker reads), and 25% is the bound the method states.
CALLS_TOLERANCE, TOKENS_TOLERANCE = 0.35, 0.25
SAMPLE = 12  # questions run on the mock: enough for 20+ calls of most agents, about 20 s


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServerProcess]:
    with MockServerProcess(answer_key=QUESTIONS) as server:
        yield server


def _price_sets() -> list[str]:
    sets = []
    for alias, (per_in, per_out) in PRICES.items():
        sets += ["--set", f"models.{alias}.price_input_per_mtok={per_in}"]
        sets += ["--set", f"models.{alias}.price_output_per_mtok={per_out}"]
    return sets


def test_json_for_the_sample_questions_with_some_prices() -> None:
    done = reasonmed(
        "estimate", str(QUESTIONS), "--config", str(MOCK_CONFIG), *_price_sets(), "--json"
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    lines = {line["agent"]: line for line in data["lines"]}
    assert data["questions"] == 41 and list(lines) == list(LINES)
    assert lines["generator"]["calls"] == pytest.approx(41 * 9)
    assert (lines["generator"]["calls_min"], lines["generator"]["calls_max"]) == (369, 369)
    assert lines["generator"]["aliases"] == ["qwen72b", "huatuo70b", "r1distill70b"]
    assert lines["refiner"]["models"] == ["gpt-4o"]
    for agent, alias in (("verifier", "qwen72b"), ("ranker", "qwen72b"), ("refiner", "gpt4o")):
        per_in, per_out = PRICES[alias]
        line = lines[agent]
        cost = (line["prompt_tokens"] * per_in + line["completion_tokens"] * per_out) / 1e6
        assert line["cost"] == pytest.approx(cost) and cost > 0
    assert lines["generator"]["cost"] is None  # huatuo70b and r1distill70b have no price
    assert data["unpriced_aliases"] == ["gpt4omini", "huatuo70b", "o1mini", "r1distill70b"]
    priced = [line["cost"] for line in data["lines"] if line["cost"] is not None]
    assert data["totals"]["cost"] == pytest.approx(sum(priced))
    assert data["cost_per_example"] == pytest.approx(data["totals"]["cost"] / data["examples"])
    assert data["totals"]["calls_min"] <= data["totals"]["calls"] <= data["totals"]["calls_max"]
    assert any("ASSUMED" in note and "tier mix" in note for note in data["assumptions"])


def test_table_lists_agents_totals_and_assumptions(capsys) -> None:
    code = cli.main(["estimate", str(QUESTIONS), "--config", str(MOCK_CONFIG), *_price_sets()])
    out = capsys.readouterr().out
    assert code == 0
    for text in (*LINES, "total", "per example", "assumptions:", "characters / 4"):
        assert text in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((str(ROOT / "examples" / "bad_questions.jsonl"),), "line "),
        ((str(QUESTIONS), "--reply-tokens", "judge=10"), "--reply-tokens"),
        ((str(QUESTIONS), "--reply-tokens", "generator=many"), "--reply-tokens"),
        ((str(QUESTIONS), "--db", "sqlite:///no/such/runs.db"), "no such database"),
    ],
)
def test_bad_input_exits_2_before_anything_else(capsys, args, message) -> None:
    code = cli.main(["estimate", *args, "--config", str(MOCK_CONFIG)])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (ROOT / "no").exists()  # no database was created by mistake


def _actual(db: str, run_id: str) -> dict[str, tuple[int, int, int]]:
    """Calls, prompt and completion tokens per estimate line, as the call log recorded them."""
    rows = query(
        db,
        "SELECT node, agent, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens) "
        f"FROM rm_llm_calls WHERE run_id = '{run_id}' GROUP BY node, agent",
    )
    return {("reverifier" if node == "reverify" else agent): rest for node, agent, *rest in rows}


def _close(estimated: float, actual: float, tolerance: float) -> bool:
    return abs(estimated - actual) <= tolerance * actual


def test_estimate_from_an_earlier_run_matches_what_it_cost(tmp_path: Path, mock, capsys) -> None:
    sample = tmp_path / "sample.jsonl"
    sample.write_text("".join(QUESTIONS.read_text().splitlines(keepends=True)[:SAMPLE]))
    db = f"sqlite:///{tmp_path / 'run.db'}"
    sets = [arg for o in mock_overrides(mock.base_url) for arg in ("--set", o)]
    ran = reasonmed("run", str(sample), "--config", str(MOCK_CONFIG), "--db", db, *sets)
    assert ran.returncode == 0, ran.stderr
    actual = _actual(db, "sample")
    assert set(actual) == set(LINES)  # every tier, and so every agent, took part

    before = mock.stats()["requests"]
    code = cli.main(["estimate", str(sample), "--config", str(MOCK_CONFIG), "--db", db, "--json"])
    assert code == 0
    assert mock.stats()["requests"] == before  # no model was called
    data = json.loads(capsys.readouterr().out)
    lines = {line["agent"]: line for line in data["lines"]}
    for agent, (calls, _, completion_tokens) in actual.items():
        line = lines[agent]
        assert _close(line["calls"], calls, CALLS_TOLERANCE), (agent, line["calls"], calls)
        assert line["calls_min"] <= calls <= line["calls_max"]
        if line["reply_source"].startswith("observed"):  # a mean of this run's replies
            assert _close(line["completion_tokens"], completion_tokens, CALLS_TOLERANCE), agent
    for agent in ("generator", "verifier", "ranker"):
        estimated, logged = lines[agent]["prompt_tokens"], actual[agent][1]
        assert _close(estimated, logged, TOKENS_TOLERANCE), (agent, estimated, logged)
    assert any("observed over 12 finished questions" in note for note in data["assumptions"])

    # The refiner and regenerator ran fewer than 20 times, so the estimate used the defaults for
    # real models (1500 / 4000 tokens), not the mock's short rewrites. Given the rewrites' real
    # lengths as configured reply lengths, every agent's tokens land within the tolerance too.
    assert lines["refiner"]["reply_source"] == lines["regenerator"]["reply_source"] == "default"
    rewrites = {agent: actual[agent][2] / actual[agent][0] for agent in ("refiner", "regenerator")}
    config = load_config(MOCK_CONFIG)
    database = Database.from_url(db)
    try:
        observed = observe_runs(database)
    finally:
        database.close()
    configured = estimate(sample, config, observed=observed, reply_tokens=rewrites)
    for line in configured.lines:
        calls, prompt_tokens, completion_tokens = actual[line.agent]
        assert _close(line.prompt_tokens, prompt_tokens, TOKENS_TOLERANCE), line.agent
        assert _close(line.completion_tokens, completion_tokens, TOKENS_TOLERANCE), line.agent
    total_prompt = sum(a[1] for a in actual.values())
    assert _close(configured.totals.prompt_tokens, total_prompt, TOKENS_TOLERANCE)
