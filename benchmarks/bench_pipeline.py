"""Whole-pipeline benchmark against the mock endpoint: checkpoint overhead, utilization, scale.

Run: `.venv/bin/python benchmarks/bench_pipeline.py [--quick] [--only overhead,utilization,scale]`
(PostgreSQL from REASONMED_TEST_POSTGRES_URL, default
postgresql+psycopg://postgres@127.0.0.1:5432/test; each PostgreSQL run gets a fresh schema, dropped
afterwards; `--no-postgres` skips it). A summary table of every figure is printed at the end.

The mock endpoint always runs in its own process (`MockServerProcess`), so requests cross a real
socket and the server's CPU is not charged to the client. Questions are the 41 of
examples/questions.jsonl repeated with unique ids (`bench-000123`), so the mock plays the same
scenario mix (easy, medium, difficult, rejected) and no request is ever a cache hit.

overhead     zero latency, questions/s of the whole pipeline: `run_pipeline` (SQLAlchemySaver +
             call log + run bookkeeping) on SQLite and on PostgreSQL, against `build_graph(None)`
             driven the same way (same worker pool, context, call log and bookkeeping on the same
             database, only no checkpointer), and against `build_graph(None)` with an in-memory
             call log (no database at all). All in this process, interleaved, median of the
             repeats. Both wall-clock q/s and client CPU per question are reported: on a shared
             machine the CPU figure is the steadier one.
utilization  200 ms latency (0.5x-1.5x jitter), the real CLI with `--concurrency 64`, one mock
             process per model alias, so each alias's /stats integral of requests in flight gives
             its mean in-flight exactly. The steady window starts when `concurrency` questions
             have finished (the first, synchronized wave is over) and ends when the last question
             has started (no `pending` row left; after that fewer than `concurrency` questions
             are in flight). "Allowed" is what the caps and the question concurrency permit:
             X_max = min(min over aliases of cap / (requests per question x latency), Q / T1),
             T1 the mean time of one question when nothing is contended (a calibration run at
             `--calibrate-concurrency`, first request sent to last reply, from the call log),
             and allowed in-flight = X_max x requests per question x latency (Little's law), per
             alias and summed. The sum of the caps is not a fair denominator: one question's
             calls reach the aliases in sequence, mostly qwen72b.
scale        zero latency, the real CLI over one big synthetic file (the config's concurrency);
             the run process's VmRSS and VmHWM (from /proc/PID/status) when 1k / 5k / 10k
             questions have finished.
client       (only with `--only client`) the same request through aiohttp, httpx, the openai SDK
             and ChatOpenAI from `ModelRegistry`: CPU milliseconds per request of each layer.

`--profile CONFIG` adds a cProfile of one overhead configuration (own time by package, top
functions); `--tracemalloc N1,N2` runs `run_pipeline` under tracemalloc and prints what grew between
N1 and N2 finished questions.

Sizes: `--quick` (12 / 180 / 150 questions) takes a few minutes. The full sizes (100 x 3
repeats / 600 / 10,000) took 4 minutes for overhead, 2 for utilization and about 45 for the
10,000-question scale run on this 2-core machine: one run process is CPU-bound at about 9-14 q/s.
`--model-client sdk` measures ChatOpenAI instead of the lean `client: http`; `--workers N`
runs the CLI sections with `run --workers N` (with `--util-db postgres`).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import json
import os
import pstats
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import uuid
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from reasonmed.core.call_record import CallRecord
from reasonmed.core.config import load_config
from reasonmed.graph.builder import build_graph
from reasonmed.graph.run_session import store_outcome
from reasonmed.graph.runner import RunRequest, run_pipeline
from reasonmed.llm.context import PipelineContext
from reasonmed.llm.model_registry import ModelRegistry
from reasonmed.mockserver.process import MockServerProcess
from reasonmed.prompts import template_hashes
from reasonmed.sources.question_files import iter_questions, validate_question_file
from reasonmed.storage.call_log import CallLog
from reasonmed.storage.db import Database
from reasonmed.storage.runs import RunStore

ROOT = Path(__file__).resolve().parents[1]
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


# -- overhead: the pipeline in this process, with and without a checkpointer --------------------


class MemoryCallLog:
    """A call recorder without a database (what the graph needs: record, and the cache)."""

    def __init__(self) -> None:
        self.ids = itertools.count(1)
        self.answered: dict[str, CallRecord] = {}

    async def arecord(self, record: CallRecord) -> int:
        if record.request_key and record.reply is not None and not record.error:
            self.answered.setdefault(record.request_key, record)
        return next(self.ids)

    async def acached(self, request_key: str) -> CallRecord | None:
        return self.answered.get(request_key)


async def run_without_checkpointer(
    questions: Path, db_url: str | None, overrides: list[str], concurrency: int
) -> None:
    """`build_graph(None)` driven as `run_pipeline` drives its graph, minus the checkpointer.

    Same validation, config, model registry, worker pool and per-question bookkeeping (marked
    running, examples and outcome stored) when `db_url` is given; an in-memory call log and no
    bookkeeping at all when it is None.
    """
    validate_question_file(questions)
    run_id = "bench"
    config = load_config(CONFIG, overrides)
    models = ModelRegistry(config)
    db = Database.from_url(db_url) if db_url else None
    store = RunStore(db) if db else None
    if store is not None:
        store.create_run(
            run_id, str(questions), config.resolved_dict(), config.config_hash(), template_hashes()
        )
        store.register_questions(run_id, iter_questions(questions))
    calls = CallLog(db) if db else MemoryCallLog()
    ctx = PipelineContext(run_id=run_id, config=config, models=models, calls=calls)
    graph = build_graph(None)
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=concurrency)

    async def worker() -> None:
        while (question := await queue.get()) is not None:
            if store is not None:
                await store.amark_running(run_id, question.id)
            state = await graph.ainvoke(
                {"question": question.model_dump()},
                {
                    "configurable": {"thread_id": f"{run_id}:{question.id}"},
                    "metadata": {"reasonmed_run_id": run_id, "question_id": question.id},
                    "recursion_limit": 100,
                },
                context=ctx,
            )
            if store is not None:
                await store_outcome(store, run_id, question, state)

    try:
        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        for question in iter_questions(questions):
            await queue.put(question)
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)
        await models.aclose()
    finally:
        if db is not None:
            await db.aclose()


OVERHEAD_CONFIGS = ("none-memory", "none-sqlite", "ours-sqlite", "none-postgres", "ours-postgres")


@dataclass
class Timing:
    wall: float
    cpu: float  # this process, all threads
    main_cpu: float  # the event loop's thread only
    server_cpu: float  # the mock process
    requests: int
    load: float  # 1-minute load average at the end (the machine may be shared)


def overhead_once(
    name: str, questions: Path, mock: MockServerProcess, tmp: Path, concurrency: int
) -> Timing:
    """One measured run of one configuration on a fresh database."""
    kind = name.split("-")[1]
    db = Db.fresh(kind, tmp) if kind != "memory" else None
    overrides = point_at(dict.fromkeys(aliases(), mock.base_url))
    s0, r0 = server_cpu(mock), mock.stats()["requests"]
    t0, c0, m0 = time.perf_counter(), time.process_time(), time.thread_time()
    try:
        if name.startswith("ours"):
            request = RunRequest(
                questions=questions,
                config_path=CONFIG,
                db_url=db.url,  # type: ignore[union-attr]
                run_id="bench",
                concurrency=concurrency,
                overrides=overrides,
            )
            result = asyncio.run(run_pipeline(request))
            if not result.complete:
                raise RuntimeError(f"{name}: run incomplete: {result.counts} {result.failed[:3]}")
        else:
            url = db.url if db else None
            asyncio.run(run_without_checkpointer(questions, url, overrides, concurrency))
        wall, cpu, main = (
            time.perf_counter() - t0,
            time.process_time() - c0,
            time.thread_time() - m0,
        )
    finally:
        if db is not None:
            db.drop()
    requests = mock.stats()["requests"] - r0
    return Timing(wall, cpu, main, server_cpu(mock) - s0, requests, os.getloadavg()[0])


def section_overhead(args: argparse.Namespace, tmp: Path) -> list[tuple[str, str, str]]:
    n, repeats, conc = args.overhead_questions, args.overhead_repeats, args.overhead_concurrency
    configs = [c for c in OVERHEAD_CONFIGS if not (args.no_postgres and "postgres" in c)]
    questions = synthetic_questions(tmp / "overhead.jsonl", n)
    warm = synthetic_questions(tmp / "warmup.jsonl", min(n, 8))
    print(f"\n== overhead: {n} questions, zero latency, {conc} in flight, {repeats} repeat(s)")
    runs: dict[str, list[Timing]] = {c: [] for c in configs}
    with MockServerProcess(answer_key=QUESTIONS) as mock:
        for name in configs:  # imports, first compilations, connection setup: not measured
            overhead_once(name, warm, mock, tmp, conc)
        for rep in range(repeats):
            for name in configs:
                t = overhead_once(name, questions, mock, tmp, conc)
                runs[name].append(t)
                print(
                    f"  run {rep + 1}: {name:14s} {n / t.wall:6.2f} q/s  wall {t.wall:6.1f}s  "
                    f"cpu {t.cpu:6.1f}s (loop thread {t.main_cpu:5.1f}s)  "
                    f"mock cpu {t.server_cpu:5.1f}s  {t.requests / n:.1f} req/q  load {t.load:.1f}",
                    flush=True,
                )
    med = {c: statistics.median(n / t.wall for t in ts) for c, ts in runs.items()}
    cpu_q = {c: statistics.median(t.cpu / n * 1000 for t in ts) for c, ts in runs.items()}
    req_q = {c: statistics.median(t.requests / n for t in ts) for c, ts in runs.items()}
    load = statistics.mean(t.load for ts in runs.values() for t in ts)
    print(
        f"\nmedians; 1-min load average during the runs {load:.1f} on {os.cpu_count()} CPUs "
        "(wall-clock q/s is only as good as the machine is quiet; client CPU per question is "
        "the steadier figure)"
    )
    print(f"{'config':14s} {'q/s':>7s} {'client CPU ms/q':>16s} {'CPU ms/request':>15s}")
    for c in configs:
        print(f"{c:14s} {med[c]:7.2f} {cpu_q[c]:16.0f} {cpu_q[c] / req_q[c]:15.1f}")
    rows = [(f"overhead {c}", f"{med[c]:.2f} q/s, {cpu_q[c]:.0f} CPU ms/q", "") for c in configs]
    for db in ("sqlite", "postgres"):
        ours = f"ours-{db}"
        for base in (f"none-{db}", "none-memory"):
            if ours in med and base in med:
                ratio, cpu_ratio = med[ours] / med[base], cpu_q[base] / cpu_q[ours]
                rows.append(
                    (
                        f"{ours} / {base} (wall; CPU)",
                        f"{ratio:.2f}x; {cpu_ratio:.2f}x",
                        _target(min(ratio, cpu_ratio) >= 0.5, ">= 0.5x"),
                    )
                )
    return rows


def _target(ok: bool, target: str) -> str:
    return f"{target}: {'met' if ok else 'MISSED'}"


# -- utilization: the CLI at 200 ms latency, mean requests in flight per alias -------------------


@dataclass
class Poll:
    t: float
    stats: dict[str, dict[str, Any]]  # alias -> its server's /stats
    status: dict[str, int]  # questions by status
    cpu: float = 0.0  # CPU seconds of the run process so far
    endpoint_cpu: float = 0.0  # CPU seconds of all mock endpoint processes so far


@dataclass
class UtilRun:
    polls: list[Poll] = field(default_factory=list)
    wall: float = 0.0
    n: int = 0
    durations: list[float] = field(default_factory=list)  # seconds per question, from its calls
    latencies: list[float] = field(default_factory=list)  # client-side seconds per request


def poll_run(
    proc: subprocess.Popen[bytes],
    db: Db,
    run_id: str,
    servers: dict[str, MockServerProcess],
    every: float,
) -> list[Poll]:
    """Snapshots of every server's /stats and the question counts until the run exits."""
    polls = []
    while True:
        alive = proc.poll() is None
        poll = Poll(
            time.perf_counter(),
            {alias: server.stats() for alias, server in servers.items()},
            db.status_counts(run_id),
            tree_cpu(proc.pid),
            sum(server_cpu(server) for server in servers.values()),
        )
        polls.append(poll)
        if not alive:
            return polls
        time.sleep(every)


