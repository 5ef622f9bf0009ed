"""Regenerator node (difficult tier): a stronger model writes one new CoT from the best path.

Same step as the refiner with the "regenerator" prompt and its own model; the router builds the
kept record (slot 0, first Correct path or else the first path) before the first round.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from reasonmed.agents.refiner import rewrite
from reasonmed.core.state import KeptTask
from reasonmed.llm.context import PipelineContext

NODE = "regenerate"


async def regenerate(task: KeptTask, runtime: Runtime[PipelineContext]) -> dict[str, Any]:
    """One regeneration round for a difficult question.

    On the first round the kept record exists only in the task (the router built it), so the
    update carries the whole record; later rounds just overwrite the same fields again.
    """
    ctx = runtime.context
    update = await rewrite(
        task, ctx, agent="regenerator", node=NODE, settings=ctx.config.agents.regenerator
    )
    update["kept"] = [{**task["kept"], **record} for record in update["kept"]]
    return update
