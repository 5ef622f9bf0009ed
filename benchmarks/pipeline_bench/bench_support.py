"""What several pipeline benchmark sections share: inputs, databases, processes.

Paths and the PostgreSQL URL, the model aliases of the mock config, synthetic question files,
`Db` (a fresh SQLite file or PostgreSQL schema, read from outside the run), CPU and memory of
live processes from /proc, and `reasonmed run` in a subprocess.

`MODEL_CLIENT` and `WORKERS` are set from the command line by `bench_pipeline.main()`: they
live here only, and are changed in place.
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import yaml

from reasonmed.mockserver.process import MockServerProcess

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ROOT / "examples" / "questions.jsonl"
CONFIG = ROOT / "examples" / "config.mock.yaml"
PG_URL = os.environ.get(
    "REASONMED_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
LIBPQ_URL = PG_URL.replace("postgresql+psycopg://", "postgresql://", 1)
FINISHED = ("done", "rejected", "failed")
CLK_TCK = os.sysconf("SC_CLK_TCK")

# -- inputs, databases, processes --------------------------------------------------------------


def aliases() -> dict[str, dict[str, Any]]:
    """The model aliases of the mock config, with their settings."""
    return yaml.safe_load(CONFIG.read_text())["models"]


MODEL_CLIENT = ["http"]  # set from --model-client in main()


def point_at(urls: dict[str, str]) -> list[str]:
    """`--set` overrides pointing each alias at its endpoint, on the chosen model client."""
    return [
        override
        for alias, url in urls.items()
        for override in (
            f"models.{alias}.base_url={url}",
            f"models.{alias}.client={MODEL_CLIENT[0]}",
        )
    ]


def synthetic_questions(path: Path, n: int) -> Path:
    """`n` questions: the sample file's, cycled, each with a unique id."""
    sample = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    with path.open("w") as out:
        for i, record in zip(range(n), itertools.cycle(sample), strict=False):
            out.write(json.dumps({**record, "id": f"bench-{i:06d}"}) + "\n")
    return path


@dataclass
class Db:
    """One fresh database: a SQLite file or a PostgreSQL schema."""

    url: str
    schema: str | None = None

    @classmethod
    def fresh(cls, kind: str, tmp: Path) -> Db:
        if kind == "sqlite":
            return cls(f"sqlite:///{tmp / f'{uuid.uuid4().hex}.db'}")
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(LIBPQ_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        sep = "&" if "?" in PG_URL else "?"
        return cls(f"{PG_URL}{sep}options=-csearch_path%3D{schema}", schema)

    def drop(self) -> None:
        if self.schema:
            with psycopg.connect(LIBPQ_URL, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    def status_counts(self, run_id: str) -> dict[str, int]:
        """Questions by status, read from outside the run (empty until the run has begun)."""
        sql = "SELECT status, count(*) FROM rm_questions WHERE run_id = {} GROUP BY status"
        try:
            if self.schema is None:
                path = self.url.removeprefix("sqlite:///")
                if not Path(path).exists():
                    return {}
                with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as conn:
                    return dict(conn.execute(sql.format("?"), (run_id,)).fetchall())
            with psycopg.connect(LIBPQ_URL, options=f"-csearch_path={self.schema}") as conn:
                return dict(conn.execute(sql.format("%s"), (run_id,)).fetchall())
        except (sqlite3.Error, psycopg.Error):
            return {}

    def call_times(self, run_id: str) -> tuple[list[float], list[float]]:
        """From the call log: seconds per question (first request sent to last reply), and the
        client-side latency of every request (what the event loop saw, queueing included)."""
        sql = "SELECT question_id, created_at, latency_ms FROM rm_llm_calls WHERE run_id = {}"
        if self.schema is None:
            path = self.url.removeprefix("sqlite:///")
            with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as conn:
                rows = conn.execute(sql.format("?"), (run_id,)).fetchall()
        else:
            with psycopg.connect(LIBPQ_URL, options=f"-csearch_path={self.schema}") as conn:
                rows = conn.execute(sql.format("%s"), (run_id,)).fetchall()
        spans: dict[str, list[float]] = {}
        for question_id, created_at, latency_ms in rows:
            end = datetime.fromisoformat(created_at).timestamp()
            span = spans.setdefault(question_id, [end, end])
            span[0], span[1] = min(span[0], end - latency_ms / 1000), max(span[1], end)
        latencies = [latency_ms / 1000 for _, _, latency_ms in rows]
        return [end - start for start, end in spans.values()], latencies


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS, VmHWM, RssAnon and RssFile in MB, and user+system CPU seconds, of a live process."""
    out: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[name] = int(value.split()[0]) / 1024
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        out["cpu"] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        pass
    return out


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its live descendants (`run --workers` children)."""
    total = proc_status(pid).get("cpu", 0.0)
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return total
    return total + sum(tree_cpu(int(child)) for child in children)


def server_cpu(server: MockServerProcess) -> float:
    """CPU seconds of a mock endpoint's process (0 when it is not running)."""
    process = server._process
    return proc_status(process.pid).get("cpu", 0.0) if process else 0.0


WORKERS = [1]  # set from --workers in main(): `run --workers N` for the CLI sections


def cli_run(
    questions: Path, db: Db, run_id: str, overrides: list[str], concurrency: int | None
) -> subprocess.Popen[bytes]:
    """`reasonmed run` in a subprocess, exactly as a user would start it.

    Its stderr (one progress line per question when it is not a terminal) goes to a file next
    to the questions: an undrained pipe would block the run once it filled.
    """
    command = [sys.executable, "-m", "reasonmed.cli.main", "run", str(questions)]
    command += ["--config", str(CONFIG), "--db", db.url, "--run-id", run_id]
    if concurrency:
        command += ["--concurrency", str(concurrency)]
    if WORKERS[0] > 1:
        command += ["--workers", str(WORKERS[0])]
    for override in overrides:
        command += ["--set", override]
    with questions.with_suffix(".stderr.log").open("wb") as log:
        return subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL
        )


def finish_cli(proc: subprocess.Popen[bytes], questions: Path) -> None:
    code = proc.wait()
    if code != 0:
        err = questions.with_suffix(".stderr.log").read_text(errors="replace")
        raise RuntimeError(f"reasonmed run exited with {code}:\n{err[-2000:]}")


def target_verdict(ok: bool, target: str) -> str:
    """The summary table's target column: whether a figure met its target."""
    return f"{target}: {'met' if ok else 'MISSED'}"
