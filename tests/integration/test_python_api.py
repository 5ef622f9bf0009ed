"""The Python API in-process, as a notebook drives it, against the mock endpoint over HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import reasonmed
from reasonmed.core.question import QuestionFileError
from reasonmed.mockserver.process import MockServerProcess
from tests.support.cli import reasonmed as cli
from tests.support.pipeline import MOCK_CONFIG, QUESTIONS, mock_overrides, query


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServerProcess]:
    with MockServerProcess(answer_key=QUESTIONS, latency_ms=60) as server:
        yield server


def records(count: int) -> list[dict[str, Any]]:
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()[:count]
    return [json.loads(line) for line in lines]


def test_run_then_status_and_trace_match_the_cli(tmp_path: Path, mock: MockServerProcess) -> None:
    small = tmp_path / "four.jsonl"
    small.write_text("".join(json.dumps(r) + "\n" for r in records(4)), encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'api.db'}"
    result = reasonmed.run(
        small, config=MOCK_CONFIG, db=db, overrides=mock_overrides(mock.base_url)
    )
    assert isinstance(result, reasonmed.RunSummary)
    assert result.run_id == "four" and result.complete and result.finished == 4

    status = reasonmed.status("four", db=db)
    printed = json.loads(cli("status", "--run-id", "four", "--db", db, "--json").stdout)
    assert status.model_dump(mode="json") == printed
    assert status.status == "complete" and status.total_questions == 4

    qid = records(1)[0]["id"]
    trace = reasonmed.trace("four", qid, db=db)
    printed = json.loads(cli("trace", "--run-id", "four", "--question", qid, "--db", db,
                             "--json").stdout)  # fmt: skip
    assert trace.trace_schema == printed["schema"] and trace.tier == printed["tier"]
    assert [s["step"] for s in trace.steps] == [s["step"] for s in printed["steps"]]
    with pytest.raises(LookupError, match="no question"):
        reasonmed.trace("four", "nope", db=db)

    written = reasonmed.export("four", tmp_path / "api", db=db, format="messages",
                               splits={"validation": 0.25}, seed=3)  # fmt: skip
    assert written.total == status.examples
    by_cli = cli("export", "--run-id", "four", "--db", db, "--format", "messages", "--split",
                 "validation=0.25", "--seed", "3", "--out", str(tmp_path / "cli"))  # fmt: skip
    assert by_cli.returncode == 0, by_cli.stderr
    for split, path in written.files.items():
        assert Path(path).read_bytes() == (tmp_path / "cli" / f"{split}.jsonl").read_bytes()


def test_records_and_a_config_mapping(tmp_path: Path, mock: MockServerProcess) -> None:
    config = yaml.safe_load(MOCK_CONFIG.read_text(encoding="utf-8"))
    for spec in config["models"].values():
        spec["base_url"] = mock.base_url
    db = f"sqlite:///{tmp_path / 'api.db'}"
    with pytest.raises(ValueError, match="run_id"):
        reasonmed.run(records(2), config=config, db=db)
    result = reasonmed.run(records(3), config=config, db=db, run_id="dicts")
    assert result.complete and result.finished == 3
    bad = [*records(2), {"question": "no options", "answer": "A"}]
    with pytest.raises(QuestionFileError, match="line 3"):
        reasonmed.run(bad, config=config, db=db, run_id="bad")


def test_a_datasets_dataset(tmp_path: Path, mock: MockServerProcess) -> None:
    datasets = pytest.importorskip("datasets")
    rows = records(2)
    for row in rows:  # a Dataset wants one type per column: options as a list
        row["options"] = (
            list(row["options"].values()) if isinstance(row["options"], dict) else row["options"]
        )
    dataset = datasets.Dataset.from_list(rows)
    db = f"sqlite:///{tmp_path / 'api.db'}"
    result = reasonmed.run(dataset, config=MOCK_CONFIG, db=db, run_id="hf",
                           overrides=mock_overrides(mock.base_url))  # fmt: skip
    assert result.complete and result.finished == 2


async def test_cancelled_then_continued(tmp_path: Path, mock: MockServerProcess) -> None:
    """Cancelling the task keeps what was checkpointed; the same call continues, and no call
    that completed before is made again."""
    small = tmp_path / "eight.jsonl"
    small.write_text("".join(json.dumps(r) + "\n" for r in records(8)), encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'api.db'}"
    options: dict[str, Any] = {
        "config": MOCK_CONFIG,
        "db": db,
        "overrides": mock_overrides(mock.base_url),
        "concurrency": 2,
    }
    task = asyncio.create_task(reasonmed.arun(small, **options))
    for _ in range(600):
        await asyncio.sleep(0.1)
        done = query(db, "SELECT count(*) FROM rm_questions WHERE status = 'done'")
        if done and done[0][0] >= 1:
            break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert reasonmed.status("eight", db=db).status == "incomplete"
    keys_before = {k for (k,) in query(db, "SELECT request_key FROM rm_llm_calls WHERE error IS "
                                           "NULL AND cache_hit = 0")}  # fmt: skip
    result = await reasonmed.arun(small, **options)
    assert result.complete and result.finished == 8
    fresh = query(db, "SELECT request_key FROM rm_llm_calls WHERE cache_hit = 0 AND error IS NULL")
    repeated = [k for (k,) in fresh].count
    assert all(repeated(key) == 1 for key in keys_before)  # nothing paid twice
    assert reasonmed.status("eight", db=db).status == "complete"


async def test_run_inside_an_event_loop_points_to_arun() -> None:
    with pytest.raises(RuntimeError, match="arun"):
        reasonmed.run(QUESTIONS)
