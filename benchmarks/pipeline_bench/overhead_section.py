"""overhead: questions/s and client CPU per question of the whole pipeline at zero latency.

`run_pipeline` (SQLAlchemySaver + call log + run bookkeeping) on SQLite and on PostgreSQL,
against `build_graph(None)` driven the same way with and without a database, all in this
process, interleaved, median of the repeats.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline_bench.bench_support import (
    CONFIG,
    QUESTIONS,
    Db,
    aliases,
    point_at,
    server_cpu,
    synthetic_questions,
    target_verdict,
)
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
                        target_verdict(min(ratio, cpu_ratio) >= 0.5, ">= 0.5x"),
                    )
                )
    return rows
