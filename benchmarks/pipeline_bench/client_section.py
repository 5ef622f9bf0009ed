"""client: CPU milliseconds per request of each layer of the HTTP stack.

The same request through aiohttp, httpx, the openai SDK and ChatOpenAI from `ModelRegistry`,
against one mock endpoint at zero latency.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline_bench.bench_support import CONFIG, QUESTIONS, aliases
from reasonmed.core.config import load_config
from reasonmed.llm.model_registry import ModelRegistry
from reasonmed.mockserver.process import MockServerProcess


async def client_costs(base_url: str, k: int, concurrency: int) -> list[tuple[str, float, float]]:
    """(stack, wall ms per request, CPU ms per request) for the same request through each layer."""
    import aiohttp
    import httpx
    import openai
    from langchain_core.messages import HumanMessage, SystemMessage
    from langchain_openai import ChatOpenAI

    from reasonmed.llm.model_calls import question_block
    from reasonmed.prompts.render import render
    from reasonmed.sources.question_files import load_questions

    question = load_questions(QUESTIONS)[0]
    messages = render("generator", question_block=question_block(question)).messages
    body = {"model": "Qwen2.5-72B-Instruct", "messages": messages, "temperature": 0.7}
    body |= {"top_p": 0.9, "max_tokens": 8192, "seed": 1}
    lc_messages = [SystemMessage(messages[0]["content"]), HumanMessage(messages[1]["content"])]
    url = f"{base_url}/chat/completions"
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    overrides = [f"models.{alias}.base_url={base_url}" for alias in aliases()]

    async def measure(name: str, one: Callable[[], Any], width: int = concurrency) -> None:
        async def worker(n: int) -> None:
            for _ in range(n):
                await one()

        await asyncio.gather(*(worker(2) for _ in range(width)))  # warm: connections, caches
        t0, c0 = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker(k // width) for _ in range(width)))
        done = k // width * width
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        out.append((name, wall / done * 1000, cpu / done * 1000))

    out: list[tuple[str, float, float]] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:

        async def via_aiohttp() -> None:
            async with session.post(url, json=body) as response:
                await response.json()

        await measure("aiohttp", via_aiohttp)
    async with httpx.AsyncClient(limits=limits, trust_env=False) as client:

        async def via_httpx() -> None:
            (await client.post(url, json=body)).json()

        await measure("httpx (pool 64)", via_httpx)
        await measure("httpx, 1 at a time, 1 conn in pool", via_httpx, 1)
        await measure("httpx, 64 in flight (opens 64 conns)", via_httpx, 64)
        await measure("httpx, 1 at a time, 64 conns in pool", via_httpx, 1)
    async with httpx.AsyncClient(limits=limits, trust_env=False) as client:
        sdk = openai.AsyncOpenAI(base_url=base_url, api_key="x", http_client=client, max_retries=0)

        async def via_sdk() -> None:
            await sdk.chat.completions.create(**body)

        await measure("openai SDK over httpx", via_sdk)
    async with openai.DefaultAioHttpClient() as client:
        sdk = openai.AsyncOpenAI(base_url=base_url, api_key="x", http_client=client, max_retries=0)

        async def via_sdk_aiohttp() -> None:
            await sdk.chat.completions.create(**body)

        await measure("openai SDK over aiohttp", via_sdk_aiohttp)
    for client in ("http", "sdk"):
        set_client = [f"models.qwen72b.client={client}"]
        async with ModelRegistry(load_config(CONFIG, [*overrides, *set_client])) as registry:
            send = registry.caller("qwen72b", temperature=0.7, top_p=0.9, max_tokens=8192, seed=1)

            async def via_caller(send: Any = send) -> None:
                await send(messages)

            await measure(f"ModelRegistry.caller, client: {client} (pipeline)", via_caller)
            if client == "http":
                wire = registry.chat_model("qwen72b", temperature=0.7, top_p=0.9, max_tokens=8192)

                async def via_wire_ainvoke(wire: Any = wire) -> None:
                    await wire.ainvoke(lc_messages)

                await measure("client: http via LangChain ainvoke", via_wire_ainvoke)
    models = ModelRegistry(load_config(CONFIG, [*overrides, "models.qwen72b.client=sdk"]))
    try:
        chat = models.chat_model("qwen72b", temperature=0.7, top_p=0.9, max_tokens=8192)

        async def via_langchain() -> None:
            await chat.ainvoke(lc_messages)

        async def via_langchain_seeded() -> None:
            seeded = models.chat_model(
                "qwen72b", temperature=0.7, top_p=0.9, max_tokens=8192, seed=1
            )
            await seeded.ainvoke(lc_messages)

        async def via_langchain_copied() -> None:
            assert isinstance(chat, ChatOpenAI)
            await chat.model_copy(update={"seed": 1}).ainvoke(lc_messages)

        await measure("ChatOpenAI (ModelRegistry)", via_langchain)
        await measure("ChatOpenAI + per-call seed (registry: bind)", via_langchain_seeded)
        await measure("ChatOpenAI + per-call seed as a model copy", via_langchain_copied)
    finally:
        await models.aclose()
    return out


def section_client(args: argparse.Namespace, tmp: Path) -> list[tuple[str, str, str]]:
    k, conc = args.client_requests, args.overhead_concurrency
    print(f"\n== client: {k} identical requests per stack, {conc} in flight, zero latency")
    with MockServerProcess(answer_key=QUESTIONS) as mock:
        costs = asyncio.run(client_costs(mock.base_url, k, conc))
    print(f"{'stack':40s} {'wall ms/req':>12s} {'CPU ms/req':>11s}")
    for name, wall, cpu in costs:
        print(f"{name:40s} {wall:12.2f} {cpu:11.2f}")
    return [(f"client CPU/request: {name}", f"{cpu:.2f} ms", "") for name, _, cpu in costs]
