"""One model call, done the same way by every agent: capped, seeded, retried, recorded.

Only transport errors are retried (429, timeouts, connection errors, 5xx), with bounded
exponential backoff that honours the server's retry-after headers; a 4xx is a bug in the request
and fails at once. Requests to an alias share its AdaptiveLimit, which 429s cut and successes
raise again; each request is bounded end to end by the alias's timeout_s. An empty or length-cut
reply is re-sampled at most twice, then accepted. Every call ends as one row in the call log,
secrets scrubbed, and the seed is derived from the request's identity so a rerun sends the
identical request while a re-ask is a new sample.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_core.messages import BaseMessage
from pydantic import BaseModel

from reasonmed.core.call_record import CallRecord
from reasonmed.core.question import Question
from reasonmed.llm.call_tracing import trace_call, untraced
from reasonmed.llm.model_registry import redact
from reasonmed.llm.retries import backoff_delay, retry_after, retryable
from reasonmed.llm.structured_output import is_refusal, response_format
from reasonmed.prompts.render import RenderedPrompt, format_question_block
from reasonmed.replies.reply_types import ParseFailure

if TYPE_CHECKING:
    from reasonmed.llm.context import PipelineContext
    from reasonmed.llm.model_registry import Caller

__all__ = [
    "CallOutcome",
    "ModelCallError",
    "Parser",
    "call_model",
    "call_until_parsed",
    "derive_seed",
    "question_block",
]

Parser = Callable[[str], BaseModel | ParseFailure]

RESAMPLES = 2  # new samples after an empty or length-cut reply
_SAMPLING_KEYS = ("temperature", "top_p", "max_tokens")
_LENGTH_REASONS = frozenset({"length", "max_tokens", "max_output_tokens"})

_sleep = asyncio.sleep  # patched in tests so backoff costs no wall time


@dataclass(frozen=True)
class CallOutcome:
    """What an agent needs from a call: the log row's id, the reply, its parse, and which
    attempt (0-based) of the request it was, so a caller re-asking knows how many it took."""

    call_id: int
    reply: str
    parsed: BaseModel | ParseFailure | None
    attempt: int = 0


class ModelCallError(RuntimeError):
    """A call that failed for good (retries exhausted or a non-retryable error).

    The runner records the question as failed with it; ``error`` is already scrubbed of keys.
    """

    def __init__(self, node: str, alias: str, model: str, error: str, attempts: int) -> None:
        self.node, self.alias, self.model = node, alias, model
        self.error, self.attempts = error, attempts
        super().__init__(
            f"{node}: call to {alias} ({model}) failed after {attempts} attempt(s): {error}"
        )


def question_block(question: Question) -> str:
    """The question as every agent prompt shows it."""
    return format_question_block(question.question, question.options, question.context)


def derive_seed(question_id: str, node: str, agent: str, alias: str, key: dict[str, Any]) -> int:
    """A stable 31-bit seed from the request's identity (what it is for, not when it ran)."""
    material = json.dumps([question_id, node, agent, alias, key], sort_keys=True, default=str)
    return int.from_bytes(hashlib.sha256(material.encode("utf-8")).digest()[:4], "big") >> 1


async def _invoke_within(
    send: Caller, messages: list[dict[str, str]], timeout_s: float
) -> BaseMessage:
    """The reply, or TimeoutError once ``timeout_s`` has passed since the request was sent.

    The HTTP client's timeout bounds each socket operation, not the whole reply: a server that
    trickles bytes keeps a request alive for ever. This deadline bounds it end to end.
    """
    deadline = asyncio.timeout(timeout_s)
    try:
        async with deadline:
            return await send(messages)
    except TimeoutError:
        if deadline.expired():
            raise TimeoutError(f"timed out: no complete reply in timeout_s={timeout_s:g}") from None
        raise


def _reply_text(message: BaseMessage) -> str:
    """Visible text, with provider-separated reasoning re-wrapped so clean_cot keeps it."""
    text = message.text
    reasoning = message.additional_kwargs.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning.strip():
        return f"<think>\n{reasoning.strip()}\n</think>\n\n{text}"
    return text


def _finish_reason(message: BaseMessage) -> str | None:
    meta = message.response_metadata or {}
    for name in ("finish_reason", "stop_reason", "done_reason"):
        if isinstance(meta.get(name), str):
            return meta[name]
    return None


