"""`reasonmed replay`: re-run one question from before a node, as a fork, maybe with a new model."""

from __future__ import annotations

import argparse
import asyncio
import shlex
from typing import Any

from rich.console import Console

from reasonmed.cli.common import EXIT_OK, add_db, add_overrides
from reasonmed.graph.replay import ReplayRequest, replay


def register(sub: Any) -> None:
    """Add the `replay` command."""
    rep = sub.add_parser(
        "replay",
        help="re-run one question from the checkpoint before a node (a fork; history is kept)",
    )
    rep.add_argument("--run-id", required=True)
    rep.add_argument("--question", required=True, help="the question's id")
    rep.add_argument(
        "--from",
        dest="from_node",
        required=True,
        metavar="NODE",
        help="generate, verify, classify, rank, refine, regenerate, reverify, summarize, ...",
    )
    rep.add_argument(
        "--occurrence",
        type=int,
        default=1,
        metavar="K",
        help="fork before the K-th time NODE ran (loops run refine/reverify more than once)",
    )
    add_overrides(rep)
    rep.add_argument(
        "--into",
        metavar="NEW_RUN_ID",
        help="copy the question into a new run (with the changed config) and fork there",
    )
    rep.add_argument(
        "--adopt",
        action="store_true",
        help="without --into: make the fork's examples the question's examples in this run",
    )
    add_db(rep)
    rep.add_argument("--no-cache", action="store_true", help="do not serve calls from the cache")
    rep.set_defaults(handler=cmd_replay)


def cmd_replay(args: argparse.Namespace, console: Console) -> int:
    """Fork, run the fork to its end, and say how to compare the branches."""
    if args.adopt and args.into:
        raise ValueError("--adopt applies to a replay in place; with --into the new run records")
    request = ReplayRequest(
        db_url=args.db,
        run_id=args.run_id,
        question_id=args.question,
        from_node=args.from_node,
        occurrence=args.occurrence,
        overrides=args.overrides,
        into=args.into,
        adopt=args.adopt,
        use_cache=not args.no_cache,
    )
    result = asyncio.run(replay(request))
    outcome = result.outcome or {}
    lines = [
        f"replayed {result.question_id} from before {args.from_node} "
        f"(checkpoint {result.fork_checkpoint_id}) in run {result.run_id}",
        f"the fork ended {outcome.get('status', 'without an outcome')}"
        + (f", tier {result.tier}" if result.tier else "")
        + (f": {outcome['reason']}" if outcome.get("reason") else ""),
    ]
    if result.recorded:
        lines.append(f"its examples are now the question's examples in run {result.run_id}")
    elif not args.into:
        lines.append("the question's recorded examples are unchanged (use --adopt to take these)")
    trace = ["reasonmed", "trace", "--run-id", result.run_id, "--question", result.question_id]
    lines.append(f"compare the branches: {shlex.join([*trace, '--db', args.db])}")
    Console().print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)
    return EXIT_OK
