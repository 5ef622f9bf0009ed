"""scale: VmRSS and VmHWM of the CLI run process as the finished question count grows.

Zero latency, the real CLI over one big synthetic file; a run killed from outside is continued
with the same command.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipeline_bench.bench_support import (
    FINISHED,
    QUESTIONS,
    Db,
    aliases,
    cli_run,
    finish_cli,
    point_at,
    proc_status,
    synthetic_questions,
    target_verdict,
)
from reasonmed.mockserver.process import MockServerProcess


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
            target_verdict(flat, "< 500 MB, flat"),
        )
    )
    rows.append(("scale: wall time", f"{wall:.0f} s ({n / wall:.2f} q/s)", ""))
    return rows