def run_util(
    n: int, concurrency: int, servers: dict[str, MockServerProcess], tmp: Path, kind: str
) -> UtilRun:
    questions = synthetic_questions(tmp / f"util-{n}-{concurrency}.jsonl", n)
    db = Db.fresh(kind, tmp)
    try:
        overrides = point_at({alias: s.base_url for alias, s in servers.items()})
        t0 = time.perf_counter()
        proc = cli_run(questions, db, "util", overrides, concurrency)
        polls = poll_run(proc, db, "util", servers, 0.25)
        finish_cli(proc, questions)
        return UtilRun(polls, time.perf_counter() - t0, n, *db.call_times("util"))
    finally:
        db.drop()


def steady_window(run: UtilRun, concurrency: int) -> tuple[Poll, Poll, str]:
    """From `concurrency` questions finished to the last question started (see module doc)."""
    ps = run.polls
    done = [sum(p.status.get(s, 0) for s in FINISHED) for p in ps]
    start = next((i for i, d in enumerate(done) if d >= concurrency), None)
    end = next(
        (i for i, p in enumerate(ps) if p.status and p.status.get("pending", 0) == 0 and i > 0),
        None,
    )
    if start is not None and end is not None and end > start + 1:
        how = f"from {concurrency} questions finished to the last question started"
        return ps[start], ps[end], how
    # Too few questions for a steady part: the middle 80% of the run's requests instead.
    total = [sum(s["requests"] for s in p.stats.values()) for p in ps]
    lo = next(i for i, r in enumerate(total) if r - total[0] >= 0.1 * (total[-1] - total[0]))
    hi = next(i for i, r in enumerate(total) if r - total[0] >= 0.9 * (total[-1] - total[0]))
    return ps[lo], ps[max(hi, lo + 1)], "middle 80% of requests (run too short for a steady part)"


