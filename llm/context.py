"""What every agent node gets at run time: the run's config, its models and its call log.

Passed as LangGraph's runtime context (`graph.ainvoke(..., context=ctx)`), so it is never
checkpointed and the graph is built once, independent of any run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from reasonmed.core.call_record import CallRecord
from reasonmed.core.config import RunConfig
from reasonmed.llm.call_tracing import tracing_enabled
from reasonmed.llm.limits import AdaptiveLimit, LimitStats
from reasonmed.llm.model_registry import ModelRegistry
from reasonmed.llm.structured_output import FormatModes


class CachedReply(Protocol):
    """What a cache hit serves: the earlier call's reply and finish reason."""

    @property
    def reply(self) -> str | None: ...

    @property
    def finish_reason(self) -> str | None: ...


class CallRecorder(Protocol):
    """Stores call records, and finds an earlier call that sent the same request."""

    async def arecord(self, record: CallRecord) -> int: ...

    async def acached(self, request_key: str) -> CachedReply | None: ...


@dataclass
class PipelineContext:
    """Run-wide services for the agent nodes."""

    run_id: str
    config: RunConfig
    models: ModelRegistry
    calls: CallRecorder
    # Serve a request identical to an earlier one (same model, messages, sampling, seed) from
    # the call log instead of the model; `reasonmed run --no-cache` turns it off.
    use_cache: bool = True
    # One cap on requests in flight per model alias: it starts at the config's max_concurrency,
    # drops under 429s and climbs back after successes.
    limits: dict[str, AdaptiveLimit] = field(default_factory=dict)
    # `run --workers N` starts N processes on one run: each gets max(1, cap // N) of every
    # alias's cap, so together they stay within max_concurrency (when it is at least N).
    cap_share: int = 1
    # Which response_format each alias with `structured_output: auto` settled on in this process.
    formats: FormatModes = field(default_factory=FormatModes)
    # LangSmith tracing (LANGSMITH_TRACING=true), read once: each call logged is then also an
    # LLM run under its graph node (`llm/call_tracing.py`); off, calls pay nothing for it.
    tracing: bool = field(default_factory=tracing_enabled)

    def limit(self, alias: str) -> AdaptiveLimit:
        """The adaptive cap on requests in flight to `alias`."""
        cap = self.limits.get(alias)
        if cap is None:
            share = max(1, self.config.models[alias].max_concurrency // self.cap_share)
            cap = self.limits[alias] = AdaptiveLimit(share)
        return cap

    def limit_stats(self) -> dict[str, LimitStats]:
        """Each used alias's current cap and counters (cuts, raises, peak in flight)."""
        return {alias: cap.stats() for alias, cap in self.limits.items()}

    def thread_id(self, question_id: str) -> str:
        """The LangGraph thread of one question of this run."""
        return thread_id_for(self.run_id, question_id)


def thread_id_for(run_id: str, question_id: str) -> str:
    """Deterministic thread id: one thread per (run, question)."""
    return f"{run_id}:{question_id}"
