"""The OpenAI chat-completions wire format, as far as the mock speaks it.

Token counts are an approximation, documented here because benchmarks read them: a text costs
``ceil(characters / 4)`` tokens (prompt: all message contents together; completion: the reply).
``max_tokens`` (or ``max_completion_tokens``) is applied to words instead: a reply with more words
than that is cut after that many words and finishes with ``"length"``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from reasonmed.mockserver.roles import message_text

SYSTEM_FINGERPRINT = "reasonmed-mock-1"


class RequestError(ValueError):
    """The request body is not a chat-completions request the mock can answer (HTTP 400)."""


@dataclass(frozen=True)
class ChatRequest:
    """The fields of a chat-completions request that determine the reply."""

    model: str
    messages: list[dict[str, Any]]
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stream: bool = False
    include_usage: bool = False

    @functools.cached_property
    def digest(self) -> str:
        """sha256 over everything the reply depends on (streaming changes only the framing).

        Cached: latency, faults, attempts and the reply each ask for it.
        """
        fields = [self.model, self.messages, self.temperature, self.top_p, self.max_tokens]
        canonical = json.dumps([*fields, self.seed], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @property
    def prompt_chars(self) -> int:
        """Characters of all message contents (the basis of prompt_tokens)."""
        return sum(len(message_text(m.get("content"))) for m in self.messages)


def _number(body: dict[str, Any], name: str, kind: type) -> Any:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RequestError(f"'{name}' must be a number")
    return kind(value)


def parse_request(body: Any) -> ChatRequest:
    """Validate a decoded JSON body; raises RequestError with an OpenAI-style message."""
    if not isinstance(body, dict):
        raise RequestError("request body must be a JSON object")
    model, messages = body.get("model"), body.get("messages")
    if not isinstance(model, str) or not model:
        raise RequestError("'model' is required")
    if not isinstance(messages, list) or not messages:
        raise RequestError("'messages' must be a non-empty list")
    if not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
        raise RequestError("each message needs a 'role'")
    max_tokens = _number(body, "max_completion_tokens", int)
    if max_tokens is None:
        max_tokens = _number(body, "max_tokens", int)
    options = body.get("stream_options") or {}
    return ChatRequest(
        model=model,
        messages=messages,
        temperature=_number(body, "temperature", float),
        top_p=_number(body, "top_p", float),
        max_tokens=max_tokens,
        seed=_number(body, "seed", int),
        stream=bool(body.get("stream")),
        include_usage=isinstance(options, dict) and bool(options.get("include_usage")),
    )


def approx_tokens(chars: int) -> int:
    """The documented token approximation: ceil(characters / 4)."""
    return math.ceil(chars / 4)


def cut_to_max_tokens(text: str, max_tokens: int | None) -> tuple[str, str]:
    """(text, finish_reason): cut after ``max_tokens`` words when the reply has more."""
    if max_tokens is None or len(text.split()) <= max_tokens:  # split() and \S+ agree
        return text, "stop"
    words = list(re.finditer(r"\S+", text))
    end = words[max_tokens - 1].end() if max_tokens > 0 else 0
    return text[:end], "length"


def usage(request: ChatRequest, text: str) -> dict[str, int]:
    """The usage block for a reply."""
    prompt, completion = approx_tokens(request.prompt_chars), approx_tokens(len(text))
    total = prompt + completion
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}


def completion_body(request: ChatRequest, text: str, finish_reason: str, created: int) -> dict:
    """A non-streaming chat.completion response."""
    return {
        "id": f"chatcmpl-{request.digest[:24]}",
        "object": "chat.completion",
        "created": created,
        "model": request.model,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": usage(request, text),
    }


def chunk_bodies(request: ChatRequest, text: str, finish_reason: str, created: int) -> list[dict]:
    """The chat.completion.chunk events of a streamed reply (a few words per chunk)."""

    def chunk(delta: dict[str, str], finish: str | None) -> dict:
        body: dict[str, Any] = {
            "id": f"chatcmpl-{request.digest[:24]}",
            "object": "chat.completion.chunk",
            "created": created,
            "model": request.model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if request.include_usage:
            body["usage"] = None
        return body

    pieces = re.findall(r"\s*\S+(?:\s+\S+){0,3}\s*", text) or ([text] if text else [])
    chunks = [chunk({"role": "assistant", "content": ""}, None)]
    chunks += [chunk({"content": piece}, None) for piece in pieces]
    chunks.append(chunk({}, finish_reason))
    if request.include_usage:
        final = chunk({}, None)
        final["choices"] = []
        final["usage"] = usage(request, text)
        chunks.append(final)
    return chunks


def error_body(message: str, error_type: str, code: str | None = None) -> dict:
    """An OpenAI-style error payload."""
    return {"error": {"message": message, "type": error_type, "param": None, "code": code}}