@dataclass
class AliasFlow:
    in_flight: float  # mean requests in flight over the window (server side)
    per_question: float  # requests per question, whole run
    latency: float  # server-side seconds per request over the window


def flows(run: UtilRun, a: Poll, b: Poll) -> dict[str, AliasFlow]:
    first, last = run.polls[0], run.polls[-1]
    out = {}
    for alias in a.stats:
        sa, sb = a.stats[alias], b.stats[alias]
        span = sb["uptime_seconds"] - sa["uptime_seconds"]
        integral = sb["in_flight_seconds"] - sa["in_flight_seconds"]
        reqs = sb["requests"] - sa["requests"]
        total = last.stats[alias]["requests"] - first.stats[alias]["requests"]
        out[alias] = AliasFlow(
            in_flight=integral / span if span > 0 else 0.0,
            per_question=total / run.n,
            latency=integral / reqs if reqs else 0.0,
        )
    return out


def steady_throughput(a: Poll, b: Poll) -> float:
    done = [sum(p.status.get(s, 0) for s in FINISHED) for p in (a, b)]
    return (done[1] - done[0]) / (b.t - a.t)


def section_utilization(args: argparse.Namespace, tmp: Path) -> list[tuple[str, str, str]]:
    n, conc, latency = args.util_questions, args.concurrency, args.latency_ms
    caps = {alias: int(spec.get("max_concurrency", 16)) for alias, spec in aliases().items()}
    print(f"\n== utilization: {n} questions, {latency:g} ms latency, --concurrency {conc}")
    servers = {alias: MockServerProcess(answer_key=QUESTIONS, latency_ms=latency) for alias in caps}
    try:
        starting = [threading.Thread(target=server.start) for server in servers.values()]
        for thread in starting:
            thread.start()
        for thread in starting:
            thread.join()
        t1 = None
        if args.calibrate:
            c_n, c_conc = args.calibrate_questions, args.calibrate_concurrency
            cal = run_util(c_n, c_conc, servers, tmp, args.util_db)
            t1 = statistics.mean(cal.durations)
            print(
                f"  calibration: {c_n} questions at --concurrency {c_conc}: one uncontended "
                f"question takes T1 = {t1:.2f} s on average, first call sent to last reply "
                f"({cal.wall:.0f} s run)"
            )
        run = run_util(n, conc, servers, tmp, args.util_db)
    finally:
        for server in servers.values():
            server.stop()
    a, b, how = steady_window(run, conc)
    flow = flows(run, a, b)
    x = steady_throughput(a, b)
    x_caps = min(caps[al] / (f.per_question * f.latency) for al, f in flow.items() if f.latency)
    x_q = conc / t1 if t1 else float("inf")
    x_max = min(x_caps, x_q)
    bound = "the per-alias caps" if x_caps <= x_q else "the question concurrency"
    print(
        f"  run: {run.wall:.1f} s; steady window {b.t - a.t:.1f} s ({how}); "
        f"{x:.2f} questions/s in it; a question took {statistics.mean(run.durations):.1f} s "
        "on average (first request to last reply)"
    )
    lat = sorted(run.latencies)
    server_lat = statistics.mean(f.latency for f in flow.values())
    print(
        f"  client-side latency per request (call log, whole run): mean "
        f"{statistics.mean(lat):.2f} s, p50 {lat[len(lat) // 2]:.2f} s, p99 "
        f"{lat[int(len(lat) * 0.99)]:.2f} s, against {server_lat:.3f} s at the server (the rest "
        "is waiting for an alias slot and for the client's event loop)"
    )
    busy = (b.cpu - a.cpu) / (b.t - a.t)
    endpoints = (b.endpoint_cpu - a.endpoint_cpu) / (b.t - a.t)
    print(
        f"  the run process(es) used {busy:.2f} CPU cores in the window "
        f"({busy / x * 1000:.0f} CPU ms per question), the mock endpoints {endpoints:.2f}; "
        f"1-min load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(
        f"  allowed throughput X_max = min(caps: {x_caps:.2f} q/s, "
        f"concurrency {conc} / T1: {x_q:.2f} q/s) = {x_max:.2f} q/s, bound by {bound}"
    )
    print(
        f"\n{'alias':13s} {'cap':>4s} {'req/q':>6s} {'lat s':>6s} {'mean in flight':>15s} "
        f"{'allowed':>8s} {'util':>6s} {'of cap':>7s}"
    )
    tot_in = tot_allowed = 0.0
    for alias, f in flow.items():
        allowed = x_max * f.per_question * f.latency
        tot_in, tot_allowed = tot_in + f.in_flight, tot_allowed + allowed
        util = f.in_flight / allowed if allowed else 0.0
        print(
            f"{alias:13s} {caps[alias]:4d} {f.per_question:6.2f} {f.latency:6.3f} "
            f"{f.in_flight:15.1f} {allowed:8.1f} {util:6.2f} {f.in_flight / caps[alias]:7.2f}"
        )
    util = tot_in / tot_allowed if tot_allowed else 0.0
    # Sizing: at the CPU each question cost here, what 0.9 of X_max takes (run and endpoints).
    need_run, need_mock = 0.9 * x_max * busy / x, 0.9 * x_max * endpoints / x
    print(
        f"{'total':13s} {sum(caps.values()):4d} {'':13s} {tot_in:15.1f} {tot_allowed:8.1f} "
        f"{util:6.2f}"
    )
    print(
        "  allowed = X_max x requests per question x server latency (Little's law): the mean "
        "in-flight each alias would carry if questions flowed at the fastest rate the caps and "
        f"the {conc} questions in flight permit; the sum of the caps ({sum(caps.values())}) is "
        "not reachable, since one question's calls hit the aliases in sequence, mostly qwen72b."
    )
    print(
        f"  sizing: 0.9 of X_max is {0.9 * x_max:.1f} q/s; at {busy / x * 1000:.0f} CPU ms per "
        f"question the run needs {need_run:.2f} cores for it (`run --workers N` spreads it over "
        f"N processes), and the mock endpoints {need_mock:.2f} more; this machine has "
        f"{os.cpu_count()}"
    )
    return [
        ("utilization: steady q/s", f"{x:.2f}", f"allowed {x_max:.2f} q/s ({bound})"),
        ("utilization: run process CPU in window", f"{busy:.2f} cores", ""),
        (
            "utilization: cores 0.9 of X_max needs",
            f"{need_run:.2f} run + {need_mock:.2f} endpoints",
            f"this machine: {os.cpu_count()}",
        ),
        (
            "utilization: mean in flight / allowed",
            f"{tot_in:.1f} / {tot_allowed:.1f} = {util:.2f}",
            _target(util >= 0.9, ">= 0.9"),
        ),
    ]


