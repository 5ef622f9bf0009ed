"""Verifier node: a deterministic answer check, then the LLM verifier, both recorded.

A path counts as Correct only when the verifier says so AND (with the answer check on) its
extracted final answer is the gold one. A verifier reply that never parses is stored as a typed
failure with verdict None; it is never turned into a fake "Error" (the reference scripts did that).
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from reasonmed.agents.output_readers import parse_verdict
from reasonmed.agents.outputs import Verdict
from reasonmed.core.question import Question
from reasonmed.core.state import VerifyTask
from reasonmed.llm.context import PipelineContext
from reasonmed.llm.model_calls import CallOutcome, call_until_parsed, question_block
from reasonmed.prompts.render import render
from reasonmed.replies.answers import extract_answer
from reasonmed.replies.reply_types import ParseFailure

NODE = "verify"


def answer_matches(ctx: PipelineContext, answer: str | None, question: Question) -> bool | None:
    """Extracted answer == gold, or None when the config turns the check off."""
    return (answer == question.answer) if ctx.config.pipeline.answer_check else None


def _mismatch_reason(answer: str | None, question: Question) -> str:
    concluded = f"option {answer}" if answer else "no clear final answer"
    return f"The reasoning concludes {concluded}, not the gold answer {question.answer}."


async def _ask_verifier(
    ctx: PipelineContext, question: Question, cot: str, *, node: str, key: dict[str, Any]
) -> CallOutcome:
    settings = ctx.config.agents.verifier
    return await call_until_parsed(
        ctx,
        question_id=question.id,
        node=node,
        agent="verifier",
        alias=settings.model,
        sampling={**settings.sampling(), **key},
        prompt=render(
            "verifier",
            question_block=question_block(question),
            gold_answer=question.gold_text(),
            cot=cot,
        ),
        parse=parse_verdict,
        max_attempts=settings.parse_attempts,
        output=Verdict,
    )


def _failure_text(failure: ParseFailure) -> str:
    return f"{failure.kind}: {failure.detail}"


async def verify(task: VerifyTask, runtime: Runtime[PipelineContext]) -> dict[str, Any]:
    """Judge one generated path against the gold answer."""
    ctx = runtime.context
    question = Question.model_validate(task["question"])
    path = task["path"]
    answer_ok = answer_matches(ctx, path.get("answer"), question)
    outcome = await _ask_verifier(
        ctx, question, path.get("cot", ""), node=NODE, key={"index": path["index"]}
    )
    parsed = outcome.parsed
    verdict = parsed.verdict if isinstance(parsed, Verdict) else None
    reason = parsed.reason if isinstance(parsed, Verdict) else ""
    if answer_ok is False:
        # The refiner reads these reasons; a wrong conclusion is the most useful one to give it.
        reason = f"{_mismatch_reason(path.get('answer'), question)} {reason}".strip()
    record = {
        "index": path["index"],
        "answer_ok": answer_ok,
        "verdict": verdict,
        "reason": reason,
        "verify_failure": _failure_text(parsed) if isinstance(parsed, ParseFailure) else None,
        "correct": verdict == "Correct" and answer_ok is not False,
        "verify_call": outcome.call_id,
    }
    return {"paths": [record]}


async def judge_text(
    ctx: PipelineContext, question: Question, cot: str, *, node: str, key: str
) -> tuple[bool, str, int]:
    """Re-verify a rewritten CoT the same way: (passes, reason, call id).

    ``key`` names the request (e.g. "slot0-round1") so each round is a new, reproducible sample.
    """
    answer = extract_answer(cot, question.options).letter
    answer_ok = answer_matches(ctx, answer, question)
    outcome = await _ask_verifier(ctx, question, cot, node=node, key={"key": key})
    parsed = outcome.parsed
    if isinstance(parsed, Verdict):
        passes = parsed.verdict == "Correct" and answer_ok is not False
        reason = parsed.reason or f"verifier said {parsed.verdict}"
    else:
        passes = False
        failure = _failure_text(parsed) if isinstance(parsed, ParseFailure) else "no reply"
        reason = f"verifier reply never parsed ({failure})"
    if answer_ok is False:
        reason = f"{_mismatch_reason(answer, question)} {reason}"
    return passes, reason, outcome.call_id
