"""Ctrl-C during `reasonmed run`: a clean stop, the exact command to continue, nothing lost."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reasonmed.mockserver.process import MockServerProcess
from tests.support.pipeline import MOCK_CONFIG, QUESTIONS, ROOT, mock_overrides, query

CLI = [sys.executable, "-m", "reasonmed.cli.main"]


@pytest.fixture(scope="module")
def slow_mock() -> Iterator[MockServerProcess]:
    with MockServerProcess(answer_key=QUESTIONS, latency_ms=150) as server:
        yield server


def _counts(db_url: str) -> dict[str, int]:
    rows = query(db_url, "SELECT status, count(*) FROM rm_questions GROUP BY status")
    return {status: n for status, n in rows}


def _start(questions: Path, db: str, mock: MockServerProcess) -> subprocess.Popen[str]:
    sets = [a for o in mock_overrides(mock.base_url) for a in ("--set", o)]
    cmd = [
        *CLI,
        "run",
        str(questions),
        "--config",
        str(MOCK_CONFIG),
        "--db",
        db,
        "--concurrency",
        "2",
        *sets,
    ]
    return subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ}
    )


def _wait_for_done(db: str, proc: subprocess.Popen[str], at_least: int) -> None:
    deadline = time.monotonic() + 120
    while _counts(db).get("done", 0) + _counts(db).get("rejected", 0) < at_least:
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "no question finished in time"
        time.sleep(0.2)


def _continue_command(stderr: str) -> list[str]:
    line = stderr.split("Continue with:", 1)[1].strip().splitlines()[0]
    words = shlex.split(line)
    assert words[:2] == ["reasonmed", "run"]
    return [*CLI, *words[1:]]


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_stops_cleanly_and_the_printed_command_continues(
    presses: int, db_url: str, tmp_path: Path, slow_mock: MockServerProcess
) -> None:
    questions = tmp_path / "ten.jsonl"
    questions.write_text("".join(QUESTIONS.read_text().splitlines(keepends=True)[:10]))
    db = db_url
    proc = _start(questions, db, slow_mock)
    _wait_for_done(db, proc, 1)
    for _ in range(presses):
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "stopping: no new questions" in stderr
    counts = _counts(db)
    finished = counts.get("done", 0) + counts.get("rejected", 0)
    assert 1 <= finished < 10, counts  # stopped early, kept what was done
    assert query(db, "SELECT status FROM rm_runs") == [("incomplete",)]

    again = subprocess.run(
        _continue_command(stderr), cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stderr
    counts = _counts(db)
    assert counts.get("done", 0) + counts.get("rejected", 0) == 10, counts
    assert query(db, "SELECT status FROM rm_runs") == [("complete",)]
