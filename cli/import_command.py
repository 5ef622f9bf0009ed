"""`reasonmed import`: benchmark files as published -> one clean question JSONL, with a report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from reasonmed.cli.common import EXIT_OK, add_question_format, require_file
from reasonmed.sources.cleaning_records import CleaningSettings
from reasonmed.sources.question_import import ImportSummary, import_questions


def register(sub: Any) -> None:
    """Add the `import` command."""
    parser = sub.add_parser(
        "import",
        help="read MedQA, MedMCQA, PubMedQA or MMLU files as published; deduplicate and "
        "decontaminate; write the question JSONL that `run` reads",
    )
    parser.add_argument("files", type=Path, nargs="+", metavar="FILE", help="input files")
    parser.add_argument("--out", type=Path, required=True, help="the question JSONL to write")
    add_question_format(parser, default="auto")
    parser.add_argument(
        "--decontaminate-against",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="a benchmark file (any layout, detected) whose questions, and near copies of them, "
        "must not be trained on; repeatable",
    )
    parser.add_argument(
        "--report",
        type=Path,
        help="one JSON line per question left out (default: OUT's name + .report.jsonl)",
    )
    parser.add_argument(
        "--skip-invalid",
        action="store_true",
        help="write the good rows and report the bad ones (default: write nothing if any is bad)",
    )
    defaults = CleaningSettings()
    parser.add_argument(
        "--near-duplicate-threshold",
        type=float,
        default=defaults.near_duplicate_threshold,
        metavar="J",
        help="estimated Jaccard similarity from which two questions are near duplicates "
        f"(default {defaults.near_duplicate_threshold})",
    )
    parser.add_argument(
        "--ngram",
        type=int,
        default=defaults.ngram,
        metavar="N",
        help=f"words per n-gram for decontamination (default {defaults.ngram})",
    )
    parser.add_argument(
        "--contamination-threshold",
        type=float,
        default=defaults.contamination_threshold,
        metavar="SHARE",
        help="share of a benchmark question's n-grams found in a question that makes it "
        f"contaminated (default {defaults.contamination_threshold})",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(handler=cmd_import)


def cmd_import(args: argparse.Namespace, console: Console) -> int:
    """Import; print what was read, kept and left out."""
    for path in [*args.files, *args.decontaminate_against]:
        require_file(path, "input file")
    report = args.report or args.out.with_name(args.out.name + ".report.jsonl")
    settings = CleaningSettings(
        near_duplicate_threshold=args.near_duplicate_threshold,
        ngram=args.ngram,
        contamination_threshold=args.contamination_threshold,
    )
    summary = import_questions(
        args.files,
        args.out,
        layout=args.question_format,
        cop_base=args.cop_base,
        against=args.decontaminate_against,
        report=report,
        settings=settings,
        skip_invalid=args.skip_invalid,
        say=lambda line: console.print(line, markup=False, highlight=False, soft_wrap=True),
    )
    if args.json:
        print(json.dumps({**summary.as_json(), "out": str(args.out), "report": str(report)}))
        return EXIT_OK
    out = Console()
    out.print(summary_table(summary))
    if summary.benchmark_unreadable:
        first = "; ".join(str(e) for e in summary.benchmark_unreadable[:3])
        out.print(
            f"warning: {len(summary.benchmark_unreadable)} benchmark row problem(s) left rows out "
            f"of the decontamination index ({first} ...)",
            markup=False,
            soft_wrap=True,
        )
    out.print(
        f"wrote {summary.written} questions to {args.out}; every question left out is in {report}",
        markup=False,
        soft_wrap=True,
    )
    return EXIT_OK


def summary_table(summary: ImportSummary) -> Table:
    """Questions read, written and left out, by reason and source."""
    table = Table(title="import")
    table.add_column("outcome")
    table.add_column("source")
    table.add_column("questions", justify="right")
    table.add_row("read", "", str(summary.read))
    if summary.invalid:
        table.add_row("invalid (skipped)", "", str(summary.invalid))
    for (reason, source), n in sorted(summary.dropped.items()):
        table.add_row(f"dropped: {reason}", source or "-", str(n))
    table.add_row("written", "", str(summary.written), style="bold")
    if summary.benchmarks:
        table.add_row("benchmark questions indexed", "", str(summary.benchmark_questions))
    return table
