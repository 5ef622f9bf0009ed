"""`reasonmed step`: one question, one super-step at a time, with a look at the state between.

Keys (one per line, so a script can pipe them): Enter runs the next step, `s` shows the full
state, `p` the last step's prompts and replies in full, `e` edits a value of the state, `q`
quits. Quitting, like Ctrl-C or end of input, leaves the thread checkpointed: the same command
continues it, and so does a plain `reasonmed run`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from reasonmed.cli.common import (
    EXIT_OK,
    add_db,
    add_overrides,
    add_question_format,
    format_options,
    require_file,
)
from reasonmed.cli.trace_view import render_steps, render_trace
from reasonmed.core.question import Question
from reasonmed.graph.run_session import ConfigSource, open_session
from reasonmed.graph.state_edit import EditError
from reasonmed.graph.stepping import Stepper
from reasonmed.sources.source_reader import QuestionSource, open_source
from reasonmed.storage.claims import RunBusyError, open_claims

KEYS = "[Enter] next step · s state · p prompts · e edit · q quit"


def register(sub: Any) -> None:
    """Add the `step` command."""
    step = sub.add_parser("step", help="run one question a super-step at a time")
    step.add_argument("questions", type=Path, help="the run's question file")
    add_question_format(step, default="reasonmed")
    step.add_argument("--question", required=True, help="the id of the question to step")
    step.add_argument("--config", type=Path, help="run config (YAML); optional when continuing")
    step.add_argument("--run-id", help="run id (default: the question file's stem)")
    add_db(step)
    add_overrides(step)
    step.add_argument(
        "--steps", type=int, metavar="N", help="run N steps without prompting, then stop"
    )
    step.add_argument("--full", action="store_true", help="prompts and replies unabridged")
    step.add_argument("--no-cache", action="store_true", help="do not serve calls from the cache")
    step.add_argument(
        "--accept-config-change",
        action="store_true",
        help="continue with a config that differs from the run's stored one",
    )
    step.set_defaults(handler=cmd_step)


def cmd_step(args: argparse.Namespace, console: Console) -> int:
    """Validate the input, find the question, then step it."""
    require_file(args.questions, "question file")
    if args.steps is not None and args.steps < 0:
        raise ValueError("--steps must be 0 or more")
    questions = open_source(args.questions, args.question_format, args.cop_base)
    questions.validate()
    question = _find(questions, args.question)
    return asyncio.run(_step_loop(args, questions, question, Console()))


def _find(questions: QuestionSource, question_id: str) -> Question:
    ids: list[str] = []
    path = questions.path
    for question in questions.questions():
        if question.id == question_id:
            return question
        ids.append(question.id)
    sample = ", ".join(ids[:5])
    raise LookupError(f"{path}: no question with id {question_id!r} (ids include {sample})")


async def _step_loop(
    args: argparse.Namespace, questions: QuestionSource, question: Question, out: Console
) -> int:
    source = ConfigSource(
        run_id=args.run_id or args.questions.stem,
        path=args.config,
        overrides=tuple(args.overrides),
        questions=str(args.questions),
        accept_change=args.accept_config_change,
    )
    async with open_session(
        args.db, source, questions=questions.questions(), use_cache=not args.no_cache
    ) as session:
        claims = open_claims(session.db, session.run_id)  # a `run` elsewhere must not race us
        try:
            if not await claims.acquire(question.id):
                raise RunBusyError(
                    f"question {question.id!r} of run {session.run_id!r} is being run by "
                    "another process; try again when it is done"
                )
            return await _steps(args, Stepper(session, question), source.run_id, out)
        finally:
            await claims.release(question.id)
            claims.close()


async def _steps(args: argparse.Namespace, stepper: Stepper, run_id: str, out: Console) -> int:
    """The key loop; returns when the question finishes, the steps are done, or on `q`."""
    ran = 0
    while not await stepper.finished():
        await _show_upcoming(stepper, out)
        if args.steps is not None:
            if ran >= args.steps:
                break
            key = ""
        else:
            key = await _read(f"{KEYS} > ")
        if key is None or key == "q":
            break
        if key == "":
            steps = await stepper.step()
            ran += 1
            out.print(render_steps(f"[bold]ran {len(steps)} step(s)[/]", steps, full=args.full))
        else:
            await _other_key(key, stepper, out)
    if await stepper.finished():
        result = await stepper.record()
        out.print(render_trace(await stepper.trace(), full=False))
        out.print(f"finished: {result['status']}, {result['examples']} example(s)", markup=False)
    else:
        out.print(
            f"stopped; the thread is checkpointed. Continue with:\n  {_again(args)}\n"
            f"or run the whole file: reasonmed run {shlex.quote(str(args.questions))} "
            f"--db {shlex.quote(args.db)} --run-id {shlex.quote(run_id)} "
            f"{shlex.join(format_options(args))}".rstrip(),
            markup=False,
            soft_wrap=True,
        )
    return EXIT_OK


async def _read(prompt: str, *, raw: bool = False) -> str | None:
    """A line from the terminal (or a pipe), a key unless `raw`; None at end of input."""
    try:
        line = (await asyncio.to_thread(input, prompt)).strip()
    except (EOFError, KeyboardInterrupt):
        return None
    return line if raw else line.lower()


async def _show_upcoming(stepper: Stepper, out: Console) -> None:
    tree = Tree("[bold]next[/]")
    for task in await stepper.upcoming():
        tree.add(escape(task.describe()))
    out.print(tree)


async def _other_key(key: str, stepper: Stepper, out: Console) -> None:
    if key == "s":
        out.print_json(json.dumps(await stepper.values(), default=str))
    elif key == "p":
        steps = stepper.last_steps or await stepper.last_calling_steps()
        if not steps:
            out.print("no model has been called for this question yet", markup=False)
        out.print(render_steps("[bold]last step, in full[/]", steps, full=True))
    elif key == "e":
        assignment = await _read("edit, e.g. paths.3.correct=false > ", raw=True)
        if not assignment:
            return
        try:
            update = await stepper.edit(assignment)
        except EditError as exc:
            out.print(f"not applied: {exc}", markup=False)
            return
        out.print(f"applied: {json.dumps(update, default=str)[:500]}", markup=False)
    else:
        out.print(f"unknown key {key!r}; {KEYS}", markup=False)


def _again(args: argparse.Namespace) -> str:
    """The command that continues stepping this question."""
    parts = ["reasonmed", "step", str(args.questions), "--question", args.question, "--db", args.db]
    if args.run_id:
        parts += ["--run-id", args.run_id]
    return shlex.join(parts + format_options(args))
