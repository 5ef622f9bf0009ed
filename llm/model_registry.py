"""The only place that turns a model alias from the run config into a LangChain chat model.

Keys are read from the environment once, when the registry is built, so a run with a missing key
fails before its first call. Each alias gets one shared HTTP client pair whose pool is sized to
the alias's ``max_concurrency`` (a client per call would cost a connection per call). The async
one, which every pipeline call uses, is the openai SDK's aiohttp-backed client: with 64 requests
in flight ChatOpenAI spent 5.1 ms of CPU per request over httpx/httpcore (whose pool polls every
connection on each request) and 1.7 ms over aiohttp (benchmarks/bench_pipeline.py --only client).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from functools import partial
from typing import Any

import httpx
import httpx2
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import Runnable
from langchain_openai import AzureChatOpenAI, ChatOpenAI
from openai import DefaultAioHttpClient

from reasonmed.core.config import ConfigError, RunConfig, SingleModelAgent
from reasonmed.core.model_spec import ModelSpec
from reasonmed.llm.wire_client import WireChat, WirePool

__all__ = ["NO_KEY_PLACEHOLDER", "Caller", "MissingCredentialError", "ModelRegistry", "redact"]

NO_KEY_PLACEHOLDER = "not-needed"
"""Sent as the key to a keyless local server (vLLM, Ollama, LM Studio, the mock endpoint)."""

REDACTED = "[REDACTED]"
OPENAI_BASE_URL = "https://api.openai.com/v1"

_SamplingKey = tuple[str, float | None, float | None, int | None]

Caller = Callable[[list[dict[str, str]]], Awaitable[BaseMessage]]
"""One request: chat messages ({"role", "content"} dicts, as prompts render them) in, the reply
message out (what call_model awaits)."""

_LANGCHAIN_ROLES: dict[str, type[BaseMessage]] = {
    "system": SystemMessage,
    "user": HumanMessage,
    "human": HumanMessage,
    "assistant": AIMessage,
    "ai": AIMessage,
}


def langchain_messages(messages: Iterable[Mapping[str, str]]) -> list[BaseMessage]:
    """LangChain messages for a chat model's ``ainvoke`` from role/content dicts."""
    return [_LANGCHAIN_ROLES[m["role"]](content=m["content"]) for m in messages]


class MissingCredentialError(ConfigError):
    """An alias names an api_key_env that is unset or empty; the message never holds a key."""


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret in ``text`` so logs and error messages can be stored or shown.

    Longer secrets go first so a key that contains another is masked whole.
    """
    if not secrets:  # a keyless config (local servers): every call's texts pass through here
        return text
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def _load_init_chat_model() -> Callable[..., BaseChatModel]:
    """Import langchain's provider dispatcher only when a config needs it (it is optional)."""
    try:
        from langchain.chat_models import init_chat_model
    except ImportError as exc:
        raise ImportError(
            "providers other than 'openai' and 'azure' need the langchain package: "
            "pip install langchain (plus that provider's integration, e.g. langchain-anthropic)"
        ) from exc
    return init_chat_model