def _scrub(value: Any, secrets: Iterable[str]) -> Any:
    """Redact secrets in every string of a JSON-like value."""
    if not secrets:
        return value
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    return value


def _parsed_dict(parsed: BaseModel | ParseFailure | None) -> dict[str, Any] | None:
    if parsed is None:
        return None
    if isinstance(parsed, ParseFailure):
        return {"failure": parsed.model_dump()}
    return parsed.model_dump()


def _request_key(
    model: str, base_url: str | None, messages: Any, params: dict[str, Any], seed: int
) -> str:
    """What identifies a request for the cache: endpoint model, messages, sampling, seed."""
    body = {"model": model, "base_url": base_url, "messages": messages, "seed": seed, **params}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()


def cached_id(call: Any) -> int | None:
    """The id of a cached call record, when the recorder gives one."""
    return getattr(call, "id", None)


async def call_model(
    ctx: PipelineContext,
    *,
    question_id: str,
    node: str,
    agent: str,
    alias: str,
    sampling: dict[str, Any],
    prompt: RenderedPrompt,
    attempt: int = 0,
    parse: Parser | None = None,
    output: type[BaseModel] | None = None,
) -> CallOutcome:
    """Send one prompt and record it; raise ModelCallError when it cannot get a reply.

    ``sampling`` holds temperature / top_p / max_tokens; any other key (index, slot, round)
    only identifies the request for its seed. Discarded empty or length-cut samples are logged as
    their own rows (they cost tokens), marked ``extra["discarded"]``. ``output``, the pydantic
    model the reply is parsed into, is asked for as ``response_format`` when the alias's
    ``structured_output`` says so; a refusal of it under ``auto`` is logged and the request sent
    again a step down.
    """
    spec = ctx.models.spec(alias)
    secrets = ctx.models.secrets()
    params = {name: sampling.get(name) for name in _SAMPLING_KEYS}
    key = {k: v for k, v in sampling.items() if k not in _SAMPLING_KEYS}
    messages = prompt.messages
    stored_messages = _scrub(prompt.messages, secrets)
    mode = "none"

    async def record(**fields: Any) -> int:
        row = CallRecord(
            run_id=ctx.run_id,
            question_id=question_id,
            thread_id=ctx.thread_id(question_id),
            node=node,
            agent=agent,
            alias=alias,
            model=spec.model,
            messages=stored_messages,
            template_hash=prompt.template_hash,
            sampling={**sampling, **params, "seed": seed},
            attempt=attempt,
            **fields,
        )
        shape = {"structured_output": mode} if mode != "none" else {}
        row.extra = {"text_hash": prompt.text_hash, "resample": resample, **shape, **row.extra}
        call_id = await ctx.calls.arecord(row)
        if ctx.tracing:  # the row, as an LLM run under the calling node
            trace_call(ctx, row, call_id)
        return call_id

    requests = [0]
    for resample in range(RESAMPLES + 1):
        identity = {**key, "attempt": attempt, "resample": resample}
        seed = derive_seed(question_id, node, agent, alias, identity)
        while True:  # once more per structured-output step down
            mode = ctx.formats.mode(alias, spec.structured_output) if output else "none"
            fmt = response_format(output, mode)
            sent = params if fmt is None else {**params, "response_format": fmt}
            request_key = _request_key(spec.model, spec.base_url, prompt.messages, sent, seed)
            cached = await ctx.calls.acached(request_key) if ctx.use_cache else None
            started = time.monotonic()
            if cached is not None:  # the same request was answered before: never pay twice
                reply, finish, usage = cached.reply or "", cached.finish_reason, {}
                retries, latency_ms, hit = 0, 0.0, {"cached_from": cached_id(cached)}
                break
            shaped = {"response_format": fmt} if fmt is not None else {}
            send = ctx.models.caller(alias, seed=seed, **params, **shaped)
            if ctx.tracing:  # the call's run is trace_call's; ChatOpenAI's would double it
                send = untraced(send)
            try:
                message, retries, latency_ms = await _send(
                    ctx, alias, send, messages, requests, shaped=fmt is not None
                )
            except _Failed as failed:
                await record(
                    error=failed.error,
                    retries=failed.retries,
                    latency_ms=failed.latency_ms,
                    request_key=request_key,
                    extra={
                        "elapsed_ms": (time.monotonic() - started) * 1000,
                        **({"format_refused": mode} if failed.refused_format else {}),
                    },
                )
                refused = failed.refused_format and fmt is not None
                if refused and ctx.formats.step_down(alias, spec.structured_output, mode):
                    continue
                raise ModelCallError(node, alias, spec.model, failed.error, requests[0]) from None
            reply = redact(_reply_text(message), secrets)
            finish = _finish_reason(message)
            usage = getattr(message, "usage_metadata", None) or {}
            hit = {}
            break
        discarded = ""
        if resample < RESAMPLES:
            if not reply.strip():
                discarded = "empty"
            elif finish in _LENGTH_REASONS:
                discarded = "length"
        parsed = parse(reply) if parse is not None and not discarded else None
        call_id = await record(
            reply=reply,
            parsed=_scrub(_parsed_dict(parsed), secrets),
            retries=retries,
            prompt_tokens=int(usage.get("input_tokens") or 0),
            completion_tokens=int(usage.get("output_tokens") or 0),
            latency_ms=latency_ms,
            finish_reason=finish,
            cache_hit=cached is not None,
            request_key=request_key,
            extra={
                "elapsed_ms": (time.monotonic() - started) * 1000,
                **hit,
                **({"discarded": discarded} if discarded else {}),
            },
        )
        if not discarded:
            return CallOutcome(call_id=call_id, reply=reply, parsed=parsed, attempt=attempt)
    raise AssertionError("unreachable: the last sample is always accepted")


