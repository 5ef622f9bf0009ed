"""Read-only commands over a run's database: `status`, `runs`, `trace`, `questions`, `failures`;
`export` lives in `export_command` and is registered from here."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console

from reasonmed.cli import export_command
from reasonmed.cli.common import EXIT_OK, add_db, open_db


def register(sub: Any) -> None:
    """Add the inspection commands."""
    status = sub.add_parser("status", help="questions by state and tier, calls and tokens")
    status.add_argument("--run-id", required=True)
    add_db(status)
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=cmd_status)

    trace = sub.add_parser("trace", help="one question's journey through the agents")
    trace.add_argument("--run-id", required=True)
    trace.add_argument("--question", required=True, help="the question's id")
    add_db(trace)
    trace.add_argument("--json", action="store_true", help="print the trace as one JSON document")
    trace.add_argument("--full", action="store_true", help="prompts and replies unabridged")
    trace.set_defaults(handler=cmd_trace)

    listing = sub.add_parser("questions", help="a run's questions: ids, states, tiers, reasons")
    listing.add_argument("--run-id", required=True)
    listing.add_argument(
        "--status",
        action="append",
        default=[],
        choices=["pending", "running", "done", "rejected", "failed"],
        help="only these states (repeatable)",
    )
    listing.add_argument(
        "--tier", action="append", default=[], choices=["easy", "medium", "difficult"]
    )
    listing.add_argument("--limit", type=int, help="at most this many")
    add_db(listing)
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=cmd_questions)

    failures = sub.add_parser(
        "failures", help="failed questions with their typed reasons, and rejected ones"
    )
    failures.add_argument("--run-id", required=True)
    add_db(failures)
    failures.add_argument("--json", action="store_true", help="print JSON")
    failures.set_defaults(handler=cmd_failures)

    runs = sub.add_parser("runs", help="list the runs in a database")
    add_db(runs)
    runs.add_argument("--json", action="store_true", help="print JSON")
    runs.set_defaults(handler=cmd_runs)

    export_command.register(sub)


def cmd_status(args: argparse.Namespace, console: Console) -> int:
    """Questions by state and tier, calls, tokens and cache hits."""
    import reasonmed
    from reasonmed.cli.progress import summary_table

    status = reasonmed.status(args.run_id, db=args.db).model_dump(mode="json")
    if args.json:
        print(json.dumps(status, indent=2, sort_keys=True))
    else:
        Console().print(summary_table(status))
    return EXIT_OK


def cmd_trace(args: argparse.Namespace, console: Console) -> int:
    """One question's steps, calls and results, as a tree or as JSON."""
    from reasonmed.cli.trace_view import render_trace
    from reasonmed.graph.trace import build_trace

    with open_db(args.db) as db:
        trace = build_trace(db, args.run_id, args.question)
    if args.json:
        print(json.dumps(trace, indent=2, default=str))
    else:
        Console().print(render_trace(trace, full=args.full))
    return EXIT_OK


def cmd_questions(args: argparse.Namespace, console: Console) -> int:
    """The run's questions in input order, with how each stands."""
    from rich.table import Table

    from reasonmed.storage.question_list import COLUMNS, list_questions
    from reasonmed.storage.runs import RunStore

    with open_db(args.db) as db:
        if RunStore(db).get_run(args.run_id) is None:
            raise LookupError(f"no run {args.run_id!r} in {args.db}; list runs with reasonmed runs")
        rows = list_questions(
            db, args.run_id, statuses=args.status, tiers=args.tier, limit=args.limit
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    table = Table(title=f"questions of run {args.run_id} ({len(rows)})")
    for column in COLUMNS[:-1]:
        table.add_column(column.replace("question_id", "id"), overflow="fold")
    for row in rows:
        table.add_row(*("" if row[c] is None else str(row[c]) for c in COLUMNS[:-1]))
    Console().print(table)
    return EXIT_OK


def cmd_failures(args: argparse.Namespace, console: Console) -> int:
    """Every question that did not produce examples, and why; failed ones first."""
    from rich.table import Table

    from reasonmed.storage.question_list import failure_summary, list_questions
    from reasonmed.storage.runs import RunStore

    with open_db(args.db) as db:
        if RunStore(db).get_run(args.run_id) is None:
            raise LookupError(f"no run {args.run_id!r} in {args.db}; list runs with reasonmed runs")
        rows = list_questions(db, args.run_id, statuses=["failed", "rejected"])
    rows.sort(key=lambda r: r["status"] != "failed")  # stable: input order within each
    if args.json:
        print(json.dumps({"questions": rows, "summary": failure_summary(rows)}, indent=2))
        return EXIT_OK
    table = Table(title=f"run {args.run_id}: {len(rows)} question(s) without examples")
    for column in ("id", "status", "tier", "node", "model", "kind", "attempts", "reason"):
        table.add_column(column, overflow="fold")
    for row in rows:
        failure = row.get("failure") or {}
        table.add_row(
            row["question_id"],
            row["status"],
            row["tier"] or "",
            str(failure.get("node") or ""),
            str(failure.get("model") or ""),
            str(failure.get("kind") or ""),
            str(failure.get("attempts") or ""),
            row["reason"],
        )
    Console().print(table)
    if any(r["status"] == "failed" for r in rows):
        console.print("failed questions are retried by running the same `reasonmed run` again")
    return EXIT_OK


_RUN_COLUMNS = (
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
)


def cmd_runs(args: argparse.Namespace, console: Console) -> int:
    """Every run in the database with its counts, config hash and dates."""
    from rich.table import Table

    from reasonmed.storage.runs import RunStore

    with open_db(args.db) as db:
        runs = RunStore(db).list_runs()
    if args.json:
        print(json.dumps(runs, indent=2, sort_keys=True))
        return EXIT_OK
    table = Table(title=f"runs in {args.db}")
    for column in _RUN_COLUMNS:
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
