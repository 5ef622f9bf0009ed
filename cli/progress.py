"""Progress while a run goes: a rich live display on a terminal, plain log lines elsewhere."""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from reasonmed.storage.runs import QuestionRow

# When the run process is this busy over a run (CPU seconds, all threads, per wall second), its
# own CPU set the pace, not the endpoints. Short runs say nothing: start-up dominates them.
BUSY_SHARE = 0.85
BUSY_MIN_QUESTIONS = 50
BUSY_MIN_SECONDS = 10.0


class RunProgress:
    """Counts finished questions by outcome and tier; renders them as they come."""

    def __init__(self, *, console: Console | None = None, worker: str = "") -> None:
        """``worker`` (a `run --workers` process, like "w2"): plain lines, prefixed with it."""
        self.console = console or Console(stderr=True)
        self.live = self.console.is_terminal and not worker
        self.prefix = f"{worker} " if worker else ""
        self.total = 0  # set by `begin` once the runner has validated the question file
        self.counts: Counter[str] = Counter()
        self.started = time.monotonic()
        self.cpu_started = time.process_time()
        self._progress: Progress | None = None
        self._task: Any = None

    def __enter__(self) -> RunProgress:
        if self.live:
            self._progress = Progress(
                TextColumn("[bold]questions"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[detail]}"),
                TimeRemainingColumn(),
                console=self.console,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("run", total=None, detail="validating")
        return self

    def begin(self, total: int) -> None:
        """The question file is valid and holds `total` questions."""
        self.total = total
        if self._progress is not None:
            self._progress.update(self._task, total=total, detail="")

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(None, None, None)

    @property
    def finished(self) -> int:
        """Questions this process brought to an end (done, rejected or failed)."""
        return sum(self.counts[s] for s in ("done", "rejected", "failed"))

    def busy_note(self) -> str | None:
        """`busy_note` for this process's run so far."""
        cpu = time.process_time() - self.cpu_started
        return busy_note(cpu, time.monotonic() - self.started, self.finished)

    def __call__(self, row: QuestionRow, result: dict[str, Any]) -> None:
        status = result.get("status", "?")
        self.counts[status] += 1
        if result.get("tier"):
            self.counts[f"tier:{result['tier']}"] += 1
        done = self.finished
        rate = done / max(time.monotonic() - self.started, 1e-6)
        detail = (
            f"done {self.counts['done']}  rejected {self.counts['rejected']}  "
            f"failed {self.counts['failed']}  | easy {self.counts['tier:easy']}  "
            f"medium {self.counts['tier:medium']}  difficult {self.counts['tier:difficult']}"
            f"  | {rate:.1f} q/s"
        )
        if self._progress is not None:
            self._progress.update(self._task, completed=done, detail=detail)
        else:
            line = f"{self.prefix}[{done}/{self.total}] {row.question_id}: {status}"
            if result.get("tier"):
                line += f" ({result['tier']})"
            if status != "done" and result.get("reason"):
                line += f" - {result['reason']}"
            # One write per line: `run --workers` processes share the parent's stderr, and
            # print() writes the newline separately, so two workers' lines could run together.
            sys.stderr.write(line + "\n")
            sys.stderr.flush()


def busy_note(cpu_seconds: float, wall_seconds: float, finished: int) -> str | None:
    """Why a run went no faster, when the reason is this process's CPU rather than the endpoints.

    A user whose endpoints answer quickly sees throughput level off and cannot tell whether the
    caps, the endpoints or the client are the limit; a process busy nearly all the time is.
    """
    if finished < BUSY_MIN_QUESTIONS or wall_seconds < BUSY_MIN_SECONDS:
        return None
    busy = cpu_seconds / wall_seconds
    if busy < BUSY_SHARE:
        return None
    return (
        f"this process kept {busy:.2f} CPU cores busy over the run "
        f"({cpu_seconds / finished * 1000:.0f} CPU ms per question): its own CPU, not the "
        "endpoints, set the pace; `run --workers N` on PostgreSQL spreads the questions over N "
        "processes"
    )


def summary_table(status: dict[str, Any]) -> Table:
    """The end-of-run table: questions by state and tier, then calls, tokens and cost by agent,
    model and tier, and the cost per exported example."""
    cost = status.get("cost") or {}
    priced = cost.get("total") is not None
    table = Table(title=f"run {status['run_id']}", show_header=True)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_column("tokens in / out", justify="right")
    if priced:
        table.add_column("cost", justify="right")

    def row(what: str, count: Any, usage: dict[str, Any] | None = None) -> None:
        tokens = f"{usage['prompt_tokens']} / {usage['completion_tokens']}" if usage else ""
        cells = [what, str(count), tokens]
        if priced:
            cells.append(_money(usage["cost"]) if usage and usage.get("priced") else "")
        table.add_row(*cells)

    for state, n in status["questions"].items():
        row(f"questions {state}", n)
    for tier, n in status["tiers"].items():
        row(f"tier {tier}", n)
    row("examples", status["examples"])
    calls = status["calls"]
    for usage in calls["by_agent"]:
        row(f"calls by {usage['agent']}", usage["calls"], usage)
    for usage in calls["by_model"]:
        row(f"calls to {usage['alias']} ({usage['model']})", usage["calls"], usage)
    for usage in calls.get("by_tier", []):
        row(f"calls for {usage['tier'] or 'unclassified'} questions", usage["calls"], usage)
    total = calls["total"]
    if total.get("cache_hits"):
        row("served from the request cache", total["cache_hits"])
    row("calls in total", total["calls"], total)
    if priced:
        per = cost.get("per_example")
        table.add_row("cost per example", "", "", _money(per) if per is not None else "")
        if cost.get("unpriced_calls"):
            table.add_row("calls without a price", str(cost["unpriced_calls"]), "", "")
    return table


def _money(value: float) -> str:
    return f"${value:,.4f}" if value < 100 else f"${value:,.2f}"
