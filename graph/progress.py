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


class RunProgress:
    """Counts finished questions by outcome and tier; renders them as they come."""

    def __init__(self, *, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.live = self.console.is_terminal
        self.total = 0  # set by `begin` once the runner has validated the question file
        self.counts: Counter[str] = Counter()
        self.started = time.monotonic()
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

    def __call__(self, row: QuestionRow, result: dict[str, Any]) -> None:
        status = result.get("status", "?")
        self.counts[status] += 1
        if result.get("tier"):
            self.counts[f"tier:{result['tier']}"] += 1
        done = sum(self.counts[s] for s in ("done", "rejected", "failed"))
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
            line = f"[{done}/{self.total}] {row.question_id}: {status}"
            if result.get("tier"):
                line += f" ({result['tier']})"
            if status != "done" and result.get("reason"):
                line += f" - {result['reason']}"
            print(line, file=sys.stderr, flush=True)


def summary_table(status: dict[str, Any]) -> Table:
    """The end-of-run table: questions by state and tier, calls and tokens by agent and model."""
    table = Table(title=f"run {status['run_id']}", show_header=True)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_column("tokens in / out", justify="right")
    for state, n in status["questions"].items():
        table.add_row(f"questions {state}", str(n), "")
    for tier, n in status["tiers"].items():
        table.add_row(f"tier {tier}", str(n), "")
    table.add_row("examples", str(status["examples"]), "")
    for row in status["calls"]["by_agent"]:
        tokens = f"{row['prompt_tokens']} / {row['completion_tokens']}"
        table.add_row(f"calls by {row['agent']}", str(row["calls"]), tokens)
    for row in status["calls"]["by_model"]:
        tokens = f"{row['prompt_tokens']} / {row['completion_tokens']}"
        table.add_row(f"calls to {row['alias']} ({row['model']})", str(row["calls"]), tokens)
    return table
