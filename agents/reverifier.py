"""Re-verification node: a refined or regenerated CoT must pass the verifier before it is kept.

The reference scripts trusted rewrites blindly. Here a failed candidate goes back for another
round while the agent's ``attempts`` allow; then a medium question falls back to its original,
already verified CoT, and a difficult one (which has no verified original) fails with the reason.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from reasonmed.agents.verifier import judge_text
from reasonmed.core.question import Question
from reasonmed.core.state import KeptTask
from reasonmed.llm.context import PipelineContext

NODE = "reverify"


async def reverify(task: KeptTask, runtime: Runtime[PipelineContext]) -> dict[str, Any]:
    """Judge the kept slot's candidate; decide ready, pending (another round) or failed."""
    ctx = runtime.context
    question = Question.model_validate(task["question"])
    kept = task["kept"]
    difficult = task["tier"] == "difficult"
    settings = ctx.config.agents.regenerator if difficult else ctx.config.agents.refiner
    attempts = kept.get("attempts", 0)
    calls = list(kept.get("calls", []))
    candidate = (kept.get("candidate") or "").strip()
    if candidate:
        key = f"slot{kept['slot']}-round{attempts}"
        passes, reason, call_id = await judge_text(ctx, question, candidate, node=NODE, key=key)
        calls.append(call_id)
    else:
        passes, reason = False, "the rewrite was empty"
    update: dict[str, Any] = {"slot": kept["slot"], "candidate": None, "calls": calls}
    if passes:
        update |= {
            "cot": candidate,
            "origin": "regenerated" if difficult else "refined",
            "verdict": "Correct",
            "reason": reason,
            "status": "ready",
            "note": f"passed re-verification on attempt {attempts}",
        }
    elif attempts < settings.attempts:
        update |= {
            "status": "pending",
            "note": f"attempt {attempts} failed re-verification: {reason}",
        }
    elif difficult:
        update |= {
            "status": "failed",
            "note": f"regenerated CoT failed re-verification {attempts} times; last: {reason}",
        }
    else:
        update |= {
            "status": "ready",
            "note": f"refinement failed re-verification {attempts} times; original kept",
        }
    return {"kept": [update]}
