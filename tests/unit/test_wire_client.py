"""The lean `client: http` path: same requests as ChatOpenAI, same reading of replies, typed errors.

Everything goes over real sockets to a local endpoint (tests/support/chat_server.py).
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from reasonmed.core.config import RunConfig, config_from_dict
from reasonmed.graph.failures import error_kind
from reasonmed.llm.model_calls import _finish_reason, _reply_text
from reasonmed.llm.model_registry import ModelRegistry, langchain_messages
from reasonmed.llm.retries import retry_after, retryable
from reasonmed.llm.wire_client import (
    EndpointConnectionError,
    EndpointResponseError,
    EndpointStatusError,
    WireChat,
)
from tests.support.chat_server import LocalChatServer, Response, completion, serving

SECRET = "wire-secret-5d1c7b"
# What prompts render and callers take; LangChain's ainvoke takes MESSAGES.
PROMPT: list[dict[str, str]] = [
    {"role": "system", "content": "You are a careful clinician."},
    {"role": "user", "content": "Which nerve? A) ulnar B) radial"},
]
MESSAGES: list[BaseMessage] = langchain_messages(PROMPT)


def config_for(url: str, **extra: Any) -> RunConfig:
    """Two aliases on the same endpoint, one per client, same everything else."""
    spec = {"model": "m1", "base_url": url, "api_key_env": "WIRE_KEY", "timeout_s": 5.0}
    spec.update(extra)
    return config_from_dict(
        {
            "models": {"sdk": dict(spec), "http": {**spec, "client": "http"}},
            "agents": {
                "generator": {"models": ["sdk"]},
                **{
                    name: {"model": "http"}
                    for name in ("verifier", "ranker", "refiner", "regenerator", "summarizer")
                },
            },
            "pipeline": {"easy_max_errors": 0, "medium_max_errors": 1},
        }
    )


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIRE_KEY", SECRET)


@pytest.mark.parametrize("model", ["m1", "o1-mini", "o3", "gpt-5", "gpt-5-chat-latest"])
async def test_the_http_client_sends_what_chat_openai_sends(env: None, model: str) -> None:
    """ChatOpenAI's rules for OpenAI's reasoning models (developer role, gpt-5 temperature)
    included: the same request must get the same reply from a deterministic server."""
    with serving(LocalChatServer()) as server:
        config = config_for(server.url, model=model, extra_body={"top_k": 20})
        async with ModelRegistry(config) as registry:
            for alias in ("sdk", "http"):
                for seed in (11, None):
                    send = registry.caller(
                        alias, temperature=0.7, top_p=0.9, max_tokens=64, seed=seed
                    )
                    await send(PROMPT)
            assert isinstance(registry.chat_model("http", **_SAMPLING), WireChat)
    sdk, http = server.bodies[:2], server.bodies[2:]
    for a, b in zip(sdk, http, strict=True):
        assert _same_request(a, b), (a, b)
    assert http[0]["seed"] == 11 and "seed" not in http[1]
    roles = [m["role"] for m in http[0]["messages"]]
    assert roles == (["developer", "user"] if model[0] == "o" else ["system", "user"])
    assert ("temperature" in http[0]) is (model in ("m1", "o1-mini", "o3", "gpt-5-chat-latest"))
    assert http[0]["max_completion_tokens"] == 64 and http[0]["top_k"] == 20
    assert server.auth == [f"Bearer {SECRET}"] * 4


_SAMPLING: dict[str, Any] = {"temperature": 0.7, "top_p": 0.9, "max_tokens": 64}


def _same_request(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal bodies; ``stream: false`` counts the same as no ``stream`` (both mean one reply)."""

    def norm(body: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in body.items() if not (k == "stream" and v is False)}

    return norm(a) == norm(b)


async def test_replies_are_read_as_chat_openai_reads_them(env: None) -> None:
    def respond(body: dict[str, Any]) -> Response:
        reply = completion(
            body, "Answer: B", reasoning_content="radial groove", finish_reason="length"
        )
        return 200, {"Content-Type": "application/json"}, json.dumps(reply).encode()

    with serving(LocalChatServer(respond=respond)) as server:
        async with ModelRegistry(config_for(server.url)) as registry:
            replies = [await registry.caller(a, **_SAMPLING)(PROMPT) for a in ("sdk", "http")]
    sdk, http = replies
    assert sdk.text == http.text == "Answer: B"
    # vLLM's reasoning parsers put the thinking in `reasoning_content`: ChatOpenAI drops it (its
    # docs say so), the http client keeps it, re-wrapped so clean_cot sees the reasoning.
    assert _reply_text(http) == "<think>\nradial groove\n</think>\n\nAnswer: B"
    assert _reply_text(sdk) == "Answer: B"
    assert _finish_reason(http) == _finish_reason(sdk) == "length"
    assert http.usage_metadata is not None and sdk.usage_metadata is not None
    for field in ("input_tokens", "output_tokens", "total_tokens"):
        assert http.usage_metadata[field] == sdk.usage_metadata[field]  # type: ignore[literal-required]


