"""Summarizer node: the short answer summary that follows each kept CoT in the ReasonMed variant.

It sees the question and the CoT but not the gold answer (the CoT already reaches it). Only the
visible part of the reply is used, so a reasoning model's thinking never leaks into the summary.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from reasonmed.core.question import Question
from reasonmed.core.state import KeptTask
from reasonmed.llm.context import PipelineContext
from reasonmed.llm.model_calls import call_model, question_block
from reasonmed.prompts.render import render
from reasonmed.replies.parsing import split_reasoning

NODE = "summarize"


async def summarize(task: KeptTask, runtime: Runtime[PipelineContext]) -> dict[str, Any]:
    """Write the summary for one kept slot; an empty one is noted, not invented."""
    ctx = runtime.context
    settings = ctx.config.agents.summarizer
    question = Question.model_validate(task["question"])
    kept = task["kept"]
    outcome = await call_model(
        ctx,
        question_id=question.id,
        node=NODE,
        agent="summarizer",
        alias=settings.model,
        sampling={**settings.sampling(), "slot": kept["slot"]},
        prompt=render(
            "summarizer", question_block=question_block(question), cot=kept.get("cot", "")
        ),
    )
    summary = split_reasoning(outcome.reply)[1].strip()
    update: dict[str, Any] = {
        "slot": kept["slot"],
        "summary": summary,
        "calls": [*kept.get("calls", []), outcome.call_id],
    }
    if not summary:
        update["note"] = "; ".join(part for part in (kept.get("note", ""), "empty summary") if part)
    return {"kept": [update]}
