"""Routing: pure functions of the question's state and the run config.

Every decision the graph makes lives here and is testable with plain data: which generation
tasks to fan out, which tier a question falls in, which kept chains of thought go back to the
refiner and which go on to the summarizer, and when a question ends. Loop bounds (refinement and
regeneration attempts) are owned here too; the agents only count.
"""

from __future__ import annotations

from itertools import product
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import Send

from reasonmed.core.config import RunConfig
from reasonmed.core.state import (
    GenerateTask,
    KeptRecord,
    KeptTask,
    PathRecord,
    QuestionState,
    Tier,
    VerifyTask,
)
from reasonmed.llm.context import PipelineContext

# Node names, used by the builder and the routers alike.
GENERATE, VERIFY, CLASSIFY, RANK = "generate", "verify", "classify", "rank"
REFINE, REGENERATE, REVERIFY = "refine", "regenerate", "reverify"
SUMMARIZE, FINALIZE = "summarize", "finalize"
# Barriers: run once after every task of a fan-out has finished, then route.
COLLECT, PLAN = "collect", "plan"


# -- generation and verification -------------------------------------------------------------


def generation_tasks(question: dict[str, Any], config: RunConfig) -> list[GenerateTask]:
    """One task per (model, temperature, sample), model-major: the paper's 3 x 3 x 1 paths.

    The path index is part of each request's seed, so samples of one (model, temperature) are
    distinct requests, never cache hits of each other."""
    gen = config.agents.generator
    samples = range(gen.samples_per_temperature)
    return [
        GenerateTask(question=question, index=i, model=model, temperature=temperature)
        for i, (model, temperature, _) in enumerate(product(gen.models, gen.temperatures, samples))
    ]


def verification_tasks(state: QuestionState) -> list[VerifyTask]:
    """One verifier task per generated path that has not been judged yet."""
    return [
        VerifyTask(question=state["question"], path=path)
        for path in state.get("paths", [])
        if "correct" not in path
    ]


# -- tiers ------------------------------------------------------------------------------------


def count_errors(paths: list[PathRecord]) -> int:
    """Paths that do not count as Correct (unparseable verdicts included: not proven right)."""
    return sum(1 for path in paths if not path.get("correct"))


def assign_tier(errors: int, config: RunConfig) -> Tier:
    """easy up to `easy_max_errors` errors, medium up to `medium_max_errors`, else difficult."""
    if errors <= config.pipeline.easy_max_errors:
        return "easy"
    if errors <= config.pipeline.medium_max_errors:
        return "medium"
    return "difficult"


def tier_reason(errors: int, total: int, tier: Tier) -> str:
    """The tier decision as a sentence a user can check."""
    return f"{errors} of {total} judged Error: {tier}"


def error_reasons(paths: list[PathRecord], exclude_index: int | None = None) -> list[str]:
    """The verifier's reasons for the failed paths, other than `exclude_index`'s own."""
    reasons = []
    for path in paths:
        if path.get("correct") or path.get("index") == exclude_index:
            continue
        reason = path.get("reason") or path.get("verify_failure") or ""
        if not reason and path.get("answer_ok") is False:
            reason = f"concluded {path.get('answer') or 'no clear option'}, not the gold answer"
        if reason and reason not in reasons:
            reasons.append(reason)
    return reasons


def regeneration_seed(paths: list[PathRecord]) -> KeptRecord:
    """Difficult tier: the CoT the regenerator rewrites, the first Correct one, else the first."""
    ordered = sorted(paths, key=lambda p: p["index"])
    source = next((p for p in ordered if p.get("correct")), ordered[0])
    return KeptRecord(
        slot=0,
        source_index=source["index"],
        origin="regenerated",
        cot=source.get("cot", ""),
        score=None,
        verdict=source.get("verdict") or "",
        reason=source.get("reason", ""),
        candidate=None,
        attempts=0,
        status="pending",
        note="",
        summary="",
        calls=[],
    )


def after_classify(state: QuestionState) -> list[Send] | str:
    """easy and medium go to the ranker; difficult to the regenerator; nothing to work on ends."""
    paths = state.get("paths", [])
    if not paths:
        return FINALIZE
    if state["tier"] == "difficult":
        seed = regeneration_seed(paths)
        return [Send(REGENERATE, _kept_task(state, seed, error_reasons(paths)))]
    return RANK


# -- refinement loop --------------------------------------------------------------------------


def _kept_task(state: QuestionState, kept: KeptRecord, reasons: list[str]) -> KeptTask:
    return KeptTask(
        question=state["question"], tier=state["tier"], kept=kept, error_reasons=reasons
    )


def max_attempts(tier: Tier, config: RunConfig) -> int:
    """Refine / regenerate rounds allowed for a kept CoT of this tier."""
    agents = config.agents
    return agents.regenerator.attempts if tier == "difficult" else agents.refiner.attempts


def next_work(state: QuestionState, config: RunConfig) -> list[Send] | str:
    """After ranking or re-verification: improve, re-verify, summarize, or finish.

    A kept CoT is `pending` until it has a verified text: with a candidate it goes to the
    re-verifier; without one it goes (back) to the refiner or regenerator, while attempts are
    left. When none is pending, every `ready` CoT without a summary is summarized.
    """
    kept = state.get("kept", [])
    paths = state.get("paths", [])
    improve = REGENERATE if state.get("tier") == "difficult" else REFINE
    sends: list[Send] = []
    for record in kept:
        if record.get("status") != "pending":
            continue
        if record.get("candidate"):
            sends.append(Send(REVERIFY, _kept_task(state, record, [])))
        elif record.get("attempts", 0) < max_attempts(state["tier"], config):
            exclude = None if improve == REGENERATE else record.get("source_index")
            sends.append(Send(improve, _kept_task(state, record, error_reasons(paths, exclude))))
    if sends:
        return sends
    ready = [r for r in kept if r.get("status") == "ready" and not r.get("summary")]
    if ready and not any(r.get("status") == "failed" for r in kept):
        return [Send(SUMMARIZE, _kept_task(state, r, [])) for r in ready]
    return FINALIZE


def outcome(state: QuestionState) -> dict[str, Any]:
    """How the question ends: done with its examples, or rejected with a reason."""
    kept = state.get("kept", [])
    if not state.get("paths"):
        return {"status": "rejected", "reason": "no reasoning path was generated", "examples": 0}
    failed = [r for r in kept if r.get("status") == "failed"]
    if failed:
        reason = failed[0].get("note") or "the regenerated chain of thought failed verification"
        return {"status": "rejected", "reason": reason, "examples": 0}
    usable = [r for r in kept if r.get("status") == "ready"]
    if not usable:
        return {"status": "rejected", "reason": "no chain of thought passed", "examples": 0}
    return {"status": "done", "reason": state.get("tier_reason", ""), "examples": len(usable)}


# -- adapters: LangGraph calls these with the run config in the runtime context ---------------


def route_start(state: QuestionState, runtime: Runtime[PipelineContext]) -> list[Send]:
    """START -> one `generate` task per (model, temperature)."""
    return [
        Send(GENERATE, task) for task in generation_tasks(state["question"], runtime.context.config)
    ]


def route_verify(state: QuestionState) -> list[Send] | str:
    """collect -> one `verify` task per path."""
    return [Send(VERIFY, task) for task in verification_tasks(state)] or CLASSIFY


def route_work(state: QuestionState, runtime: Runtime[PipelineContext]) -> list[Send] | str:
    """plan -> whatever `next_work` decides."""
    return next_work(state, runtime.context.config)