# -- scale: RSS of the CLI run process as the question count grows -----------------------------


@dataclass
class ScaleWatch:
    """What the scale section saw of the run process: RSS at each mark, peaks per process."""

    sizes: list[int]
    log_every: int
    t0: float = field(default_factory=time.perf_counter)
    marks: dict[int, dict[str, float]] = field(default_factory=dict)
    peaks: list[float] = field(default_factory=lambda: [0.0])  # VmHWM of each process started
    finished: int = 0
    logged: int = 0

    def sample(self, pid: int, db: Db) -> None:
        mem = proc_status(pid)
        if "VmRSS" not in mem:  # not started yet, or already gone
            return
        self.peaks[-1] = max(self.peaks[-1], mem.get("VmHWM", 0.0))
        finished = sum(db.status_counts("scale").get(s, 0) for s in FINISHED)
        self.finished = max(self.finished, finished)
        due = [size for size in self.sizes if finished >= size and size not in self.marks]
        if finished >= self.logged + self.log_every or due:
            self.logged = finished - finished % self.log_every
            now = time.perf_counter() - self.t0
            for size in due:
                self.marks[size] = {**mem, "t": now, "process": len(self.peaks)}
            print(
                f"  {finished:6d} finished at {now:7.1f} s: VmRSS {mem.get('VmRSS', 0):6.1f} MB, "
                f"VmHWM {mem.get('VmHWM', 0):6.1f} MB (anon {mem.get('RssAnon', 0):5.1f}, file "
                f"{mem.get('RssFile', 0):4.1f}), cpu {mem.get('cpu', 0):5.0f} s"
                + (f" (process {len(self.peaks)})" if len(self.peaks) > 1 else ""),
                flush=True,
            )


