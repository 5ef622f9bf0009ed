"""profile and tracemalloc: where the client's time and memory go.

`--profile CONFIG`: cProfile of one overhead configuration (own time by package, top
functions). `--tracemalloc N1,N2`: `run_pipeline` under tracemalloc, what grew between N1 and
N2 finished questions.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import tracemalloc
from pathlib import Path
from typing import Any

from pipeline_bench.bench_support import (
    CONFIG,
    QUESTIONS,
    ROOT,
    Db,
    aliases,
    point_at,
    synthetic_questions,
)
from pipeline_bench.overhead_section import overhead_once
from reasonmed.core.config import load_config
from reasonmed.graph.runner import RunRequest, run_pipeline
from reasonmed.mockserver.process import MockServerProcess


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
