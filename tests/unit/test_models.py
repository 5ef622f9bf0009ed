"""ModelRegistry: keys from the environment, one shared pooled client per alias, caching."""

from __future__ import annotations

import asyncio
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from langchain_core.runnables import RunnableBinding
from langchain_openai import AzureChatOpenAI, ChatOpenAI
from openai import DefaultAioHttpClient

from reasonmed.core.config import ConfigError, RunConfig, config_from_dict, load_config
from reasonmed.llm.model_registry import (
    NO_KEY_PLACEHOLDER,
    MissingCredentialError,
    ModelRegistry,
    redact,
)
from tests.support.chat_server import LocalChatServer, serving

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SECRET = "distinctive-secret-value-7f3a9c"
OTHER_SECRET = "another-secret-value-0b1d2e"


def make_config(**model_overrides: dict[str, Any]) -> RunConfig:
    models: dict[str, dict[str, Any]] = {
        "local": {"model": "Qwen2.5-72B-Instruct", "base_url": "http://127.0.0.1:8765/v1"},
        "cloud": {"model": "gpt-4o", "api_key_env": "REASONMED_TEST_KEY", "max_concurrency": 5},
    }
    for alias, fields in model_overrides.items():
        models.setdefault(alias, {}).update(fields)
    return config_from_dict(
        {
            "models": models,
            "agents": {
                "generator": {"models": ["local", "cloud"]},
                "verifier": {"model": "local"},
                "ranker": {"model": "local"},
                "refiner": {"model": "cloud"},
                "regenerator": {"model": "cloud"},
                "summarizer": {"model": "cloud"},
            },
            "pipeline": {"easy_max_errors": 2, "medium_max_errors": 4},
        }
    )


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REASONMED_TEST_KEY", SECRET)


async def test_one_shared_client_pair_per_alias_across_sampling(env: None) -> None:
    async with ModelRegistry(make_config()) as registry:
        a = registry.chat_model("cloud", temperature=0.7, top_p=0.9, max_tokens=100)
        seeded = registry.chat_model("cloud", temperature=1.0, top_p=None, max_tokens=None, seed=3)
        assert isinstance(seeded, RunnableBinding)
        b = seeded.bound
        other = registry.chat_model("local", temperature=0.7, top_p=0.9, max_tokens=100)
        assert isinstance(a, ChatOpenAI) and isinstance(b, ChatOpenAI)
        assert isinstance(other, ChatOpenAI)
        assert a is not b
        # The async client (every pipeline call) is the SDK's aiohttp one, its pool the cap.
        assert isinstance(a.http_async_client, DefaultAioHttpClient)
        assert a.http_async_client._transport.limits.max_connections == 5
        assert a.http_async_client is b.http_async_client
        assert isinstance(a.http_client, httpx.Client)
        assert a.http_client is b.http_client
        assert other.http_async_client is not a.http_async_client


async def test_chat_models_are_cached_per_sampling(env: None) -> None:
    async with ModelRegistry(make_config()) as registry:
        first = registry.chat_model("cloud", temperature=0.7, top_p=0.9, max_tokens=100)
        again = registry.chat_model("cloud", temperature=0.7, top_p=0.9, max_tokens=100)
        hotter = registry.chat_model("cloud", temperature=0.9, top_p=0.9, max_tokens=100)
        seeded = registry.chat_model("cloud", temperature=0.7, top_p=0.9, max_tokens=100, seed=11)
        assert first is again
        assert hotter is not first
        assert isinstance(first, ChatOpenAI) and first.seed is None
        # A seed is a call argument bound to the cached model itself: nothing is rebuilt.
        assert isinstance(seeded, RunnableBinding)
        assert seeded.bound is first and seeded.kwargs == {"seed": 11}


async def test_chat_openai_gets_the_spec_and_sampling(env: None) -> None:
    config = make_config(cloud={"extra_body": {"top_k": 20}, "timeout_s": 33.0})
    async with ModelRegistry(config) as registry:
        seeded = registry.chat_model("cloud", temperature=0.8, top_p=0.9, max_tokens=256, seed=5)
        assert isinstance(seeded, RunnableBinding) and seeded.kwargs == {"seed": 5}
        model = seeded.bound
        assert isinstance(model, ChatOpenAI)
        assert model.model_name == "gpt-4o"
        assert (model.temperature, model.top_p, model.max_tokens) == (0.8, 0.9, 256)
        assert model.max_retries == 0
        assert model.request_timeout == 33.0
        assert model.extra_body == {"top_k": 20}
        assert model.openai_api_key is not None
        assert model.openai_api_key.get_secret_value() == SECRET
        local = registry.chat_model("local", temperature=None, top_p=None, max_tokens=None)
        assert isinstance(local, ChatOpenAI)
        assert local.openai_api_base == "http://127.0.0.1:8765/v1"
        assert local.openai_api_key is not None
        assert local.openai_api_key.get_secret_value() == NO_KEY_PLACEHOLDER
        assert local.extra_body is None
        assert local.http_async_client is not None
        assert local.http_async_client.timeout == httpx2.Timeout(120.0)