def section_scale(args: argparse.Namespace, tmp: Path) -> list[tuple[str, str, str]]:
    sizes = sorted(int(s) for s in args.scale_sizes.split(","))
    n = sizes[-1]
    print(f"\n== scale: {n} questions through the CLI, zero latency, RSS at {sizes}")
    questions = synthetic_questions(tmp / "scale.jsonl", n)
    db = Db.fresh(args.scale_db, tmp)
    watch = ScaleWatch(sizes, max(args.scale_log_every, 1))
    try:
        with MockServerProcess(answer_key=QUESTIONS) as mock:
            overrides = point_at(dict.fromkeys(aliases(), mock.base_url))
            while True:
                proc = cli_run(questions, db, "scale", overrides, args.scale_concurrency)
                while proc.poll() is None:
                    watch.sample(proc.pid, db)
                    time.sleep(1.0)
                # Killed by a signal we did not send (a shared machine): the same command
                # continues the run, as a user would; RSS from then on is a new process's.
                if proc.returncode < 0 and len(watch.peaks) <= args.scale_restarts:
                    print(
                        f"  run process killed by signal {-proc.returncode} at "
                        f"{watch.finished} finished; continuing the run with the same command",
                        flush=True,
                    )
                    watch.peaks.append(0.0)
                    continue
                finish_cli(proc, questions)
                break
            wall = time.perf_counter() - watch.t0
    finally:
        db.drop()
    peak = max(watch.peaks)
    print(f"  run: {wall:.1f} s, {n / wall:.2f} q/s; peak VmHWM {peak:.1f} MB")
    rows = []
    for size in sizes:
        m = watch.marks.get(size, {})
        rows.append(
            (
                f"scale: RSS at {size} questions",
                f"{m.get('VmRSS', 0):.0f} MB (peak {m.get('VmHWM', 0):.0f})",
                f"t={m.get('t', 0):.0f}s"
                + (f", process {m['process']:.0f}" if len(watch.peaks) > 1 and m else ""),
            )
        )
    first, last = watch.marks.get(sizes[0], {}), watch.marks.get(n, {})
    growth = last.get("VmHWM", 0) - first.get("VmHWM", 0)
    flat = peak < 500 and growth < 0.1 * max(first.get("VmHWM", 1), 1)
    restarted = f"; {len(watch.peaks) - 1} restart(s)" if len(watch.peaks) > 1 else ""
    rows.append(
        (
            f"scale: peak RSS, growth {sizes[0]}->{n}",
            f"{peak:.0f} MB, {growth:+.0f} MB{restarted}",
            _target(flat, "< 500 MB, flat"),
        )
    )
    rows.append(("scale: wall time", f"{wall:.0f} s ({n / wall:.2f} q/s)", ""))
    return rows


