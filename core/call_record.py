"""What one model call leaves behind: the unit of the call log.

Status, trace and cost reporting all read these rows, so a record carries everything needed to
reconstruct the call without the model: the rendered messages, the raw reply, the parsed result,
tokens, latency, retries and any error (secrets already scrubbed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class CallRecord:
    """One model call, as stored in `rm_llm_calls`."""

    run_id: str
    question_id: str
    thread_id: str
    node: str  # graph node, e.g. "generate", "verify", "reverify"
    agent: str  # prompt template / role, e.g. "generator", "verifier"
    alias: str  # model alias from the config
    model: str  # the endpoint's model name
    messages: list[dict[str, str]]
    template_hash: str
    sampling: dict[str, Any]  # temperature, top_p, max_tokens, seed
    attempt: int = 0  # 0 for the first sample; re-asks after an unparseable reply count up
    reply: str | None = None
    parsed: dict[str, Any] | None = None  # the parsed result, or {"failure": {...}}
    error: str | None = None  # transport error after retries, scrubbed of secrets
    retries: int = 0  # transport retries before the final outcome
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    finish_reason: str | None = None
    cache_hit: bool = False
    # sha256 of what was sent (endpoint model, messages, sampling, seed): the request cache's key.
    request_key: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # At the alias's configured prices when the call was made; None without prices, 0 for a
    # cache hit (nothing was paid). Filled in by the call log.
    cost: float | None = None
