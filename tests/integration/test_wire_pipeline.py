"""`client: http` end to end: the sample run gives the same training data as ChatOpenAI.

The mock is deterministic per request body, so two runs that send the same requests get the same
replies: identical exports prove the lean client sends and reads what ChatOpenAI does, through the
whole pipeline (seeds, sampling, length-cut resamples, usage accounting).
"""

from __future__ import annotations

import json
from pathlib import Path

from reasonmed.mockserver.process import MockServerProcess
from tests.support.cli import mock_sets, reasonmed
from tests.support.pipeline import MOCK_CONFIG, QUESTIONS, query

ALIASES = ("qwen72b", "huatuo70b", "r1distill70b", "gpt4o", "o1mini", "gpt4omini")


def run_with(client: str, mock: MockServerProcess, tmp_path: Path) -> tuple[str, str]:
    """Run the sample questions with every alias on ``client``; (db url, reasonmed export)."""
    db = f"sqlite:///{tmp_path / f'{client}.db'}"
    sets = [a for alias in ALIASES for a in ("--set", f"models.{alias}.client={client}")]
    ran = reasonmed("run", str(QUESTIONS), "--config", str(MOCK_CONFIG), "--db", db,
                    "--run-id", "same", *mock_sets(mock), *sets)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    out = tmp_path / f"{client}.jsonl"
    exported = reasonmed("export", "--run-id", "same", "--variant", "reasonmed",
                         "--out", str(out), "--db", db)  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    return db, out.read_text()


def test_http_and_sdk_clients_make_the_same_dataset(tmp_path: Path) -> None:
    with MockServerProcess(answer_key=QUESTIONS) as mock:
        sdk_db, sdk = run_with("sdk", mock, tmp_path)
        requests_sdk = mock.stats()["requests"]
        http_db, http = run_with("http", mock, tmp_path)
        requests_http = mock.stats()["requests"] - requests_sdk
    assert requests_http == requests_sdk > 500
    rows = [json.loads(line) for line in http.splitlines()]
    assert len(rows) > 30
    assert sorted(http.splitlines()) == sorted(sdk.splitlines())
    usage = "SELECT node, sum(prompt_tokens), sum(completion_tokens), count(*) FROM rm_llm_calls " \
            "GROUP BY node ORDER BY node"  # fmt: skip
    assert query(http_db, usage) == query(sdk_db, usage)
