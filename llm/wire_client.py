"""A lean chat model for OpenAI-compatible endpoints: one JSON POST over a shared aiohttp pool.

Why it exists: at 64 requests in flight the pipeline's one event loop is CPU-bound, and most of
a request's client CPU is spent above the socket. Measured per request (benchmarks/
bench_pipeline.py --only client): aiohttp alone 0.5 ms, the openai SDK over aiohttp 2.3 ms
(its request-transform walks every message), ChatOpenAI 3.5 ms (plus LangChain's callback
machinery). This model sends the same body ChatOpenAI sends (model, messages, sampling,
``max_completion_tokens``, seed, ``extra_body``, and ChatOpenAI's rules for OpenAI's reasoning
models: "developer" system prompts for o-series, no temperature but 1 for gpt-5) and reads the
same reply fields (content, finish_reason, usage), so the pipeline sees the same replies. It also
keeps ``reasoning_content`` (vLLM's reasoning parsers), which ChatOpenAI drops.

It is a real LangChain chat model (``invoke``/``ainvoke`` work and fire callbacks); the pipeline
calls ``acomplete`` directly, which skips LangChain's callback managers. Chosen per alias with
``client: http`` in the config; the default stays ChatOpenAI.

Errors carry what the retry policy needs (``status_code``, ``headers``), never the key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
import httpx
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr

from reasonmed.core.fast_json import dumps_bytes

__all__ = [
    "EndpointConnectionError",
    "EndpointResponseError",
    "EndpointStatusError",
    "WireChat",
    "WirePool",
]

_ROLES = {"system": "system", "human": "user", "ai": "assistant", "tool": "tool"}
# A dict message may name its role either way: the API's names or LangChain's types.
_DICT_ROLES = {**_ROLES, "user": "user", "assistant": "assistant", "developer": "developer"}
_O_SERIES = re.compile(r"^o\d")
_BODY_SNIPPET = 300  # characters of an error body kept in the exception message


class EndpointStatusError(Exception):
    """The endpoint answered with a non-2xx status (429 and 5xx are retried by our policy)."""

    def __init__(self, status_code: int, headers: Mapping[str, str], body: str) -> None:
        self.status_code = status_code
        self.headers = {name.lower(): value for name, value in headers.items()}
        super().__init__(f"Error code: {status_code} - {body[:_BODY_SNIPPET]}")  # as the SDK says


class EndpointConnectionError(Exception):
    """The request never got a complete HTTP reply (refused, reset, disconnected)."""


class EndpointResponseError(Exception):
    """A 2xx reply whose body is not a chat completion (a proxy's HTML page, cut JSON)."""


class WirePool:
    """The shared HTTP clients of one alias: an aiohttp session (async) and an httpx client (sync).

    The aiohttp session is opened on first use, so it belongs to the loop that makes the calls.
    """

    def __init__(self, max_connections: int, timeout_s: float) -> None:
        self.max_connections = max_connections
        self.timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None
        self._sync: httpx.Client | None = None

    def session(self) -> aiohttp.ClientSession:
        """The async session, created in the running loop on first use."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.max_connections, ttl_dns_cache=300)
            timeout = aiohttp.ClientTimeout(
                total=None, connect=self.timeout_s, sock_read=self.timeout_s
            )
            self._session = aiohttp.ClientSession(connector=connector, timeout=timeout)
        return self._session

    def sync_client(self) -> httpx.Client:
        """The sync client, for ``invoke`` outside an event loop."""
        if self._sync is None:
            limits = httpx.Limits(
                max_connections=self.max_connections,
                max_keepalive_connections=self.max_connections,
            )
            self._sync = httpx.Client(limits=limits, timeout=httpx.Timeout(self.timeout_s))
        return self._sync

    async def aclose(self) -> None:
        """Close both clients; the next call opens new ones."""
        session, sync = self._session, self._sync
        self._session = self._sync = None
        if sync is not None:
            sync.close()
        if session is not None and not session.closed:
            await session.close()


def message_dicts(messages: Sequence[BaseMessage | Mapping[str, str]]) -> list[dict[str, Any]]:
    """Chat-completions messages from LangChain ones, or from role/content dicts (what the
    pipeline's prompts are), text content only."""
    out = []
    for message in messages:
        if isinstance(message, Mapping):
            kind, content, roles = message["role"], message["content"], _DICT_ROLES
        else:
            kind, content, roles = message.type, message.content, _ROLES
        role = roles.get(kind)
        if role is None:
            raise ValueError(f"message type {kind!r} is not supported by client 'http'")
        out.append({"role": role, "content": content})
    return out


def parse_completion(raw: bytes) -> AIMessage:
    """An AIMessage from a chat-completion body, shaped like ChatOpenAI's."""
    try:
        body = json.loads(raw)
        choice = body["choices"][0]
        message = choice["message"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        snippet = raw[:_BODY_SNIPPET].decode("utf-8", "replace")
        raise EndpointResponseError(f"not a chat completion ({exc!r}): {snippet}") from None
    extra: dict[str, Any] = {}
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str):
        extra["reasoning_content"] = reasoning
    metadata: dict[str, Any] = {"model_name": body.get("model"), "finish_reason": None}
    if isinstance(choice.get("finish_reason"), str):
        metadata["finish_reason"] = choice["finish_reason"]
    usage = body.get("usage") or {}
    usage_metadata: UsageMetadata | None = None
    if usage:
        prompt, completion = (
            int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or 0),
        )
        usage_metadata = UsageMetadata(
            input_tokens=prompt, output_tokens=completion, total_tokens=prompt + completion
        )
    return AIMessage(
        content=message.get("content") or "",
        additional_kwargs=extra,
        response_metadata=metadata,
        usage_metadata=usage_metadata,
    )


class WireChat(BaseChatModel):
    """An OpenAI-compatible chat model over a shared ``WirePool`` (see the module doc)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_name: str = Field(alias="model")
    base_url: str
    api_key: SecretStr | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    extra_body: dict[str, Any] | None = None
    _pool: WirePool = PrivateAttr()
    _url: str = PrivateAttr()
    _headers: dict[str, str] = PrivateAttr()

    def __init__(self, *, pool: WirePool, **fields: Any) -> None:
        super().__init__(**fields)
        self._pool = pool
        self._url = self.base_url.rstrip("/") + "/chat/completions"
        self._headers = {"Content-Type": "application/json"}
        if self.api_key is not None:
            self._headers["Authorization"] = f"Bearer {self.api_key.get_secret_value()}"

    @property
    def _llm_type(self) -> str:
        return "reasonmed-wire"

    def body(
        self, messages: Sequence[BaseMessage | Mapping[str, str]], **overrides: Any
    ) -> dict[str, Any]:
        """The request body: what ChatOpenAI would send for the same model and sampling."""
        params = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_completion_tokens": self.max_tokens,
            "seed": self.seed,
            **overrides,
        }
        name = self.model_name.lower()
        if name.startswith("gpt-5") and "chat" not in name and params["temperature"] != 1:
            params["temperature"] = None  # OpenAI's gpt-5 reasoning models take only 1
        sent = message_dicts(messages)
        if _O_SERIES.match(self.model_name):  # o1, o3, ...: the system prompt is "developer"
            sent = [{**m, "role": "developer"} if m["role"] == "system" else m for m in sent]
        body: dict[str, Any] = {"model": self.model_name, "messages": sent}
        body.update((name, value) for name, value in params.items() if value is not None)
        body["stream"] = False
        if self.extra_body:
            body.update(self.extra_body)
        return body

    async def acomplete(
        self, messages: Sequence[BaseMessage | Mapping[str, str]], **overrides: Any
    ) -> AIMessage:
        """POST one chat completion and return its message; the pipeline's direct entry (it
        passes its prompts' role/content dicts; LangChain messages work too)."""
        data = dumps_bytes(self.body(messages, **overrides))
        try:
            async with self._pool.session().post(
                self._url, data=data, headers=self._headers
            ) as response:
                raw = await response.read()
                status, headers = response.status, response.headers
        except TimeoutError:  # aiohttp's read/connect timeouts are TimeoutErrors too
            raise TimeoutError(f"no reply within {self._pool.timeout_s:g} s") from None
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            raise EndpointConnectionError(f"{type(exc).__name__}: {exc}") from None
        if status >= 300:
            raise EndpointStatusError(status, headers, raw.decode("utf-8", "replace"))
        return parse_completion(raw)

    def complete(
        self, messages: Sequence[BaseMessage | Mapping[str, str]], **overrides: Any
    ) -> AIMessage:
        """The sync twin of ``acomplete`` (httpx), for ``invoke`` outside an event loop."""
        try:
            response = self._pool.sync_client().post(
                self._url, json=self.body(messages, **overrides), headers=self._headers
            )
        except httpx.TimeoutException:
            raise TimeoutError(f"no reply within {self._pool.timeout_s:g} s") from None
        except httpx.TransportError as exc:
            raise EndpointConnectionError(f"{type(exc).__name__}: {exc}") from None
        if response.status_code >= 300:
            raise EndpointStatusError(response.status_code, response.headers, response.text)
        return parse_completion(response.content)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        extra = {"stop": stop} if stop else {}
        message = self.complete(messages, **extra, **kwargs)
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        extra = {"stop": stop} if stop else {}
        message = await self.acomplete(messages, **extra, **kwargs)
        return ChatResult(generations=[ChatGeneration(message=message)])