async def test_chat_model_for_uses_the_agent_sampling(env: None) -> None:
    config = make_config()
    async with ModelRegistry(config) as registry:
        model = registry.chat_model_for(config.agents.ranker)
        assert isinstance(model, ChatOpenAI)
        assert (model.temperature, model.top_p, model.max_tokens) == (0.7, 0.95, 512)
        assert model is registry.chat_model("local", temperature=0.7, top_p=0.95, max_tokens=512)


def test_missing_env_var_names_variable_and_alias_but_no_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REASONMED_TEST_KEY", SECRET)
    monkeypatch.delenv("REASONMED_MISSING_KEY", raising=False)
    config = make_config(extra={"model": "m", "api_key_env": "REASONMED_MISSING_KEY"})
    with pytest.raises(MissingCredentialError) as info:
        ModelRegistry(config)
    message = str(info.value)
    assert "REASONMED_MISSING_KEY" in message
    assert "'extra'" in message
    assert "REASONMED_TEST_KEY" not in message  # only the missing one is reported
    assert SECRET not in message
    assert isinstance(info.value, ConfigError)


def test_an_empty_env_var_counts_as_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REASONMED_TEST_KEY", "  ")
    with pytest.raises(MissingCredentialError, match="REASONMED_TEST_KEY"):
        ModelRegistry(make_config())


async def test_the_key_is_read_when_the_registry_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REASONMED_TEST_KEY", SECRET)
    registry = ModelRegistry(make_config())
    monkeypatch.setenv("REASONMED_TEST_KEY", OTHER_SECRET)
    model = registry.chat_model("cloud", temperature=None, top_p=None, max_tokens=None)
    assert isinstance(model, ChatOpenAI) and model.openai_api_key is not None
    assert model.openai_api_key.get_secret_value() == SECRET
    assert registry.secrets() == [SECRET]
    await registry.aclose()


def test_secrets_and_redact(env: None) -> None:
    config = make_config(
        twin={"model": "gpt-4o-mini", "api_key_env": "REASONMED_TEST_KEY"},
        other={"model": "m", "api_key_env": "REASONMED_OTHER_KEY"},
    )
    registry = ModelRegistry(
        config, environ={"REASONMED_TEST_KEY": SECRET, "REASONMED_OTHER_KEY": "ab"}
    )
    assert registry.secrets() == [SECRET, "ab"]
    text = f"401 for key {SECRET}; retry with {SECRET}x and ab"
    scrubbed = redact(text, registry.secrets())
    assert SECRET not in scrubbed and "ab" not in scrubbed.replace("[REDACTED]", "")
    assert scrubbed == "401 for key [REDACTED]; retry with [REDACTED]x and [REDACTED]"
    assert redact("abc", ["", "abc", "abcd"]) == "[REDACTED]"
    assert redact("nothing here", []) == "nothing here"


def test_unknown_alias_is_a_clear_error(env: None) -> None:
    registry = ModelRegistry(make_config())
    with pytest.raises(KeyError, match="unknown model alias 'gpt5'; defined: local, cloud"):
        registry.chat_model("gpt5", temperature=None, top_p=None, max_tokens=None)


async def test_azure_alias_builds_azure_chat_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REASONMED_TEST_KEY", SECRET)
    monkeypatch.setenv("REASONMED_AZURE_KEY", OTHER_SECRET)
    azure = {
        "model": "gpt-4o",
        "provider": "azure",
        "api_key_env": "REASONMED_AZURE_KEY",
        "azure_endpoint": "https://example.openai.azure.com",
        "api_version": "2024-10-21",
        "max_concurrency": 3,
    }
    async with ModelRegistry(make_config(az=azure)) as registry:
        model = registry.chat_model("az", temperature=0.5, top_p=None, max_tokens=64)
        assert isinstance(model, AzureChatOpenAI)
        assert model.deployment_name == "gpt-4o"  # defaults to the model name
        assert model.azure_endpoint == "https://example.openai.azure.com"
        assert model.openai_api_version == "2024-10-21"
        assert model.max_retries == 0
        assert model.openai_api_key is not None
        assert model.openai_api_key.get_secret_value() == OTHER_SECRET
        again = registry.chat_model("az", temperature=0.7, top_p=None, max_tokens=64)
        assert isinstance(again, AzureChatOpenAI)
        assert again.http_async_client is model.http_async_client


