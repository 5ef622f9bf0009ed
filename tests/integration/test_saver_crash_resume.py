"""A real compiled graph, SIGKILLed mid-step in a subprocess, resumes with only the lost task."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from reasonmed.storage import SQLAlchemySaver
from reasonmed.storage.schema import checkpoint_writes
from tests.support.crash_graph import FANOUT

ROOT = Path(__file__).resolve().parents[2]


def _spawn(db: str, log: Path, *, resume: bool, block: bool) -> subprocess.Popen[str]:
    env = {**os.environ, "CRASH_BLOCK": "1" if block else "0"}
    cmd = [
        sys.executable,
        "-m",
        "tests.support.crash_graph",
        "--db",
        db,
        "--thread",
        "t1",
        "--log",
        str(log),
    ]
    if resume:
        cmd.append("--resume")
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _saved_work_writes(saver: SQLAlchemySaver) -> int:
    """Writes of the fan-out tasks checkpointed against the step that is still running."""
    latest = saver.get_tuple({"configurable": {"thread_id": "t1"}})
    if latest is None:
        return 0
    query = select(func.count()).where(
        checkpoint_writes.c.thread_id == "t1",
        checkpoint_writes.c.checkpoint_id == latest.config["configurable"]["checkpoint_id"],
        checkpoint_writes.c.channel == "results",
    )
    with saver.engines.sync.connect() as conn:
        return conn.execute(query).scalar() or 0


def test_sigkill_mid_fanout_then_resume(db_url: str, tmp_path: Path) -> None:
    log = tmp_path / "tasks.log"
    saver = SQLAlchemySaver.from_url(db_url)
    proc = _spawn(db_url, log, resume=False, block=True)
    try:
        deadline = time.monotonic() + 60
        # The 8 tasks that finish have their writes checkpointed; the 9th blocks.
        while _saved_work_writes(saver) < FANOUT - 1:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "tasks never checkpointed their writes"
            time.sleep(0.05)
        assert f"start {FANOUT - 1}" in log.read_text()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL

    resumed = _spawn(db_url, log, resume=True, block=False)
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    results = json.loads(out.strip().splitlines()[-1])
    assert sorted(results) == sorted(["planned", *[f"r{i}" for i in range(FANOUT)], "collected"])

    starts = Counter(line for line in log.read_text().splitlines())
    assert starts["plan"] == 1
    for i in range(FANOUT - 1):
        assert starts[f"start {i}"] == 1, f"task {i} ran again after the resume"
    assert starts[f"start {FANOUT - 1}"] == 2  # only the task in flight at the kill re-ran
    assert starts["collect"] == 1
    saver.close()
