"""`reasonmed eval`: `score` (an LLM judge scores sampled examples) and `accuracy` (a model on
held-out questions). Thin: each subcommand builds a request and calls one function of evals/.

Exit codes as for `run`: 0 every item has a result; 1 some items failed on transport errors
(the same command retries them); 2 bad input; 3 the eval id was started with another config.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from rich.console import Console

from reasonmed.cli import report_command
from reasonmed.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    add_db,
    add_overrides,
    add_question_format,
)
from reasonmed.evals.checks import DEFAULT_MAX_CHARS
from reasonmed.exports.jsonl_export import VARIANTS


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _temperature(text: str) -> float | None:
    return None if text.lower() == "none" else float(text)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, help="config (YAML); optional when continuing an eval"
    )
    add_db(parser)
    parser.add_argument("--eval-id", help="the eval's id (default: named after its inputs)")
    parser.add_argument("--concurrency", type=_positive, help="items in flight")
    add_overrides(parser)
    parser.add_argument(
        "--no-cache", action="store_true", help="call the model even for requests already answered"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def register(sub: Any) -> None:
    """Add `eval` with its subcommands: score, accuracy, report."""
    evaluate = sub.add_parser("eval", help="evaluate examples (score) or a model (accuracy)")
    eval_sub = evaluate.add_subparsers(dest="eval_command", required=True)

    score = eval_sub.add_parser(
        "score", help="an LLM judge scores sampled examples 1-10 (the paper's Score Evaluator)"
    )
    source = score.add_mutually_exclusive_group(required=True)
    source.add_argument("--run-id", help="score this run's exported examples")
    source.add_argument(
        "--input", type=Path, help="score an instruction/input/output JSONL file instead"
    )
    score.add_argument("--variant", choices=VARIANTS, default="reasonmed")
    score.add_argument("--sample", type=_positive, default=3000, help="items to sample (3000)")
    score.add_argument("--seed", type=int, default=0, help="sampling seed (0)")
    score.add_argument(
        "--max-chars",
        type=_positive,
        default=DEFAULT_MAX_CHARS,
        help=f"longer responses are not judged (default {DEFAULT_MAX_CHARS})",
    )
    _common(score)
    score.set_defaults(handler=cmd_score)

    accuracy = eval_sub.add_parser("accuracy", help="a model's accuracy on held-out questions")
    accuracy.add_argument("--model", required=True, help="a model alias of the config")
    accuracy.add_argument(
        "--questions", type=Path, required=True, help="question file (as for run)"
    )
    add_question_format(accuracy, default="reasonmed")
    accuracy.add_argument(
        "--temperature", type=_temperature, default=0.0, help="0 by default; 'none': not sent"
    )
    accuracy.add_argument("--max-tokens", type=_positive, default=4096)
    _common(accuracy)
    accuracy.set_defaults(handler=cmd_accuracy)

    report_command.register(eval_sub)


def _finish(report: dict[str, Any], args: argparse.Namespace, console: Console, render: Any) -> int:
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        Console().print(render(report))
    failures = report.get("failures") or []
    for failure in failures[:5]:
        console.print(f"failed: {failure}", markup=False, highlight=False, soft_wrap=True)
    if failures:
        console.print(
            f"{len(failures)} item(s) failed on transport errors and have no result; run the "
            "same command again to retry them (results so far are kept)",
            markup=False,
        )
        return EXIT_FAILED
    return EXIT_OK


def _execute(
    job: Coroutine[Any, Any, dict[str, Any]],
    args: argparse.Namespace,
    console: Console,
    render: Any,
) -> int:
    """Run the eval to its end and print its report (a changed config is `main`'s exit 3)."""
    return _finish(asyncio.run(job), args, console, render)


def cmd_score(args: argparse.Namespace, console: Console) -> int:
    """Judge the sampled examples (or file records) not judged yet; print the report."""
    from reasonmed.cli.eval_tables import score_tables
    from reasonmed.evals.score import ScoreRequest, run_score

    request = ScoreRequest(
        db_url=args.db,
        config_path=args.config,
        run_id=args.run_id,
        variant=args.variant,
        input_path=args.input,
        sample=args.sample,
        seed=args.seed,
        eval_id=args.eval_id,
        concurrency=args.concurrency,
        overrides=args.overrides,
        max_chars=args.max_chars,
        use_cache=not args.no_cache,
    )
    return _execute(run_score(request), args, console, score_tables)


def cmd_accuracy(args: argparse.Namespace, console: Console) -> int:
    """Ask the model every question not answered yet; print accuracy overall and per source."""
    from reasonmed.cli.eval_tables import accuracy_tables
    from reasonmed.evals.accuracy import AccuracyRequest, run_accuracy

    request = AccuracyRequest(
        model=args.model,
        questions=args.questions,
        db_url=args.db,
        config_path=args.config,
        eval_id=args.eval_id,
        concurrency=args.concurrency,
        overrides=args.overrides,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        use_cache=not args.no_cache,
        question_format=args.question_format,
        cop_base=args.cop_base,
    )
    return _execute(run_accuracy(request), args, console, accuracy_tables)