def test_other_provider_without_langchain_fails_at_build(
    env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "langchain", None)
    monkeypatch.setitem(sys.modules, "langchain.chat_models", None)
    config = make_config(claude={"model": "claude-sonnet-4-5", "provider": "anthropic"})
    with pytest.raises(ConfigError) as info:
        ModelRegistry(config)
    assert "models.claude.provider" in str(info.value)
    assert "pip install langchain" in str(info.value)


def test_other_provider_goes_through_init_chat_model(
    env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    def init_chat_model(model: str, **kwargs: Any) -> Any:
        calls.append((model, kwargs))
        return object()

    package = types.ModuleType("langchain")
    chat_models = types.ModuleType("langchain.chat_models")
    chat_models.init_chat_model = init_chat_model  # type: ignore[attr-defined]
    package.chat_models = chat_models  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "langchain", package)
    monkeypatch.setitem(sys.modules, "langchain.chat_models", chat_models)
    config = make_config(
        claude={
            "model": "claude-sonnet-4-5",
            "provider": "anthropic",
            "api_key_env": "REASONMED_TEST_KEY",
        }
    )
    registry = ModelRegistry(config)
    registry.chat_model("claude", temperature=0.5, top_p=None, max_tokens=512)
    registry.chat_model("claude", temperature=0.5, top_p=None, max_tokens=512)
    assert calls == [
        (
            "claude-sonnet-4-5",
            {
                "model_provider": "anthropic",
                "timeout": 120.0,
                "max_retries": 0,
                "temperature": 0.5,
                "max_tokens": 512,
                "api_key": SECRET,
            },
        )
    ]


async def test_aclose_closes_the_shared_clients(env: None) -> None:
    registry = ModelRegistry(make_config())
    model = registry.chat_model("cloud", temperature=0.7, top_p=None, max_tokens=10)
    assert isinstance(model, ChatOpenAI)
    async_client, sync_client = model.http_async_client, model.http_client
    assert not async_client.is_closed and not sync_client.is_closed
    await registry.aclose()
    assert async_client.is_closed and sync_client.is_closed
    fresh = registry.chat_model("cloud", temperature=0.7, top_p=None, max_tokens=10)
    assert isinstance(fresh, ChatOpenAI) and fresh.http_async_client is not async_client
    await registry.aclose()


@pytest.fixture
def slow_server() -> Iterator[LocalChatServer]:
    with serving(LocalChatServer(delay_s=0.2)) as server:
        yield server


async def test_the_pool_caps_requests_in_flight_at_max_concurrency(
    slow_server: LocalChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REASONMED_TEST_KEY", SECRET)
    config = make_config(
        cloud={"base_url": slow_server.url, "max_concurrency": 3, "timeout_s": 30.0}
    )
    async with ModelRegistry(config) as registry:
        # Different sampling, one alias: the cap is per alias, not per chat model.
        models = [
            registry.chat_model("cloud", temperature=t, top_p=None, max_tokens=5)
            for t in (0.7, 0.9, 1.0)
        ]
        replies = await asyncio.gather(*(models[i % 3].ainvoke("hi") for i in range(9)))
    assert [reply.content for reply in replies] == ["ok"] * 9
    assert slow_server.peak == 3
    assert slow_server.auth == [f"Bearer {SECRET}"] * 9


def test_example_configs_build_registries(monkeypatch: pytest.MonkeyPatch) -> None:
    ModelRegistry(load_config(EXAMPLES / "config.mock.yaml"), environ={})
    ModelRegistry(load_config(EXAMPLES / "config.vllm.yaml"), environ={})
    openai_config = load_config(EXAMPLES / "config.openai.yaml")
    with pytest.raises(MissingCredentialError, match="OPENAI_API_KEY"):
        ModelRegistry(openai_config, environ={})
    registry = ModelRegistry(openai_config, environ={"OPENAI_API_KEY": SECRET})
    assert registry.secrets() == [SECRET]


async def test_seed_and_sampling_reach_the_request_body(
    slow_server: LocalChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REASONMED_TEST_KEY", SECRET)
    config = make_config(cloud={"base_url": slow_server.url, "timeout_s": 30.0})
    async with ModelRegistry(config) as registry:
        for seed in (7, None, 8):
            chat = registry.chat_model(
                "cloud", temperature=0.9, top_p=0.5, max_tokens=12, seed=seed
            )
            await chat.ainvoke("hi")
    # max_tokens goes out as max_completion_tokens, the name OpenAI's API now uses.
    bodies = slow_server.bodies
    sent = [
        (b.get("seed"), b["temperature"], b["top_p"], b["max_completion_tokens"]) for b in bodies
    ]
    # Each call carries its own seed (a bound seed does not stick to the shared model).
    assert sent == [(7, 0.9, 0.5, 12), (None, 0.9, 0.5, 12), (8, 0.9, 0.5, 12)]
