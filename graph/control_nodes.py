"""The graph's two model-free steps: classify a question into its tier, and close it.

They only apply the pure functions of `routing` and store what they decided, so that the
decision (with its arithmetic) is part of the checkpointed history a trace shows.
"""

from __future__ import annotations

from langgraph.runtime import Runtime

from reasonmed.core.state import QuestionState
from reasonmed.graph.routing import assign_tier, count_errors, outcome, tier_reason
from reasonmed.llm.context import PipelineContext


def classify(state: QuestionState, runtime: Runtime[PipelineContext]) -> dict:
    """Count Error paths and assign easy / medium / difficult."""
    paths = state.get("paths", [])
    errors = count_errors(paths)
    tier = assign_tier(errors, runtime.context.config)
    return {"errors": errors, "tier": tier, "tier_reason": tier_reason(errors, len(paths), tier)}


def barrier(state: QuestionState) -> dict:
    """Wait for every task of a fan-out; the router that follows sees all their results."""
    return {}


def finalize(state: QuestionState) -> dict:
    """Record the question's outcome: done with N examples, or rejected with a reason."""
    return {"outcome": outcome(state)}
