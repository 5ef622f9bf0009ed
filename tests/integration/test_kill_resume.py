"""A `reasonmed run` killed with SIGKILL at several points, then resumed with the same command.

The resumed run must end like an uninterrupted one (same examples per question, none twice), and
no model request that had completed before the kill is sent to the model again: a repeated
request is answered from the call log (a cache hit), so each request key has at most one real
model reply.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from reasonmed.mockserver.process import MockServerProcess
from tests.support.pipeline import MOCK_CONFIG, QUESTIONS, ROOT, mock_overrides, query

CLI = [sys.executable, "-m", "reasonmed.cli.main"]


@pytest.fixture(scope="module")
def slow_mock() -> Iterator[MockServerProcess]:
    with MockServerProcess(answer_key=QUESTIONS, latency_ms=80) as server:
        yield server


def _cmd(questions: Path, db: str, mock: MockServerProcess, *extra: str) -> list[str]:
    sets = [a for o in mock_overrides(mock.base_url) for a in ("--set", o)]
    return [
        *CLI,
        "run",
        str(questions),
        "--config",
        str(MOCK_CONFIG),
        "--db",
        db,
        "--concurrency",
        "3",
        *sets,
        *extra,
    ]


def _scalar(db_url: str, sql: str) -> int:
    return int(query(db_url, sql)[0][0] or 0)


def _examples(db_url: str, run_id: str, out: Path) -> Counter[str]:
    done = subprocess.run(
        [
            *CLI,
            "export",
            "--run-id",
            run_id,
            "--variant",
            "reasonmed",
            "--out",
            str(out),
            "--db",
            db_url,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len({(r["id"], r["slot"]) for r in rows}) == len(rows)  # nothing exported twice
    return Counter(r["id"] for r in rows)


# (what to wait for before the kill, as a SQL count, and how many)
KILL_POINTS = {
    "during-generation": ("SELECT count(*) FROM rm_llm_calls WHERE agent = 'generator'", 4),
    "during-verification": ("SELECT count(*) FROM rm_llm_calls WHERE agent = 'verifier'", 4),
    "between-questions": (
        "SELECT count(*) FROM rm_questions WHERE status IN ('done', 'rejected')",
        2,
    ),
}


@pytest.fixture(scope="module")
def reference(tmp_path_factory, slow_mock) -> tuple[Path, Counter[str]]:
    """The same questions, run without interruption."""
    tmp = tmp_path_factory.mktemp("reference")
    questions = tmp / "kill.jsonl"
    questions.write_text("".join(QUESTIONS.read_text().splitlines(keepends=True)[:6]))
    db = f"sqlite:///{tmp / 'ref.db'}"
    done = subprocess.run(
        _cmd(questions, db, slow_mock), cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return questions, _examples(db, "kill", tmp / "ref.jsonl")


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_sigkill_then_the_same_command_resumes(
    point: str, db_url: str, tmp_path: Path, slow_mock: MockServerProcess, reference
) -> None:
    questions, expected = reference
    sql, at_least = KILL_POINTS[point]
    proc = subprocess.Popen(
        _cmd(questions, db_url, slow_mock),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if _scalar(db_url, sql) >= at_least:
                    break
            except Exception:  # tables not created yet
                pass
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, f"never reached {point}"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    unfinished = _scalar(
        db_url, "SELECT count(*) FROM rm_questions WHERE status NOT IN ('done', 'rejected')"
    )
    assert unfinished > 0, "the kill came too late to test anything"

    resumed = subprocess.run(
        _cmd(questions, db_url, slow_mock), cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert resumed.returncode == 0, resumed.stderr
    got = _examples(db_url, "kill", tmp_path / "out.jsonl")
    assert got == expected
    repeated = _scalar(
        db_url,
        "SELECT count(*) FROM (SELECT request_key FROM rm_llm_calls WHERE NOT cache_hit "
        "AND error IS NULL GROUP BY request_key HAVING count(*) > 1) AS twice",
    )
    assert repeated == 0, "a request that had completed was sent to the model again"