async def test_langchain_invoke_and_ainvoke_work_too(env: None) -> None:
    with serving(LocalChatServer()) as server:
        async with ModelRegistry(config_for(server.url)) as registry:
            chat = registry.chat_model("http", seed=5, **_SAMPLING)
            assert (await chat.ainvoke(MESSAGES)).content == "ok"
            assert (await asyncio.to_thread(chat.invoke, MESSAGES)).content == "ok"
            wire = registry.chat_model("http", **_SAMPLING)
            assert isinstance(wire, WireChat)
            await wire.acomplete(MESSAGES, seed=5)  # LangChain messages or the prompts' dicts
            await wire.acomplete(PROMPT, seed=5)
    assert [body["seed"] for body in server.bodies] == [5, 5, 5, 5]
    assert len({json.dumps(body, sort_keys=True) for body in server.bodies}) == 1


async def test_the_pool_caps_requests_in_flight(env: None) -> None:
    with serving(LocalChatServer(delay_s=0.2)) as server:
        async with ModelRegistry(config_for(server.url, max_concurrency=3)) as registry:
            sends = [registry.caller("http", **_SAMPLING, seed=i) for i in range(9)]
            replies = await asyncio.gather(*(send(PROMPT) for send in sends))
    assert [r.content for r in replies] == ["ok"] * 9
    assert server.peak == 3


async def test_a_429_carries_its_retry_after_and_is_retryable(env: None) -> None:
    def respond(body: dict[str, Any]) -> Response:
        return 429, {"Retry-After": "7", "Content-Type": "application/json"}, b'{"error": "slow"}'

    with serving(LocalChatServer(respond=respond)) as server:
        async with ModelRegistry(config_for(server.url)) as registry:
            with pytest.raises(EndpointStatusError) as caught:
                await registry.caller("http", **_SAMPLING)(PROMPT)
    exc = caught.value
    assert exc.status_code == 429 and retryable(exc) and retry_after(exc) == 7.0
    assert error_kind(f"{type(exc).__name__}: {exc}") == "rate_limited"


@pytest.mark.parametrize(("status", "retry", "kind"), [(503, True, "server_error"),
                                                       (400, False, "bad_request"),
                                                       (401, False, "auth")])  # fmt: skip
async def test_status_errors_are_typed(env: None, status: int, retry: bool, kind: str) -> None:
    def respond(body: dict[str, Any]) -> Response:
        return status, {"Content-Type": "application/json"}, b'{"error": "no"}'

    with serving(LocalChatServer(respond=respond)) as server:
        async with ModelRegistry(config_for(server.url)) as registry:
            with pytest.raises(EndpointStatusError) as caught:
                await registry.caller("http", **_SAMPLING)(PROMPT)
    assert retryable(caught.value) is retry
    assert error_kind(f"EndpointStatusError: {caught.value}") == kind
    assert SECRET not in str(caught.value)


async def test_a_2xx_that_is_not_a_completion_is_a_retryable_error(env: None) -> None:
    def respond(body: dict[str, Any]) -> Response:
        return 200, {"Content-Type": "text/html"}, b"<html>gateway says hi</html>"

    with serving(LocalChatServer(respond=respond)) as server:
        async with ModelRegistry(config_for(server.url)) as registry:
            with pytest.raises(EndpointResponseError, match="gateway says hi") as caught:
                await registry.caller("http", **_SAMPLING)(PROMPT)
    assert retryable(caught.value)


async def test_a_refused_connection_is_a_retryable_connection_error(env: None) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with ModelRegistry(config_for(f"http://127.0.0.1:{port}/v1")) as registry:
        with pytest.raises(EndpointConnectionError) as caught:
            await registry.caller("http", **_SAMPLING)(PROMPT)
    assert retryable(caught.value)
    assert error_kind(f"EndpointConnectionError: {caught.value}") == "connection"


async def test_a_silent_server_times_out(env: None) -> None:
    with serving(LocalChatServer(delay_s=2.0)) as server:
        async with ModelRegistry(config_for(server.url, timeout_s=0.3)) as registry:
            with pytest.raises(TimeoutError):
                await registry.caller("http", **_SAMPLING)(PROMPT)


def test_client_http_needs_an_openai_compatible_provider() -> None:
    from reasonmed.core.config import ConfigError

    with pytest.raises(ConfigError, match="client"):
        config_from_dict(
            {
                "models": {"a": {"model": "m", "provider": "anthropic", "client": "http"}},
                "agents": {
                    "generator": {"models": ["a"]},
                    **{
                        n: {"model": "a"}
                        for n in ("verifier", "ranker", "refiner", "regenerator", "summarizer")
                    },
                },
                "pipeline": {"easy_max_errors": 0, "medium_max_errors": 1},
            }
        )


def test_the_client_choice_does_not_change_the_config_hash() -> None:
    a, b = config_for("http://127.0.0.1:1/v1"), config_for("http://127.0.0.1:1/v1")
    b.models["sdk"] = b.models["sdk"].model_copy(update={"client": "http"})
    assert a.resolved_dict() != b.resolved_dict()
    assert a.config_hash() == b.config_hash()
