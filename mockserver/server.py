"""A deterministic OpenAI-compatible chat endpoint, run as its own process over real HTTP.

Tests and the demo point langchain-openai's ChatOpenAI at it exactly as they would at vLLM or
OpenAI, so the client code path under test is the production one. Routes: ``POST
/v1/chat/completions`` (plain and SSE streaming), ``GET /v1/models``, ``GET /health``, ``GET
/stats``. Run it with ``python -m reasonmed.mockserver --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import sys
import time
from dataclasses import dataclass, field

from aiohttp import web

from reasonmed.mockserver.answer_key import AnswerKey
from reasonmed.mockserver.counters import Stats
from reasonmed.mockserver.faults import (
    FAULT_KINDS,
    RATE_LIMIT_HEADERS,
    AttemptCounter,
    FaultConfig,
    decide_fault,
    malformed_content,
    parse_fault_kinds,
)
from reasonmed.mockserver.protocol import (
    ChatRequest,
    RequestError,
    chunk_bodies,
    completion_body,
    cut_to_max_tokens,
    error_body,
    parse_request,
    usage,
)
from reasonmed.mockserver.reply_builder import ReplyConfig, reply_text
from reasonmed.mockserver.roles import parse_messages
from reasonmed.mockserver.scenarios import DEFAULT_TEMPERATURES, unit

LISTED_MODELS = ("qwen2.5-72b-instruct", "deepseek-r1-distill-llama-70b", "huatuogpt-o1-70b")


@dataclass
class MockState:
    """Everything a running server holds: its options and its in-memory counters."""

    replies: ReplyConfig = field(default_factory=ReplyConfig)
    faults: FaultConfig = field(default_factory=FaultConfig)
    latency_ms: float = 0.0
    stats: Stats = field(default_factory=Stats)
    attempts: AttemptCounter = field(default_factory=AttemptCounter)


STATE_KEY: web.AppKey[MockState] = web.AppKey("mock_state", MockState)


async def _latency(state: MockState, request: ChatRequest) -> None:
    """Sleep the configured mean latency, jittered 0.5x-1.5x by the request hash."""
    if state.latency_ms > 0:
        jitter = 0.5 + unit(request.digest, "latency")
        await asyncio.sleep(state.latency_ms * jitter / 1000)


def _fault_response(kind: str) -> web.Response:
    if kind == "429":
        body = error_body("Rate limit reached (injected by the mock)", "rate_limit_error", "429")
        return web.json_response(body, status=429, headers=RATE_LIMIT_HEADERS)
    body = error_body("Internal server error (injected by the mock)", "server_error", "500")
    return web.json_response(body, status=500)


async def _stream(
    http: web.Request, request: ChatRequest, text: str, finish: str
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(http)
    for chunk in chunk_bodies(request, text, finish, int(time.time())):
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


async def chat_completions(http: web.Request) -> web.StreamResponse:
    """POST /v1/chat/completions."""
    state = http.app[STATE_KEY]
    try:
        request = parse_request(await http.json())
    except (RequestError, json.JSONDecodeError) as exc:
        return web.json_response(error_body(str(exc), "invalid_request_error"), status=400)
    parsed = parse_messages(request.messages)
    state.stats.started(parsed.role, request.model)
    status, fault, spent = 500, None, None
    try:
        await _latency(state, request)
        fault = decide_fault(request.digest, state.attempts.next(request.digest), state.faults)
        if fault in ("429", "500"):
            response = _fault_response(fault)
            status = response.status
            return response
        if fault == "malformed":
            text = malformed_content(parsed.role, random.Random(request.digest))
        else:
            text = reply_text(request, parsed, state.replies)
        text, finish = cut_to_max_tokens(text, request.max_tokens)
        spent, status = usage(request, text), 200
        if request.stream:
            return await _stream(http, request, text, finish)
        return web.json_response(completion_body(request, text, finish, int(time.time())))
    finally:
        state.stats.finished(status, fault, spent)


async def list_models(http: web.Request) -> web.Response:
    """GET /v1/models: the paper's generator names plus any configured ones (all accepted)."""
    names = dict.fromkeys((*LISTED_MODELS, *http.app[STATE_KEY].replies.generator_models))
    data = [{"id": n, "object": "model", "created": 0, "owned_by": "reasonmed-mock"} for n in names]
    return web.json_response({"object": "list", "data": data})


async def health(http: web.Request) -> web.Response:
    """GET /health."""
    return web.json_response({"status": "ok"})


async def stats(http: web.Request) -> web.Response:
    """GET /stats: counters for benchmarks and tests."""
    return web.json_response(http.app[STATE_KEY].stats.snapshot())


def create_app(state: MockState | None = None) -> web.Application:
    """The aiohttp application (also usable in-process with aiohttp's test client)."""
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[STATE_KEY] = state or MockState()
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/health", health)
    app.router.add_get("/stats", stats)
    return app


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of ``python -m reasonmed.mockserver``."""
    parser = argparse.ArgumentParser(
        prog="python -m reasonmed.mockserver", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="mean reply latency in ms (jittered 0.5x-1.5x)",
    )
    parser.add_argument(
        "--fault-rate", type=float, default=0.0, help="fraction of requests failing (0-1)"
    )
    parser.add_argument(
        "--fault-kinds",
        type=parse_fault_kinds,
        default=FAULT_KINDS,
        help="subset of 429,500,malformed",
    )
    parser.add_argument("--answer-key", default=None, help="JSONL question file with answers")
    parser.add_argument(
        "--examinee-accuracy", type=float, default=0.7, help="share the examinee gets right"
    )
    parser.add_argument(
        "--generator-models",
        type=lambda text: tuple(p.strip() for p in text.split(",") if p.strip()),
        default=(),
        help="comma-separated generator names, in path-slot order (default: by model family)",
    )
    parser.add_argument(
        "--generator-temperatures",
        type=lambda text: tuple(float(p) for p in text.split(",") if p.strip()),
        default=DEFAULT_TEMPERATURES,
    )
    return parser


def state_from_args(args: argparse.Namespace) -> MockState:
    """Turn parsed options into the server state."""
    for name in ("fault_rate", "examinee_accuracy"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            raise ValueError(f"--{name.replace('_', '-')} must be between 0 and 1")
    if args.latency_ms < 0:
        raise ValueError("--latency-ms must not be negative")
    key = AnswerKey.load(args.answer_key) if args.answer_key else AnswerKey()
    replies = ReplyConfig(
        answer_key=key,
        examinee_accuracy=args.examinee_accuracy,
        generator_models=args.generator_models,
        generator_temperatures=args.generator_temperatures,
    )
    faults = FaultConfig(rate=args.fault_rate, kinds=args.fault_kinds)
    return MockState(replies=replies, faults=faults, latency_ms=args.latency_ms)


async def serve(state: MockState, host: str, port: int) -> None:
    """Serve until SIGTERM/SIGINT, announcing the real address once listening."""
    runner = web.AppRunner(create_app(state), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    real_port = runner.addresses[0][1] if runner.addresses else port
    print(f"mock-server listening on http://{host}:{real_port}/v1", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse options, load the answer key, serve.

    Exit codes: 0 after a clean stop (SIGTERM/SIGINT), 1 when the address cannot be bound, 2 for
    bad options or an unreadable answer key.
    """
    args = build_parser().parse_args(argv)
    try:
        state = state_from_args(args)
    except (OSError, ValueError) as exc:
        print(f"mock-server: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(state, args.host, args.port))
    except OSError as exc:
        print(f"mock-server: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0
