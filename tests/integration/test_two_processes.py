"""Two `run` processes on one run: on Postgres they share the questions, never the same one at
the same time; on SQLite the second is refused with a clear error."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from reasonmed.mockserver.process import MockServerProcess
from tests.support.cli import CLI
from tests.support.pipeline import MOCK_CONFIG, QUESTIONS, ROOT, mock_overrides, query

RUN = "shared"


@pytest.fixture(scope="module")
def slow_mock() -> Iterator[MockServerProcess]:
    with MockServerProcess(answer_key=QUESTIONS, latency_ms=40) as server:
        yield server


def _command(questions: Path, db_url: str, mock: MockServerProcess) -> list[str]:
    sets = [a for o in mock_overrides(mock.base_url) for a in ("--set", o)]
    return [*CLI, "run", str(questions), "--config", str(MOCK_CONFIG), "--db", db_url,
            "--run-id", RUN, "--concurrency", "3", *sets]  # fmt: skip


def _processed(stderr: str) -> set[str]:
    """Question ids a run reported finishing (its plain progress lines: `[n/N] id: status`)."""
    return set(re.findall(r"^\[\d+/\d+\] (\S+): ", stderr, flags=re.MULTILINE))


def test_two_runs_on_postgres_share_the_questions_without_overlap(
    postgres_url: str, slow_mock: MockServerProcess, tmp_path: Path
) -> None:
    questions = tmp_path / "sixteen.jsonl"
    questions.write_text("\n".join(QUESTIONS.read_text().splitlines()[:16]) + "\n")
    command = _command(questions, postgres_url, slow_mock)
    first = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)  # fmt: skip
    time.sleep(1.5)  # the first has registered the run and is working
    second = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)  # fmt: skip
    _, err1 = first.communicate(timeout=600)
    _, err2 = second.communicate(timeout=600)
    assert first.returncode == 0, err1
    assert second.returncode == 0, err2

    one, two = _processed(err1), _processed(err2)
    assert one and two, (err1, err2)  # both did work
    assert not one & two  # never the same question twice
    statuses = query(
        postgres_url, f"SELECT question_id, status FROM rm_questions WHERE run_id = '{RUN}'"
    )
    assert len(statuses) == 16 and {s for _, s in statuses} <= {"done", "rejected"}
    assert one | two == {q for q, _ in statuses}

    # No question was generated for twice: exactly one generation per path.
    generated = Counter(q for (q,) in query(
        postgres_url,
        f"SELECT question_id FROM rm_llm_calls WHERE run_id = '{RUN}' AND node = 'generate'",
    ))  # fmt: skip
    assert set(generated.values()) == {9}

    out = tmp_path / "train.jsonl"
    exported = subprocess.run(
        [*CLI, "export", "--run-id", RUN, "--variant", "reasonmed", "--out", str(out),
         "--db", postgres_url], cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    keys = [(r["id"], r["slot"]) for r in map(json.loads, out.read_text().splitlines())]
    assert keys and len(keys) == len(set(keys))  # each question's examples exported once


def test_a_second_run_on_the_same_sqlite_run_is_refused(
    sqlite_url: str, slow_mock: MockServerProcess, tmp_path: Path
) -> None:
    questions = tmp_path / "eight.jsonl"
    questions.write_text("\n".join(QUESTIONS.read_text().splitlines()[:8]) + "\n")
    command = _command(questions, sqlite_url, slow_mock)
    first = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)  # fmt: skip
    time.sleep(1.5)
    second = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    _, err1 = first.communicate(timeout=600)
    assert first.returncode == 0, err1
    assert second.returncode == 2
    assert f"run {RUN!r} is being run by process {first.pid}" in second.stderr
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr  # the lock went with the first process
