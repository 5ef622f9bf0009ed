"""`reasonmed run`: run or continue a run, with a progress display and a graceful Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import io
import shlex
import signal
from pathlib import Path
from typing import Any

from rich.console import Console

from reasonmed.cli.common import (
    EXIT_BUDGET,
    EXIT_CONFIG_CHANGED,
    EXIT_FAILED,
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    add_db,
    add_overrides,
    add_question_format,
    format_options,
    open_db,
    require_file,
)
from reasonmed.graph.runner import RunRequest, run_pipeline

GRACE_S = 30.0  # after a first Ctrl-C, how long questions in flight get to finish


def register(sub: Any) -> None:
    """Add the `run` command."""
    run = sub.add_parser("run", help="run (or continue) the pipeline over a question file")
    run.add_argument("questions", type=Path, help="JSONL (or JSON array) of questions")
    add_question_format(run, default="reasonmed")
    run.add_argument("--config", type=Path, help="run config (YAML); optional when continuing")
    add_db(run)
    run.add_argument("--run-id", help="run id (default: the question file's stem)")
    run.add_argument("--concurrency", type=int, help="questions in flight (over all workers)")
    run.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="processes driving the run, for more cores (PostgreSQL only; each gets 1/N of the "
        "concurrency and of every alias's max_concurrency, at least 1)",
    )
    run.add_argument("--worker-of", help=argparse.SUPPRESS)  # "I/N": set by --workers
    add_overrides(run)
    run.add_argument(
        "--no-cache",
        action="store_true",
        help="call the models even for requests already answered in this database",
    )
    run.add_argument(
        "--budget",
        type=float,
        metavar="USD",
        help="stop starting questions once the run has spent this much (needs model prices)",
    )
    run.add_argument(
        "--accept-config-change",
        action="store_true",
        help="continue unfinished questions with a changed config",
    )
    run.set_defaults(handler=cmd_run)


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    """Run every unfinished question; print the summary, or how to continue after Ctrl-C."""
    from reasonmed.cli.progress import RunProgress, summary_table
    from reasonmed.graph.run_status import run_status

    require_file(args.questions, "question file")
    index, share = _worker_of(args.worker_of)
    layout, cop_base = args.question_format, args.cop_base
    if layout == "auto" and share == 1:  # place the file once, say what was chosen, run with it
        from reasonmed.sources.source_reader import open_source

        placed = open_source(args.questions, "auto", cop_base)
        console.print(placed.describe(), markup=False, highlight=False, soft_wrap=True)
        layout, cop_base = placed.layout, placed.cop_base
    if args.workers < 1:
        console.print("error: --workers must be at least 1", markup=False)
        return EXIT_INPUT
    request = RunRequest(
        questions=args.questions,
        config_path=args.config,
        db_url=args.db,
        run_id=args.run_id,
        concurrency=args.concurrency,
        overrides=args.overrides,
        accept_config_change=args.accept_config_change,
        use_cache=not args.no_cache,
        budget=args.budget,
        cap_share=share,
        question_format=layout,
        cop_base=cop_base,
    )
    if args.workers > 1 and not args.worker_of:
        from reasonmed.cli.workers import run_workers

        code = run_workers(args, request, console)
        if code in (EXIT_INPUT, EXIT_CONFIG_CHANGED):
            return code  # said already, by the parent or a worker
        return _workers_ending(args, code, console)
    with RunProgress(console=console, worker=f"w{index}" if share > 1 else "") as progress:
        result, interrupted = asyncio.run(_run_interruptibly(request, progress, console))
    if share > 1:  # the parent prints the run's ending once, for all workers
        console = Console(file=io.StringIO())
    if result is not None and result.budget_reached and not result.complete:
        return _budget_stop(args, result, console)
    if interrupted and not (result is not None and result.complete):
        console.print(
            f"interrupted; everything checkpointed is kept. Continue with:\n  "
            f"{continue_command(args)}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return EXIT_INTERRUPTED
    with open_db(args.db) as db:
        console.print(summary_table(run_status(db, result.run_id)))
    if share == 1 and (note := progress.busy_note()):
        progress.console.print(note, markup=False, highlight=False, soft_wrap=True)
    if result.failed:
        console.print(
            f"{len(result.failed)} question(s) failed; run the same command again to retry them "
            f"(reasonmed status --run-id {result.run_id} --db {args.db})",
            markup=False,
        )
        return EXIT_FAILED
    return EXIT_OK


def _worker_of(value: str | None) -> tuple[int, int]:
    """(index, N) from the hidden ``--worker-of I/N``; (1, 1) for a process on its own."""
    if not value:
        return 1, 1
    index, _, count = value.partition("/")
    return int(index), int(count)


def _workers_ending(args: argparse.Namespace, code: int, console: Console) -> int:
    """After `--workers`: the run's summary, and what to do next, once for all workers."""
    from reasonmed.cli.progress import summary_table
    from reasonmed.graph.run_status import run_status

    run_id = args.run_id or args.questions.stem
    with open_db(args.db) as db:
        console.print(summary_table(run_status(db, run_id)))
    hint = {
        EXIT_INTERRUPTED: "interrupted; everything checkpointed is kept. Continue with:",
        EXIT_BUDGET: "budget reached; everything checkpointed is kept. Continue with a higher "
        "--budget (or none):",
        EXIT_FAILED: "some questions failed (reasonmed failures --run-id "
        f"{run_id} --db {args.db}); run the same command again to retry them:",
    }.get(code)
    if hint:
        console.print(f"{hint}\n  {continue_command(args)}", markup=False, soft_wrap=True)
    return code