class _Failed(Exception):
    """A request that failed for good; what its log row records."""

    def __init__(self, error: str, retries: int, latency_ms: float, refused_format: bool) -> None:
        super().__init__(error)
        self.error, self.retries = error, retries
        self.latency_ms, self.refused_format = latency_ms, refused_format


async def _send(
    ctx: PipelineContext,
    alias: str,
    send: Caller,
    messages: list[dict[str, str]],
    requests: list[int],
    *,
    shaped: bool = False,
) -> tuple[BaseMessage, int, float]:
    """One request within the alias's cap, retrying transport errors with backoff; (reply,
    retries, latency in ms), or _Failed. ``requests`` counts every request sent, retries too.
    A ``shaped`` request (one with a response_format) that the server refuses is not retried:
    the same format would be refused again."""
    spec = ctx.models.spec(alias)
    secrets = ctx.models.secrets()
    retries, waited = 0, False
    while True:
        requests[0] += 1
        sent = time.monotonic()
        slot = ctx.limit(alias).slot(waited=waited)
        try:
            async with slot:
                message = await _invoke_within(send, messages, spec.timeout_s)
            slot.succeeded()
            return message, retries, (time.monotonic() - sent) * 1000
        except Exception as exc:  # every failure is recorded, then typed
            error = redact(f"{type(exc).__name__}: {exc}", secrets)
            if getattr(exc, "status_code", None) == 429:
                slot.throttled(retry_after(exc))  # cuts the alias's cap, once a burst
            refused = shaped and is_refusal(exc)
            if retryable(exc) and retries < spec.max_retries and not refused:
                await _sleep(backoff_delay(retries, exc))
                retries += 1
                # It slept out the server's Retry-After: the alias's pause need not hold it.
                waited = retry_after(exc) is not None
                continue
            latency_ms = (time.monotonic() - sent) * 1000
            raise _Failed(error, retries, latency_ms, refused) from None


async def call_until_parsed(
    ctx: PipelineContext,
    *,
    question_id: str,
    node: str,
    agent: str,
    alias: str,
    sampling: dict[str, Any],
    prompt: RenderedPrompt,
    parse: Parser,
    max_attempts: int,
    output: type[BaseModel] | None = None,
) -> CallOutcome:
    """Re-ask (a new sample each time) until the reply parses; the last outcome otherwise.

    A reply that never parses stays a ParseFailure: it is never turned into a made-up verdict.
    """
    outcome: CallOutcome | None = None
    for attempt in range(max(1, max_attempts)):
        outcome = await call_model(
            ctx,
            question_id=question_id,
            node=node,
            agent=agent,
            alias=alias,
            sampling=sampling,
            prompt=prompt,
            attempt=attempt,
            parse=parse,
            output=output,
        )
        if not isinstance(outcome.parsed, ParseFailure):
            return outcome
    assert outcome is not None
    return outcome