# -- client: CPU per request of each layer of the HTTP stack ------------------------------------


async def client_costs(base_url: str, k: int, concurrency: int) -> list[tuple[str, float, float]]:
    """(stack, wall ms per request, CPU ms per request) for the same request through each layer."""
    import aiohttp
    import httpx
    import openai
    from langchain_core.messages import HumanMessage, SystemMessage
    from langchain_openai import ChatOpenAI

    from reasonmed.llm.model_calls import question_block
    from reasonmed.prompts.render import render
    from reasonmed.sources.question_files import load_questions

    question = load_questions(QUESTIONS)[0]
    messages = render("generator", question_block=question_block(question)).messages
    body = {"model": "Qwen2.5-72B-Instruct", "messages": messages, "temperature": 0.7}
    body |= {"top_p": 0.9, "max_tokens": 8192, "seed": 1}
    lc_messages = [SystemMessage(messages[0]["content"]), HumanMessage(messages[1]["content"])]
    url = f"{base_url}/chat/completions"
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    overrides = [f"models.{alias}.base_url={base_url}" for alias in aliases()]

    async def measure(name: str, one: Callable[[], Any], width: int = concurrency) -> None:
        async def worker(n: int) -> None:
            for _ in range(n):
                await one()

        await asyncio.gather(*(worker(2) for _ in range(width)))  # warm: connections, caches
        t0, c0 = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker(k // width) for _ in range(width)))
        done = k // width * width
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        out.append((name, wall / done * 1000, cpu / done * 1000))

    out: list[tuple[str, float, float]] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:

        async def via_aiohttp() -> None:
            async with session.post(url, json=body) as response:
                await response.json()

        await measure("aiohttp", via_aiohttp)
    async with httpx.AsyncClient(limits=limits, trust_env=False) as client:

        async def via_httpx() -> None:
            (await client.post(url, json=body)).json()

        await measure("httpx (pool 64)", via_httpx)
        await measure("httpx, 1 at a time, 1 conn in pool", via_httpx, 1)
        await measure("httpx, 64 in flight (opens 64 conns)", via_httpx, 64)
        await measure("httpx, 1 at a time, 64 conns in pool", via_httpx, 1)
    async with httpx.AsyncClient(limits=limits, trust_env=False) as client:
        sdk = openai.AsyncOpenAI(base_url=base_url, api_key="x", http_client=client, max_retries=0)

        async def via_sdk() -> None:
            await sdk.chat.completions.create(**body)

        await measure("openai SDK over httpx", via_sdk)
    async with openai.DefaultAioHttpClient() as client:
        sdk = openai.AsyncOpenAI(base_url=base_url, api_key="x", http_client=client, max_retries=0)

        async def via_sdk_aiohttp() -> None:
            await sdk.chat.completions.create(**body)

        await measure("openai SDK over aiohttp", via_sdk_aiohttp)
    for client in ("http", "sdk"):
        set_client = [f"models.qwen72b.client={client}"]
        async with ModelRegistry(load_config(CONFIG, [*overrides, *set_client])) as registry:
            send = registry.caller("qwen72b", temperature=0.7, top_p=0.9, max_tokens=8192, seed=1)

            async def via_caller(send: Any = send) -> None:
                await send(messages)

            await measure(f"ModelRegistry.caller, client: {client} (pipeline)", via_caller)
            if client == "http":
                wire = registry.chat_model("qwen72b", temperature=0.7, top_p=0.9, max_tokens=8192)

                async def via_wire_ainvoke(wire: Any = wire) -> None:
                    await wire.ainvoke(lc_messages)

                await measure("client: http via LangChain ainvoke", via_wire_ainvoke)
    models = ModelRegistry(load_config(CONFIG, [*overrides, "models.qwen72b.client=sdk"]))
    try:
        chat = models.chat_model("qwen72b", temperature=0.7, top_p=0.9, max_tokens=8192)

        async def via_langchain() -> None:
            await chat.ainvoke(lc_messages)

        async def via_langchain_seeded() -> None:
            seeded = models.chat_model(
                "qwen72b", temperature=0.7, top_p=0.9, max_tokens=8192, seed=1
            )
            await seeded.ainvoke(lc_messages)

        async def via_langchain_copied() -> None:
            assert isinstance(chat, ChatOpenAI)
            await chat.model_copy(update={"seed": 1}).ainvoke(lc_messages)

        await measure("ChatOpenAI (ModelRegistry)", via_langchain)
        await measure("ChatOpenAI + per-call seed (registry: bind)", via_langchain_seeded)
        await measure("ChatOpenAI + per-call seed as a model copy", via_langchain_copied)
    finally:
        await models.aclose()
    return out


def section_client(args: argparse.Namespace, tmp: Path) -> list[tuple[str, str, str]]:
    k, conc = args.client_requests, args.overhead_concurrency
    print(f"\n== client: {k} identical requests per stack, {conc} in flight, zero latency")
    with MockServerProcess(answer_key=QUESTIONS) as mock:
        costs = asyncio.run(client_costs(mock.base_url, k, conc))
    print(f"{'stack':40s} {'wall ms/req':>12s} {'CPU ms/req':>11s}")
    for name, wall, cpu in costs:
        print(f"{name:40s} {wall:12.2f} {cpu:11.2f}")
    return [(f"client CPU/request: {name}", f"{cpu:.2f} ms", "") for name, _, cpu in costs]


# -- profile: where the client's time goes -------------------------------------------------------


def section_profile(args: argparse.Namespace, tmp: Path) -> list[tuple[str, str, str]]:
    """cProfile (event loop thread) of one overhead configuration, top functions by own time."""
    name = args.profile
    questions = synthetic_questions(tmp / "profile.jsonl", args.overhead_questions)
    print(f"\n== profile: {name}, {args.overhead_questions} questions (cProfile, loop thread)")
    with MockServerProcess(answer_key=QUESTIONS) as mock:
        overhead_once(name, synthetic_questions(tmp / "w.jsonl", 4), mock, tmp, 4)
        profiler = cProfile.Profile()
        profiler.enable()
        t = overhead_once(name, questions, mock, tmp, args.overhead_concurrency)
        profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(args.profile_top)
    stats.sort_stats("cumulative").print_stats(args.profile_top)
    total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]
    print(f"own time by package (loop thread, {total:.1f} s under cProfile):")
    for package, seconds in sorted(own_time_by_package(stats).items(), key=lambda kv: -kv[1]):
        if seconds / total >= 0.01:
            print(f"  {package:28s} {seconds:6.2f} s  {seconds / total:6.1%}")
    return [(f"profile {name} (under cProfile)", f"{args.overhead_questions / t.wall:.2f} q/s", "")]