def _budget_stop(args: argparse.Namespace, result: Any, console: Console) -> int:
    """The run spent its budget: say so, and how to go on."""
    from reasonmed.cli.progress import summary_table
    from reasonmed.graph.run_status import run_status

    with open_db(args.db) as db:
        console.print(summary_table(run_status(db, result.run_id)))
    unfinished = sum(n for s, n in result.counts.items() if s not in ("done", "rejected"))
    budget = result.budget
    console.print(
        f"budget reached: the run has spent ${budget.spent:,.4f} of ${budget.limit:,.4f}; "
        f"{unfinished} question(s) not finished, everything checkpointed is kept. Continue "
        f"with a higher --budget (or none):\n  {continue_command(args)} --budget AMOUNT",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    return EXIT_BUDGET


async def _run_interruptibly(
    request: RunRequest, progress: Any, console: Console
) -> tuple[Any, bool]:
    """Run; Ctrl-C once stops starting questions (those in flight get GRACE_S), twice exits now."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_pipeline(request, progress, stop))
    loop = asyncio.get_running_loop()

    def on_sigint() -> None:
        if stop.is_set():
            task.cancel()
            return
        stop.set()
        console.print(
            f"stopping: no new questions; those in flight get {GRACE_S:.0f} s "
            "(Ctrl-C again to stop now)",
            markup=False,
        )
        loop.call_later(GRACE_S, task.cancel)

    loop.add_signal_handler(signal.SIGINT, on_sigint)
    try:
        result = await task
    except asyncio.CancelledError:
        return None, True
    finally:
        loop.remove_signal_handler(signal.SIGINT)
    return result, stop.is_set()


def continue_command(args: argparse.Namespace) -> str:
    """The exact `reasonmed run` command that continues this run."""
    parts = [
        "reasonmed",
        "run",
        str(args.questions),
        "--db",
        args.db,
        "--run-id",
        args.run_id or args.questions.stem,
    ]
    if args.config:
        parts += ["--config", str(args.config)]
    parts += format_options(args)
    for override in args.overrides:
        parts += ["--set", override]
    if args.concurrency:
        parts += ["--concurrency", str(args.concurrency)]
    if args.workers > 1 and not args.worker_of:
        parts += ["--workers", str(args.workers)]
    return shlex.join(parts)
