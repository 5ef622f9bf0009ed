"""`reasonmed estimate`: the expected calls, tokens and cost of a run, before any model call.

The arithmetic lives in `graph.estimate` and what earlier runs in `--db` observed (reply lengths,
tier mix, rewrite pass rates) in `graph.observed_runs`; this module parses the options and prints
a table or JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from reasonmed.cli.common import (
    EXIT_OK,
    add_overrides,
    add_question_format,
    open_db,
    require_file,
)
from reasonmed.graph.estimate import LINES, Estimate, Observed, Usage, estimate
from reasonmed.graph.observed_runs import observe_runs


def register(sub: Any) -> None:
    """Add the `estimate` command."""
    parser = sub.add_parser(
        "estimate", help="expected calls, tokens and cost of a run, before any model call"
    )
    parser.add_argument("questions", type=Path, help="JSONL (or JSON array) of questions")
    parser.add_argument("--config", type=Path, required=True, help="run config (YAML)")
    add_question_format(parser, default="reasonmed")
    add_overrides(parser)
    parser.add_argument(
        "--db",
        help="a database of earlier runs (any run): their reply lengths, tier mix and rewrite "
        "pass rates replace the documented defaults",
    )
    parser.add_argument(
        "--reply-tokens",
        action="append",
        default=[],
        metavar="AGENT=N",
        help=f"completion tokens per call of one agent (repeatable); agents: {', '.join(LINES)}",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=cmd_estimate)


def cmd_estimate(args: argparse.Namespace, console: Console) -> int:
    """Check the question file and config, then print the estimate; no model is called."""
    from reasonmed.core.config import load_config
    from reasonmed.sources.source_reader import open_source

    require_file(args.questions, "question file")
    source = open_source(args.questions, args.question_format, args.cop_base)
    source.validate()  # a bad file raises QuestionFileError: exit 2
    config = load_config(args.config, args.overrides)
    reply_tokens = parse_reply_tokens(args.reply_tokens)
    observed = _observe(args.db) if args.db else None
    result = estimate(
        args.questions,
        config,
        observed=observed,
        reply_tokens=reply_tokens,
        question_format=source.layout,
        cop_base=source.cop_base,
    )
    if args.json:
        print(json.dumps(result.model_dump(mode="json"), indent=2))
        return EXIT_OK
    out = Console()
    out.print(estimate_table(result))
    out.print("assumptions:", style="bold")
    for note in result.assumptions:
        out.print(f"- {note}", markup=False, highlight=False, soft_wrap=True)
    return EXIT_OK


def parse_reply_tokens(values: list[str]) -> dict[str, int]:
    """`AGENT=N` options as a mapping; ValueError (exit 2) for anything else."""
    parsed: dict[str, int] = {}
    for value in values:
        agent, sep, number = value.partition("=")
        if not sep or agent.strip() not in LINES or not number.strip().isdigit():
            raise ValueError(
                f"--reply-tokens {value!r}: expected AGENT=N with N a whole number of tokens "
                f"and AGENT one of {', '.join(LINES)}"
            )
        parsed[agent.strip()] = int(number)
    return parsed


def _observe(db_url: str) -> Observed:
    """What the runs in `--db` observed; an SQLite file that does not exist is refused, never
    created empty by mistake."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        require_file(Path(url.database), "database")
    with open_db(db_url) as db:
        return observe_runs(db)


def _money(value: float | None) -> str:
    if value is None:
        return "-"
    return f"${value:,.4f}" if value < 100 else f"${value:,.2f}"


def estimate_table(result: Estimate) -> Table:
    """Per agent: model aliases, calls (expected, and min-max), tokens in / out, cost; totals."""
    mix = ", ".join(f"{tier} {share:.0%}" for tier, share in result.tier_mix.items())
    unpriced = ", ".join(result.unpriced_aliases)
    table = Table(
        title=f"estimate for {result.questions} questions (tier mix {mix})",
        caption=f"-: no price for {unpriced}; totals cover the other agents" if unpriced else None,
        box=box.SIMPLE_HEAD,
    )
    for column in ("agent", "model", "calls (min-max)", "tokens in", "tokens out", "cost"):
        left = column in ("agent", "model")
        table.add_column(column, justify="left" if left else "right", overflow="fold")

    def row(name: str, models: str, usage: Usage) -> None:
        calls = f"{usage.calls:,.0f} ({usage.calls_min:,}-{usage.calls_max:,})"
        tokens = (f"{usage.prompt_tokens:,.0f}", f"{usage.completion_tokens:,.0f}")
        table.add_row(name, models, calls, *tokens, _money(usage.cost))

    for line in result.lines:
        row(line.agent, ", ".join(line.aliases), line)
    table.add_section()
    row("total", "", result.totals)
    table.add_row("examples", "", f"{result.examples:,.0f}", "", "", "")
    table.add_row("per example", "", "", "", "", _money(result.cost_per_example))
    return table
