"""Error refiner node (medium tier): rewrite a kept CoT to answer the other paths' error reasons.

The rewrite is only a candidate: the reverifier decides whether it replaces the verified original.
The regenerator (difficult tier) is the same step with another prompt and model, so both share
``rewrite`` below.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from reasonmed.core.config import SingleModelAgent
from reasonmed.core.question import Question
from reasonmed.core.state import KeptTask
from reasonmed.llm.context import PipelineContext
from reasonmed.llm.model_calls import call_model, question_block
from reasonmed.prompts.render import render
from reasonmed.replies.parsing import clean_cot

NODE = "refine"


def format_error_reasons(reasons: list[str]) -> str:
    """One "- reason" line each, so the prompt can ask the model to address every one."""
    lines = [f"- {' '.join(reason.split())}" for reason in reasons if reason and reason.strip()]
    return "\n".join(lines) or "- (none recorded)"


async def rewrite(
    task: KeptTask, ctx: PipelineContext, *, agent: str, node: str, settings: SingleModelAgent
) -> dict[str, Any]:
    """Ask ``agent`` for a new candidate CoT for the kept slot; one round per call."""
    question = Question.model_validate(task["question"])
    kept = task["kept"]
    attempts = kept.get("attempts", 0)
    outcome = await call_model(
        ctx,
        question_id=question.id,
        node=node,
        agent=agent,
        alias=settings.model,
        sampling={**settings.sampling(), "slot": kept["slot"], "round": attempts},
        prompt=render(
            agent,
            question_block=question_block(question),
            gold_answer=question.gold_text(),
            cot=kept.get("cot", ""),
            error_reasons=format_error_reasons(task.get("error_reasons", [])),
        ),
    )
    update = {
        "slot": kept["slot"],
        "candidate": clean_cot(outcome.reply),
        "attempts": attempts + 1,
        "calls": [*kept.get("calls", []), outcome.call_id],
    }
    return {"kept": [update]}


async def refine(task: KeptTask, runtime: Runtime[PipelineContext]) -> dict[str, Any]:
    """One refinement round for a medium-tier kept CoT."""
    ctx = runtime.context
    return await rewrite(task, ctx, agent="refiner", node=NODE, settings=ctx.config.agents.refiner)
