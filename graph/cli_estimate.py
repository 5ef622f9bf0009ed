"""`reasonmed estimate`: the expected calls, tokens and cost of a run, before any model call.

The arithmetic lives in `graph.estimate`; this module parses the options, reads what earlier runs
in `--db` observed (reply lengths, tier mix, rewrite pass rates) and prints a table or JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from sqlalchemy import and_, func, select
from sqlalchemy.engine import make_url

from reasonmed.graph.cli_common import EXIT_OK, add_overrides, open_db, require_file
from reasonmed.graph.estimate import LINES, TIERS, Estimate, Observed, Usage, estimate
from reasonmed.storage.schema import examples as X
from reasonmed.storage.schema import llm_calls as L
from reasonmed.storage.schema import questions as Q


def register(sub: Any) -> None:
    """Add the `estimate` command."""
    parser = sub.add_parser(
        "estimate", help="expected calls, tokens and cost of a run, before any model call"
    )
    parser.add_argument("questions", type=Path, help="JSONL (or JSON array) of questions")
    parser.add_argument("--config", type=Path, required=True, help="run config (YAML)")
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
    from reasonmed.graph.config import load_config
    from reasonmed.storage.questions import validate_question_file

    require_file(args.questions, "question file")
    validate_question_file(args.questions)  # a bad file raises QuestionFileError: exit 2
    config = load_config(args.config, args.overrides)
    reply_tokens = parse_reply_tokens(args.reply_tokens)
    observed = observe(args.db) if args.db else None
    result = estimate(args.questions, config, observed=observed, reply_tokens=reply_tokens)
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


def observe(db_url: str) -> Observed:
    """What every run in the database observed: mean reply tokens per agent (calls that reported
    usage, no errors, no cache hits), Error counts of finished questions by tier, and how many
    refine / regenerate rounds of finished questions there were and how many passed."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        require_file(Path(url.database), "database")  # never create an empty one by mistake
    finished = Q.c.status.in_(("done", "rejected"))
    usable = and_(L.c.error.is_(None), L.c.cache_hit.is_(False), L.c.completion_tokens > 0)
    own = and_(L.c.run_id == Q.c.run_id, L.c.question_id == Q.c.question_id)
    nodes = {"refine": "refiner", "regenerate": "regenerator"}
    origins = {"refined": "refiner", "regenerated": "regenerator"}
    replies = select(L.c.node, L.c.agent, func.count(), func.sum(L.c.completion_tokens))
    replies = replies.where(usable).group_by(L.c.node, L.c.agent)
    tiers = select(Q.c.tier, Q.c.errors, func.count()).where(finished, Q.c.errors.is_not(None))
    rounds = select(L.c.node, func.count()).join_from(L, Q, own)
    rounds = rounds.where(finished, L.c.error.is_(None), L.c.node.in_(nodes))
    passes = select(X.c.origin, func.count()).where(X.c.origin.in_(origins))
    observed, totals = Observed(), {}
    with open_db(db_url) as db, db.connect(write=False) as conn:
        for node, agent, n, tokens in conn.execute(replies):
            line = "reverifier" if node == "reverify" else agent
            if line in LINES:
                observed.reply_calls[line] = observed.reply_calls.get(line, 0) + n
                totals[line] = totals.get(line, 0) + float(tokens or 0)
        for tier, errors, n in conn.execute(tiers.group_by(Q.c.tier, Q.c.errors)):
            if tier in TIERS:
                observed.errors.setdefault(tier, {})[int(errors)] = n
        for node, n in conn.execute(rounds.group_by(L.c.node)):
            observed.rounds[nodes[node]] = n
        for origin, n in conn.execute(passes.group_by(X.c.origin)):
            observed.passes[origins[origin]] = n
    observed.reply_tokens = {k: v / observed.reply_calls[k] for k, v in totals.items()}
    return observed


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
