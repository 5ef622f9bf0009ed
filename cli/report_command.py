"""`reasonmed eval report --run-id ID [--db URL] [--out DIR]`: a run's report, HTML and JSON.

Registered under the `eval` command by `eval_command` (`report_command.register(eval_sub)`); like
every command it only parses options and calls one library function (`evals.report`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from reasonmed.cli.common import EXIT_OK, add_db, open_db


def register(eval_sub: Any) -> None:
    """Add `report` to the `eval` command's subcommands."""
    report = eval_sub.add_parser(
        "report",
        help="a run's numbers as a self-contained HTML page and JSON",
        description=(
            "Questions per tier and state, generator pass rates by model and temperature, "
            "verifier vs answer-check agreement, refinement and regeneration outcomes, "
            "rejections by reason, tokens and cost, example lengths. Writes report.html "
            "(plots embedded) and report.json into --out."
        ),
    )
    report.add_argument("--run-id", required=True)
    add_db(report)
    report.add_argument(
        "--out", type=Path, help="directory for report.html and report.json (default report-ID)"
    )
    report.set_defaults(handler=cmd_report)


def cmd_report(args: argparse.Namespace, console: Console) -> int:
    """Write the run's report; print where, and the headline numbers."""
    from reasonmed.evals.report import make_report

    out = args.out if args.out is not None else Path(f"report-{args.run_id}")
    with open_db(args.db) as db:
        report, html_path, json_path = make_report(db, args.run_id, out)
    questions, rates = report["questions"], report["pass_rates"]["overall"]
    rate = "n/a" if rates["rate"] is None else f"{rates['rate']:.1%}"
    console.print(
        f"run {args.run_id}: {questions['total']} questions "
        f"({questions['by_state']['done']} done), {report['examples']['total']} examples, "
        f"pass rate {rate} of {rates['paths']} paths",
        highlight=False,
        markup=False,
    )
    print(html_path)
    print(json_path)
    return EXIT_OK
