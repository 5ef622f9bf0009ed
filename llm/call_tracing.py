"""LangSmith runs for the pipeline's model calls, and the name and metadata of question runs.

LangSmith sees a LangGraph run through LangChain's callbacks: the graph, its nodes, and any
LangChain chat model called inside them. A ``client: http`` call never goes through those
callbacks and a cache hit sends nothing, so neither would show. Instead every row the call log
records becomes one LLM run, built from the row, under the graph node that made the call (the
current run tree): the scrubbed messages and reply, the parse, tokens, alias and endpoint model,
sampling and seed, latency, retries, cache hit. ChatOpenAI's own run for the same request
(``client: sdk``) is muted, so a call shows once and both clients trace alike, retries and
cache hits included.

Whether to trace is read once per run context (``tracing_enabled``); with it off a call pays
two attribute tests and nothing here runs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from langchain_core.tracers.langchain import LangChainTracer
from langchain_core.tracers.schemas import Run
from langsmith import utils as ls_utils
from langsmith.run_helpers import get_current_run_tree, tracing_context
from langsmith.run_trees import RunTree

from reasonmed.core.call_record import CallRecord
from reasonmed.core.config import ModelSpec
from reasonmed.llm.model_registry import redact

if TYPE_CHECKING:
    from reasonmed.llm.context import PipelineContext
    from reasonmed.llm.model_registry import Caller

__all__ = [
    "QuestionRunTracer",
    "question_run_config",
    "question_run_name",
    "trace_call",
    "tracing_enabled",
    "untraced",
]

log = logging.getLogger(__name__)

CACHE_HIT_TAG = "cache-hit"


def tracing_enabled() -> bool:
    """LangSmith tracing is on (``LANGSMITH_TRACING=true``, or langsmith's own switches)."""
    return bool(ls_utils.tracing_is_enabled())


def untraced(send: Caller) -> Caller:
    """``send`` with LangChain's tracer muted: the call's LLM run comes from ``trace_call``."""

    async def quiet(messages: list[dict[str, str]]) -> Any:
        with tracing_context(enabled=False):
            return await send(messages)

    return quiet


def trace_call(ctx: PipelineContext, record: CallRecord, call_id: int) -> None:
    """Send one call-log row to LangSmith as an LLM run, under the current run when there is one.

    Posted once, complete (the call is over), on langsmith's background thread. Never raises:
    tracing must not fail a call.
    """
    try:
        if not ls_utils.tracing_is_enabled():  # e.g. inside tracing_context(enabled=False)
            return
        spec = ctx.models.spec(record.alias)
        _post_call_run(record, call_id, spec, ctx.models.secrets())
    except Exception:
        log.warning("could not trace call %s to LangSmith", call_id, exc_info=True)


def _post_call_run(
    record: CallRecord, call_id: int, spec: ModelSpec, secrets: Iterable[str]
) -> None:
    end = datetime.now(UTC)
    elapsed = float(record.extra.get("elapsed_ms") or record.latency_ms or 0.0)
    start = end - timedelta(milliseconds=elapsed)
    sampling = record.sampling
    metadata = _without_none(
        {
            "reasonmed_run_id": record.run_id,
            "question_id": record.question_id,
            "node": record.node,
            "agent": record.agent,
            "alias": record.alias,
            "model": record.model,
            "client": spec.client,
            "call_id": call_id,
            "temperature": sampling.get("temperature"),
            "top_p": sampling.get("top_p"),
            "max_tokens": sampling.get("max_tokens"),
            "seed": sampling.get("seed"),
            "attempt": record.attempt,
            "resample": record.extra.get("resample"),
            "structured_output": record.extra.get("structured_output"),
            "cache_hit": record.cache_hit,
            "cached_from": record.extra.get("cached_from"),
            "retries": record.retries,
            "latency_ms": round(record.latency_ms, 3),
            "finish_reason": record.finish_reason,
            "discarded": record.extra.get("discarded"),
            "cost": record.cost,
            # LangSmith's own keys for LLM runs (model and cost columns, the playground).
            "ls_provider": spec.provider,
            "ls_model_name": record.model,
            "ls_model_type": "chat",
            "ls_temperature": sampling.get("temperature"),
            "ls_max_tokens": sampling.get("max_tokens"),
        }
    )
    invocation = _without_none(
        {
            "model": record.model,
            "base_url": redact(spec.base_url, secrets) if spec.base_url else None,
            **{name: sampling.get(name) for name in ("temperature", "top_p", "max_tokens", "seed")},
        }
    )
    outputs: dict[str, Any] = {}
    if record.reply is not None:
        outputs = {
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": record.reply},
                    "finish_reason": record.finish_reason,
                }
            ],
        }
        if record.parsed is not None:
            outputs["parsed"] = record.parsed
    extra = {"metadata": metadata, "invocation_params": invocation}
    fields: dict[str, Any] = {
        "inputs": {"messages": record.messages},
        "outputs": outputs,
        "error": record.error,
        "start_time": start,
        "end_time": end,
        "extra": extra,
        "tags": [CACHE_HIT_TAG] if record.cache_hit else None,
    }
    parent = get_current_run_tree()
    if parent is not None:
        run = parent.create_child(record.alias, "llm", **fields)
    else:
        run = RunTree(name=record.alias, run_type="llm", **fields)
    run.set(usage_metadata=_usage(record))
    run.post()


def _usage(record: CallRecord) -> dict[str, int]:
    return {
        "input_tokens": record.prompt_tokens,
        "output_tokens": record.completion_tokens,
        "total_tokens": record.prompt_tokens + record.completion_tokens,
    }


def _without_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


def question_run_name(question_id: str) -> str:
    """The name of a question's graph run in LangSmith."""
    return f"question {question_id}"


def question_run_config(
    config: Mapping[str, Any], question_id: str, tier: str | None
) -> dict[str, Any]:
    """A thread config for tracing: the graph run named after the question, traced by a
    ``QuestionRunTracer`` (the tier already known, from a resumed thread, goes on every run).

    The run and question ids are already in the config's metadata (LangChain passes them to
    every run of the graph); the tier is given to the tracer rather than put there, because
    LangGraph copies config metadata into every checkpoint.
    """
    tracer = QuestionRunTracer(metadata={"tier": tier} if tier else None)
    return {**config, "run_name": question_run_name(question_id), "callbacks": [tracer]}


class QuestionRunTracer(LangChainTracer):
    """LangChain's tracer, plus the question's tier on its graph run once the graph knows it.

    The tier is decided mid-graph (classify), after the run was posted, so it is added from
    the final state when the run ends; LangSmith takes the metadata of the end patch.
    """

    def _on_chain_end(self, run: Run) -> None:
        metadata = run.metadata
        question_id = metadata.get("question_id")
        if question_id is not None and run.name == question_run_name(str(question_id)):
            tier = (run.outputs or {}).get("tier")
            if isinstance(tier, str) and tier:
                run.add_metadata({"tier": tier})
        super()._on_chain_end(run)