class ModelRegistry:
    """Builds and caches chat models per alias and sampling; owns the shared HTTP clients.

    Use one registry per run (or per event loop) and ``await registry.aclose()`` at the end.
    """

    def __init__(self, config: RunConfig, *, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._specs: dict[str, ModelSpec] = dict(config.models)
        self._keys: dict[str, str | None] = {}
        problems: list[str] = []
        for alias, spec in self._specs.items():
            if spec.api_key_env is None:
                self._keys[alias] = None
                continue
            value = env.get(spec.api_key_env, "")
            if not value.strip():
                problems.append(
                    f"models.{alias}.api_key_env: environment variable {spec.api_key_env} "
                    f"is not set or empty; export it before running (alias '{alias}')"
                )
            self._keys[alias] = value.strip() or None
        if problems:
            raise MissingCredentialError(problems)
        self._secrets = tuple(dict.fromkeys(key for key in self._keys.values() if key))
        self._init_chat_model: Callable[..., BaseChatModel] | None = None
        others = [a for a, spec in self._specs.items() if spec.provider not in ("openai", "azure")]
        if others:
            try:
                self._init_chat_model = _load_init_chat_model()
            except ImportError as exc:
                raise ConfigError([f"models.{alias}.provider: {exc}" for alias in others]) from None
        self._async_clients: dict[str, Any] = {}
        self._sync_clients: dict[str, httpx.Client] = {}
        self._wire_pools: dict[str, WirePool] = {}
        self._models: dict[_SamplingKey, BaseChatModel] = {}

    @property
    def aliases(self) -> list[str]:
        """The aliases defined in the config, in config order."""
        return list(self._specs)

    def spec(self, alias: str) -> ModelSpec:
        """The ModelSpec behind ``alias`` (concurrency cap, retries, prices)."""
        try:
            return self._specs[alias]
        except KeyError:
            defined = ", ".join(self._specs)
            raise KeyError(f"unknown model alias {alias!r}; defined: {defined}") from None

    def secrets(self) -> list[str]:
        """Every key value this registry read, for ``redact`` in logs and error messages."""
        return list(self._secrets)

    def chat_model(
        self,
        alias: str,
        *,
        temperature: float | None,
        top_p: float | None,
        max_tokens: int | None,
        seed: int | None = None,
    ) -> Runnable[LanguageModelInput, BaseMessage]:
        """A chat model for ``alias`` with this sampling; None leaves a parameter unsent.

        Models are cached per (alias, temperature, top_p, max_tokens). For an OpenAI-style model
        a seed is bound as a call argument (it goes into the request body) rather than copied
        into a new model: a new model would be re-serialized for LangChain's callbacks on every
        call (`_serialized` is cached per instance), about 0.5 ms of CPU per request.
        """
        spec = self.spec(alias)
        key: _SamplingKey = (alias, temperature, top_p, max_tokens)
        model = self._models.get(key)
        if model is None:
            model = self._build(alias, spec, temperature, top_p, max_tokens, seed=None)
            self._models[key] = model
        if seed is None:
            return model
        if isinstance(model, ChatOpenAI | WireChat):  # AzureChatOpenAI included
            return model.bind(seed=seed)
        return self._build(alias, spec, temperature, top_p, max_tokens, seed=seed)

    def caller(
        self,
        alias: str,
        *,
        temperature: float | None,
        top_p: float | None,
        max_tokens: int | None,
        seed: int | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> Caller:
        """What the pipeline awaits for one request: ``chat_model(...).ainvoke`` on LangChain
        messages, except for a ``client: http`` alias, whose ``acomplete`` takes the dicts as
        they are (no LangChain callbacks or message objects: most of what the lean client
        saves). ``response_format`` goes into the request body as it is."""
        sampling = {"temperature": temperature, "top_p": top_p, "max_tokens": max_tokens}
        if self.spec(alias).client == "http":
            model = self.chat_model(alias, **sampling)
            assert isinstance(model, WireChat)
            extra = {"response_format": response_format} if response_format else {}
            if seed is not None:
                extra["seed"] = seed
            return partial(model.acomplete, **extra) if extra else model.acomplete
        chat = self.chat_model(alias, seed=seed, **sampling)
        if response_format:
            chat = chat.bind(response_format=response_format)
        invoke = chat.ainvoke

        async def send(messages: list[dict[str, str]]) -> BaseMessage:
            return await invoke(langchain_messages(messages))

        return send

    def chat_model_for(
        self, agent: SingleModelAgent, *, seed: int | None = None
    ) -> Runnable[LanguageModelInput, BaseMessage]:
        """The chat model an agent's config asks for (its alias and sampling)."""
        return self.chat_model(agent.model, seed=seed, **agent.sampling())

    def _http_clients(self, alias: str, spec: ModelSpec) -> tuple[Any, httpx.Client]:
        """The alias's shared client pair, created on first use with a pool of max_concurrency.

        The aiohttp session behind the async client is opened on its first request, so it
        belongs to the event loop that makes the calls; `aclose` closes it on that loop.
        """
        if alias not in self._async_clients:
            size = spec.max_concurrency
            self._async_clients[alias] = DefaultAioHttpClient(
                limits=httpx2.Limits(max_connections=size, max_keepalive_connections=size),
                timeout=httpx2.Timeout(spec.timeout_s),
                follow_redirects=False,
            )
            limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
            self._sync_clients[alias] = httpx.Client(
                limits=limits, timeout=httpx.Timeout(spec.timeout_s)
            )
        return self._async_clients[alias], self._sync_clients[alias]

    def _build(
        self,
        alias: str,
        spec: ModelSpec,
        temperature: float | None,
        top_p: float | None,
        max_tokens: int | None,
        *,
        seed: int | None,
    ) -> BaseChatModel:
        key = self._keys[alias]
        sampling: dict[str, Any] = {
            "temperature": temperature,
            "top_p": top_p,
            "max_tokens": max_tokens,
            "seed": seed,
        }
        if spec.client == "http":
            if alias not in self._wire_pools:
                self._wire_pools[alias] = WirePool(spec.max_concurrency, spec.timeout_s)
            assert spec.base_url is not None or key is not None
            return WireChat(
                pool=self._wire_pools[alias],
                model=spec.model,
                base_url=spec.base_url or OPENAI_BASE_URL,
                api_key=key,
                **sampling,
                extra_body=spec.extra_body or None,
            )
        if spec.provider in ("openai", "azure"):
            async_client, sync_client = self._http_clients(alias, spec)
            common: dict[str, Any] = {
                "model": spec.model,
                **sampling,
                "timeout": spec.timeout_s,
                "max_retries": 0,  # retries are ours, bounded by spec.max_retries
                "http_async_client": async_client,
                "http_client": sync_client,
                "extra_body": spec.extra_body or None,
            }
            if spec.provider == "azure":
                return AzureChatOpenAI(
                    **common,
                    api_key=key,
                    azure_endpoint=spec.azure_endpoint,
                    api_version=spec.api_version,
                    azure_deployment=spec.azure_deployment or spec.model,
                )
            return ChatOpenAI(**common, base_url=spec.base_url, api_key=key or NO_KEY_PLACEHOLDER)
        assert self._init_chat_model is not None  # loaded in __init__ for such providers
        optional = {**sampling, "base_url": spec.base_url, "api_key": key}
        return self._init_chat_model(
            spec.model,
            model_provider=spec.provider,
            timeout=spec.timeout_s,
            max_retries=0,
            **{name: value for name, value in optional.items() if value is not None},
        )

    async def aclose(self) -> None:
        """Close the shared HTTP clients; later calls to chat_model start fresh ones."""
        async_clients, sync_clients = self._async_clients, self._sync_clients
        wire_pools, self._wire_pools = self._wire_pools, {}
        self._models, self._async_clients, self._sync_clients = {}, {}, {}
        for pool in wire_pools.values():
            await pool.aclose()
        for sync_client in sync_clients.values():
            sync_client.close()
        for async_client in async_clients.values():
            await async_client.aclose()

    async def __aenter__(self) -> ModelRegistry:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
