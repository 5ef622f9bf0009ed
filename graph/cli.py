"""`reasonmed`: thin commands over the runner, the stores and the mock endpoint.

Exit codes: 0 success; 1 the run ended with failed questions (run it again to retry them);
2 bad input (question file, config, options, unknown run) found before any model call;
3 the config differs from the run's stored one (see --accept-config-change).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import signal
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from reasonmed.graph.config import ConfigError
from reasonmed.graph.runner import DEFAULT_DB, ConfigChangedError, RunRequest, run_pipeline
from reasonmed.storage.questions import QuestionFileError

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_CONFIG_CHANGED = 0, 1, 2, 3
EXIT_INTERRUPTED = 130
GRACE_S = 30.0  # after a first Ctrl-C, how long questions in flight get to finish


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reasonmed",
        description="Verified medical chain-of-thought data with the ReasonMed multi-agent method.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run (or continue) the pipeline over a question file")
    run.add_argument("questions", type=Path, help="JSONL (or JSON array) of questions")
    run.add_argument("--config", type=Path, help="run config (YAML); optional when continuing")
    run.add_argument("--db", default=DEFAULT_DB, help=f"database URL (default {DEFAULT_DB})")
    run.add_argument("--run-id", help="run id (default: the question file's stem)")
    run.add_argument("--concurrency", type=int, help="questions in flight")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. agents.verifier.model=other",
    )
    run.add_argument(
        "--no-cache",
        action="store_true",
        help="call the models even for requests already answered in this database",
    )
    run.add_argument(
        "--accept-config-change",
        action="store_true",
        help="continue unfinished questions with a changed config",
    )

    status = sub.add_parser("status", help="questions by state and tier, calls and tokens")
    status.add_argument("--run-id", required=True)
    status.add_argument("--db", default=DEFAULT_DB)
    status.add_argument("--json", action="store_true", help="print JSON")

    trace = sub.add_parser("trace", help="one question's journey through the agents")
    trace.add_argument("--run-id", required=True)
    trace.add_argument("--question", required=True, help="the question's id")
    trace.add_argument("--db", default=DEFAULT_DB)
    trace.add_argument("--json", action="store_true", help="print the trace as one JSON document")
    trace.add_argument("--full", action="store_true", help="prompts and replies unabridged")

    runs = sub.add_parser("runs", help="list the runs in a database")
    runs.add_argument("--db", default=DEFAULT_DB)
    runs.add_argument("--json", action="store_true", help="print JSON")

    export = sub.add_parser("export", help="write the run's examples as training JSONL")
    export.add_argument("--run-id", required=True)
    export.add_argument(
        "--variant", choices=["reasonmed", "cotmed", "responsemed"], default="reasonmed"
    )
    export.add_argument("--out", type=Path, required=True)
    export.add_argument("--db", default=DEFAULT_DB)

    sub.add_parser(
        "mock-server",
        help="the local deterministic OpenAI-compatible endpoint (see: reasonmed mock-server -h)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `reasonmed` console script."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["mock-server"]:  # its own options, parsed by the mock server itself
        from reasonmed.mockserver.server import main as mock_main

        return mock_main(argv[1:])
    args = _parser().parse_args(argv)
    console = Console(stderr=True)
    handler = COMMANDS[args.command]
    try:
        return handler(args, console)
    except (QuestionFileError, ConfigError, FileNotFoundError, LookupError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, markup=False)
        return EXIT_INPUT
    except ConfigChangedError as exc:
        console.print(f"error: {exc}", highlight=False, markup=False)
        return EXIT_CONFIG_CHANGED


def _cmd_run(args: argparse.Namespace, console: Console) -> int:
    from reasonmed.graph.progress import RunProgress, summary_table
    from reasonmed.storage.db import Database
    from reasonmed.storage.export import run_status

    if not args.questions.exists():
        raise FileNotFoundError(f"{args.questions}: no such question file")
    request = RunRequest(
        questions=args.questions,
        config_path=args.config,
        db_url=args.db,
        run_id=args.run_id,
        concurrency=args.concurrency,
        overrides=args.overrides,
        accept_config_change=args.accept_config_change,
        use_cache=not args.no_cache,
    )
    with RunProgress(console=console) as progress:
        result, interrupted = asyncio.run(_run_interruptibly(request, progress, console))
    if interrupted and not (result is not None and result.complete):
        console.print(
            f"interrupted; everything checkpointed is kept. Continue with:\n  "
            f"{_continue_command(args)}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return EXIT_INTERRUPTED
    db = Database.from_url(args.db)
    try:
        console.print(summary_table(run_status(db, result.run_id)))
    finally:
        db.close()
    if result.failed:
        console.print(
            f"{len(result.failed)} question(s) failed; run the same command again to retry them "
            f"(reasonmed status --run-id {result.run_id} --db {args.db})",
            markup=False,
        )
        return EXIT_FAILED
    return EXIT_OK


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


def _continue_command(args: argparse.Namespace) -> str:
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
    for override in args.overrides:
        parts += ["--set", override]
    if args.concurrency:
        parts += ["--concurrency", str(args.concurrency)]
    return shlex.join(parts)


def _cmd_status(args: argparse.Namespace, console: Console) -> int:
    from reasonmed.graph.progress import summary_table
    from reasonmed.storage.db import Database
    from reasonmed.storage.export import run_status

    db = Database.from_url(args.db)
    try:
        status = run_status(db, args.run_id)
    finally:
        db.close()
    if args.json:
        print(json.dumps(status, indent=2, sort_keys=True))
    else:
        Console().print(summary_table(status))
    return EXIT_OK


def _cmd_trace(args: argparse.Namespace, console: Console) -> int:
    from reasonmed.graph.trace import build_trace
    from reasonmed.graph.trace_view import render_trace
    from reasonmed.storage.db import Database

    db = Database.from_url(args.db)
    try:
        trace = build_trace(db, args.run_id, args.question)
    finally:
        db.close()
    if args.json:
        print(json.dumps(trace, indent=2, default=str))
    else:
        Console().print(render_trace(trace, full=args.full))
    return EXIT_OK


def _cmd_runs(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    from reasonmed.storage.db import Database
    from reasonmed.storage.runs import RunStore

    db = Database.from_url(args.db)
    try:
        runs = RunStore(db).list_runs()
    finally:
        db.close()
    if args.json:
        print(json.dumps(runs, indent=2, sort_keys=True))
        return EXIT_OK
    table = Table(title=f"runs in {args.db}")
    for column in (
        "run",
        "questions",
        "done",
        "rejected",
        "failed",
        "unfinished",
        "examples",
        "calls",
        "config",
        "created",
        "updated",
    ):
        table.add_column(column)
    for run in runs:
        q = run["questions"]
        unfinished = q.get("pending", 0) + q.get("running", 0)
        table.add_row(
            run["run_id"],
            str(sum(q.values())),
            str(q.get("done", 0)),
            str(q.get("rejected", 0)),
            str(q.get("failed", 0)),
            str(unfinished),
            str(run["examples"]),
            str(run["calls"]),
            run["config_hash"][:12],
            run["created_at"][:19],
            run["updated_at"][:19],
        )
    Console().print(table)
    return EXIT_OK


def _cmd_export(args: argparse.Namespace, console: Console) -> int:
    from reasonmed.storage.db import Database
    from reasonmed.storage.export import export_examples

    db = Database.from_url(args.db)
    try:
        count = export_examples(db, args.run_id, args.variant, args.out)
    finally:
        db.close()
    console.print(f"wrote {count} {args.variant} examples to {args.out}", markup=False)
    return EXIT_OK


COMMANDS = {
    "run": _cmd_run,
    "status": _cmd_status,
    "export": _cmd_export,
    "runs": _cmd_runs,
    "trace": _cmd_trace,
}

if __name__ == "__main__":
    sys.exit(main())