class SnapshotAt:
    """A progress hook that takes a tracemalloc snapshot when given counts have finished."""

    def __init__(self, marks: list[int]) -> None:
        self.marks, self.done = set(marks), 0
        self.snapshots: dict[int, tracemalloc.Snapshot] = {}

    def begin(self, total: int) -> None:
        pass

    def __call__(self, row: Any, result: dict[str, Any]) -> None:
        self.done += 1
        if self.done in self.marks:
            self.snapshots[self.done] = tracemalloc.take_snapshot()
            current, _ = tracemalloc.get_traced_memory()
            print(f"  {self.done:6d} finished: {current / 2**20:7.1f} MB traced", flush=True)


def section_tracemalloc(args: argparse.Namespace, tmp: Path) -> list[tuple[str, str, str]]:
    """`run_pipeline` in this process under tracemalloc: what grows between the marks."""
    marks = sorted(int(s) for s in args.tracemalloc.split(","))
    # Run past the last mark so every snapshot is taken with the worker pool full, not draining.
    n = marks[-1] + 2 * load_config(CONFIG).pipeline.concurrency
    print(f"\n== tracemalloc: run_pipeline on SQLite, {n} questions, snapshots at {marks}")
    questions = synthetic_questions(tmp / "traced.jsonl", n)
    db = Db.fresh("sqlite", tmp)
    hook = SnapshotAt(marks)
    with MockServerProcess(answer_key=QUESTIONS) as mock:
        request = RunRequest(
            questions=questions,
            config_path=CONFIG,
            db_url=db.url,
            run_id="traced",
            # tracemalloc slows the client several times over: no request may time out for that
            overrides=point_at(dict.fromkeys(aliases(), mock.base_url))
            + [f"models.{alias}.timeout_s=3600" for alias in aliases()],
        )
        tracemalloc.start(args.tracemalloc_frames)
        try:
            asyncio.run(run_pipeline(request, hook))
        finally:
            tracemalloc.stop()
    first, last = hook.snapshots[marks[0]], hook.snapshots[marks[-1]]
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    diff = last.filter_traces(ignore).compare_to(first.filter_traces(ignore), "traceback")
    grown = sum(d.size_diff for d in diff)
    print(f"  growth from {marks[0]} to {marks[-1]} questions: {grown / 2**20:.2f} MB; largest:")
    for d in [d for d in diff if d.size_diff > 0][: args.profile_top // 3]:
        print(f"  {d.size_diff / 1024:+9.1f} KiB {d.count_diff:+7d} blocks")
        for line in d.traceback.format(limit=6, most_recent_first=True):
            print(f"      {line}")
    per_q = grown / (marks[-1] - marks[0])
    return [
        (
            f"tracemalloc growth {marks[0]}->{marks[-1]}",
            f"{grown / 2**20:.2f} MB ({per_q:.0f} B/q)",
            "",
        )
    ]


def own_time_by_package(stats: pstats.Stats) -> dict[str, float]:
    """cProfile own time summed per top-level package (reasonmed modules by folder)."""
    out: dict[str, float] = {}
    for (filename, _, name), row in stats.stats.items():  # type: ignore[attr-defined]
        if "site-packages/" in filename:
            package = filename.split("site-packages/", 1)[1].split("/", 1)[0]
        elif filename.startswith(str(ROOT)):
            package = "reasonmed." + Path(filename).relative_to(ROOT).parts[0]
        elif filename == "~":
            package = f"builtin {name.split(' of ')[-1].strip('>') if ' of ' in name else name}"
            package = package[:40]
        else:
            package = "stdlib " + Path(filename).stem
        out[package] = out.get(package, 0.0) + row[2]
    return out


# -- main ----------------------------------------------------------------------------------------

SECTIONS: dict[str, Callable[[argparse.Namespace, Path], list[tuple[str, str, str]]]] = {
    "overhead": section_overhead,
    "utilization": section_utilization,
    "scale": section_scale,
    "client": section_client,  # not run by default: a breakdown for the findings
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--only",
        default="overhead,utilization,scale",
        help="comma-separated sections (also: client)",
    )
    p.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    p.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL configurations")
    p.add_argument("--overhead-questions", type=int)
    p.add_argument("--overhead-repeats", type=int)
    p.add_argument("--overhead-concurrency", type=int, default=16, help="the config's default")
    p.add_argument("--util-questions", type=int)
    p.add_argument("--util-db", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--latency-ms", type=float, default=200.0)
    p.add_argument("--concurrency", type=int, default=64, help="utilization: questions in flight")
    p.add_argument("--calibrate", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--calibrate-questions", type=int)
    p.add_argument("--calibrate-concurrency", type=int, default=4)
    p.add_argument("--scale-sizes", help="questions at which RSS is read; the largest is run")
    p.add_argument("--scale-db", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--scale-concurrency", type=int, help="default: the config's (16)")
    p.add_argument("--scale-log-every", type=int, default=500, help="log RSS every N questions")
    p.add_argument(
        "--scale-restarts", type=int, default=3, help="continue a run killed from outside"
    )
    p.add_argument("--client-requests", type=int, default=400, help="client: per stack")
    p.add_argument("--profile", choices=OVERHEAD_CONFIGS, help="also cProfile one configuration")
    p.add_argument("--profile-top", type=int, default=30)
    p.add_argument(
        "--tracemalloc",
        metavar="N1,N2,...",
        help="also run in-process under tracemalloc and diff snapshots at these counts",
    )
    p.add_argument("--tracemalloc-frames", type=int, default=4)
    p.add_argument(
        "--model-client",
        choices=("http", "sdk"),
        default="http",
        help="every alias's `client` (http: the lean client; sdk: ChatOpenAI)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="utilization and scale: `run --workers N` (needs --util-db/--scale-db postgres)",
    )
    args = p.parse_args(argv)
    MODEL_CLIENT[0] = args.model_client
    WORKERS[0] = args.workers
    quick = args.quick
    defaults = {
        "overhead_questions": 12 if quick else 100,
        "overhead_repeats": 1 if quick else 3,
        "util_questions": 180 if quick else 600,
        "calibrate_questions": 8 if quick else 24,
        "scale_sizes": "50,100,150" if quick else "1000,5000,10000",
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        print(f"unknown section(s) {unknown}; choose from {list(SECTIONS)}", file=sys.stderr)
        return 2
    rows: list[tuple[str, str, str]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        for section in sections:
            t0 = time.perf_counter()
            rows += SECTIONS[section](args, Path(tmp))
            rows.append((f"{section}: section wall time", f"{time.perf_counter() - t0:.0f} s", ""))
        if args.profile:
            rows += section_profile(args, Path(tmp))
        if args.tracemalloc:
            rows += section_tracemalloc(args, Path(tmp))
    took = time.perf_counter() - started
    print(
        f"\n== summary ({'quick' if args.quick else 'full'}, "
        f"client: {args.model_client}, {took:.0f} s)"
    )
    width = max(len(r[0]) for r in rows)
    for name, value, target in rows:
        print(f"{name:{width}s}  {value:>28s}  {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
