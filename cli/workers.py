"""`reasonmed run --workers N`: one run driven by N processes, for more than one core.

One process is CPU-bound at roughly 10-15 questions/s on a 2-core machine (LangGraph, LangChain
and the checkpoint writes all run on its event loop), whatever the endpoints could take. On
PostgreSQL several `run` processes already share a run safely (each question is claimed with an
advisory lock), so this starts N of them and waits. The parent creates (or checks) the run
first, since N processes starting together would race to create it; each worker gets 1/N of the
questions in flight and max(1, cap // N) of every alias's request cap, so together they keep the
configured limits (an alias capped below N gets one request per worker).
SQLite allows one writing process per run, so it is refused there.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from collections.abc import Sequence
from types import FrameType

from rich.console import Console

from reasonmed.cli.common import (
    EXIT_BUDGET,
    EXIT_CONFIG_CHANGED,
    EXIT_FAILED,
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    format_options,
    open_db,
)
from reasonmed.graph.run_session import resolve_config
from reasonmed.graph.runner import RunRequest
from reasonmed.storage.engine import DatabaseURLError, create_engines
from reasonmed.storage.runs import RunStore

# When workers end differently, the run's exit code is the first of these that any worker gave.
EXIT_PRIORITY = (
    EXIT_INPUT,
    EXIT_CONFIG_CHANGED,
    EXIT_INTERRUPTED,
    EXIT_BUDGET,
    EXIT_FAILED,
    EXIT_OK,
)


def combined_exit(codes: Sequence[int]) -> int:
    """One exit code for the run: the most serious any worker gave; a crash counts as failed."""
    if any(code not in EXIT_PRIORITY for code in codes):
        return EXIT_FAILED
    return min(codes, key=EXIT_PRIORITY.index)


def worker_argv(args: argparse.Namespace, run_id: str, concurrency: int, index: int) -> list[str]:
    """The `reasonmed run` command line of worker ``index`` (1-based)."""
    argv = [sys.executable, "-m", "reasonmed.cli.main", "run", str(args.questions)]
    argv += ["--db", args.db, "--run-id", run_id, "--concurrency", str(concurrency)]
    if args.config:
        argv += ["--config", str(args.config)]
    argv += format_options(args)
    for override in args.overrides:
        argv += ["--set", override]
    if args.no_cache:
        argv.append("--no-cache")
    if args.budget is not None:
        argv += ["--budget", repr(args.budget)]
    argv += ["--worker-of", f"{index}/{args.workers}"]
    return argv


def check_database(db_url: str) -> str | None:
    """Why ``db_url`` cannot take several workers, or None when it can."""
    try:
        engines = create_engines(db_url)
    except DatabaseURLError as exc:
        return str(exc)
    engines.dispose()
    if engines.dialect != "postgresql":
        return (
            f"--workers needs a PostgreSQL --db (got {engines.url}): SQLite allows one writing "
            "process per run; use one process there"
        )
    return None


def run_workers(args: argparse.Namespace, request: RunRequest, console: Console) -> int:
    """Start ``args.workers`` run processes on one run, wait for them; return the run's code."""
    problem = check_database(args.db)
    if problem is not None:
        console.print(f"error: {problem}", markup=False)
        return EXIT_INPUT
    run_id = request.resolved_run_id
    with open_db(args.db) as db:
        # Creates the run, or checks its config.
        config = resolve_config(RunStore(db), request.config_source())
    total = args.concurrency or config.pipeline.concurrency
    per_worker = max(1, -(-total // args.workers))
    console.print(
        f"starting {args.workers} workers on run {run_id}: {per_worker} questions in flight "
        f"and 1/{args.workers} of every alias's max_concurrency each",
        markup=False,
    )
    procs = [
        subprocess.Popen(worker_argv(args, run_id, per_worker, i), start_new_session=True)
        for i in range(1, args.workers + 1)
    ]

    def forward(signum: int, _frame: FrameType | None) -> None:
        # Workers have their own session, so a terminal's Ctrl-C reaches them only from here:
        # once for a graceful stop, twice to stop now, as with one process.
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        codes = [proc.wait() for proc in procs]
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    for i, code in enumerate(codes, 1):
        if code not in EXIT_PRIORITY:
            console.print(f"worker {i} exited with code {code}", markup=False)
    return combined_exit(codes)
