"""Adaptive caps and per-model timeouts through the real call path, against real HTTP servers."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from reasonmed.core.config import load_config
from reasonmed.graph.runner import RunRequest, run_pipeline
from reasonmed.llm.context import PipelineContext
from reasonmed.llm.limits import AdaptiveLimit
from reasonmed.llm.model_calls import CallOutcome, ModelCallError, call_model
from reasonmed.llm.model_registry import ModelRegistry
from reasonmed.mockserver.process import MockServerProcess
from reasonmed.prompts import format_question_block, render
from reasonmed.storage.call_log import CallLog
from reasonmed.storage.db import Database
from tests.support.chat_server import QuietHTTPServer
from tests.support.pipeline import MOCK_CONFIG, QUESTIONS, mock_overrides, query

ALIAS = "qwen72b"
OPTIONS = {"A": "Hyperplasia", "B": "Hypertrophy", "C": "Atrophy", "D": "Metaplasia"}


def alias_overrides(aliases: list[str], **settings: object) -> list[str]:
    return [f"models.{a}.{key}={value}" for a in aliases for key, value in settings.items()]


async def ask(ctx: PipelineContext, index: int, alias: str = ALIAS) -> CallOutcome:
    """One generator call for a question of its own, the way the generator node makes it."""
    question = f"Case {index}: a long-standing hypertensive heart. Which adaptation explains it?"
    return await call_model(
        ctx,
        question_id=f"q-{index}",
        node="generate",
        agent="generator",
        alias=alias,
        sampling={"temperature": 0.7, "top_p": None, "max_tokens": None, "index": index},
        prompt=render("generator", question_block=format_question_block(question, OPTIONS)),
    )


@pytest.fixture
def call_db(sqlite_url: str) -> Iterator[Database]:
    db = Database.from_url(sqlite_url)
    yield db
    db.close()


async def test_429s_cut_the_cap_and_every_call_still_gets_its_reply(call_db: Database) -> None:
    async with MockServerProcess(latency_ms=40, fault_rate=0.2, fault_kinds=["429"]) as mock:
        settings = {"max_concurrency": 16, "max_retries": 30}
        config = load_config(
            MOCK_CONFIG, mock_overrides(mock.base_url) + alias_overrides([ALIAS], **settings)
        )
        async with ModelRegistry(config) as models:
            ctx = PipelineContext(
                run_id="burst", config=config, models=models, calls=CallLog(call_db)
            )
            outcomes = await asyncio.gather(*(ask(ctx, i) for i in range(32)))
            # Then one call at a time: the order of successes no longer depends on timing, so
            # a run of `cap` successes (at most 12 after a cut) comes and raises the cap.
            for i in range(32, 96):
                outcomes.append(await ask(ctx, i))
                if ctx.limit_stats()[ALIAS].raises:
                    break
        served = await mock.astats()
    assert all(outcome.reply for outcome in outcomes)
    stats = ctx.limit_stats()[ALIAS]
    assert served["faults_by_kind"]["429"] == stats.throttles > 0
    assert stats.cuts >= 1 and stats.lowest_cap < 16  # 429s cut the cap ...
    assert stats.cuts < stats.throttles  # ... once per burst, not once per 429
    assert stats.raises >= 1  # and runs of successes raised it again
    assert stats.peak_in_flight <= 16 and served["max_in_flight"] <= 16
    assert stats.in_flight == 0 and stats.waiting == 0


async def test_a_run_under_429s_completes_with_its_caps_cut(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits: dict[str, AdaptiveLimit] = {}
    limit = PipelineContext.limit

    def watched(self: PipelineContext, alias: str) -> AdaptiveLimit:
        limits[alias] = limit(self, alias)
        return limits[alias]

    monkeypatch.setattr(PipelineContext, "limit", watched)
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(QUESTIONS.read_text().splitlines(keepends=True)[:6]))
    async with MockServerProcess(
        answer_key=QUESTIONS, latency_ms=30, fault_rate=0.2, fault_kinds=["429"]
    ) as mock:
        aliases = list(load_config(MOCK_CONFIG).models)
        overrides = mock_overrides(mock.base_url)
        overrides += alias_overrides(aliases, max_concurrency=8, max_retries=30)
        request = RunRequest(
            questions=questions,
            config_path=MOCK_CONFIG,
            db_url=sqlite_url,
            run_id="throttled",
            overrides=overrides,
            concurrency=6,
        )
        result = await run_pipeline(request)
        served = await mock.astats()
    assert result.complete, result.failed
    assert served["faults_by_kind"]["429"] > 0
    stats = {alias: cap.stats() for alias, cap in limits.items()}
    assert any(s.cuts >= 1 and s.lowest_cap < 8 for s in stats.values()), stats
    assert all(s.peak_in_flight <= 8 and s.in_flight == 0 for s in stats.values()), stats
    ((retried,),) = query(sqlite_url, "SELECT count(*) FROM rm_llm_calls WHERE retries > 0")
    assert retried > 0


async def test_each_model_has_its_own_timeout(call_db: Database) -> None:
    """Against a 1-3 s endpoint, 10 s gets the reply; 0.2 s times out, is retried, then fails."""
    async with MockServerProcess(latency_ms=2000) as mock:
        overrides = mock_overrides(mock.base_url)
        overrides += alias_overrides([ALIAS], timeout_s=0.2, max_retries=1)
        overrides += alias_overrides(["gpt4o"], timeout_s=10)
        config = load_config(MOCK_CONFIG, overrides)
        async with ModelRegistry(config) as models:
            ctx = PipelineContext(
                run_id="slow", config=config, models=models, calls=CallLog(call_db)
            )
            patient = await ask(ctx, 1, alias="gpt4o")
            start = time.monotonic()
            with pytest.raises(ModelCallError) as raised:
                await ask(ctx, 0)
            elapsed = time.monotonic() - start
    assert patient.reply
    assert raised.value.attempts == 2 and "timed out" in raised.value.error.lower()
    assert elapsed < 2.0  # two attempts that each waited for a reply would take at least 2 s
    (row,) = CallLog(call_db).for_question("slow", "q-0")
    assert row.retries == 1 and row.reply is None and row.error == raised.value.error
    assert row.latency_ms < 1000


async def test_a_run_against_a_too_slow_model_fails_its_questions_instead_of_hanging(
    tmp_path: Path, sqlite_url: str
) -> None:
    questions = tmp_path / "questions.jsonl"
    questions.write_text(QUESTIONS.read_text().splitlines(keepends=True)[0])
    async with MockServerProcess(answer_key=QUESTIONS, latency_ms=2000) as mock:
        aliases = list(load_config(MOCK_CONFIG).models)
        overrides = mock_overrides(mock.base_url)
        overrides += alias_overrides(aliases, timeout_s=0.2, max_retries=1)
        request = RunRequest(
            questions=questions,
            config_path=MOCK_CONFIG,
            db_url=sqlite_url,
            run_id="too-slow",
            overrides=overrides,
        )
        result = await asyncio.wait_for(run_pipeline(request), 30)
    ((_, reason),) = result.failed
    assert "after 2 attempt(s)" in reason and "timed out" in reason.lower()
    assert result.counts.get("failed") == 1
    errors = query(sqlite_url, "SELECT error FROM rm_llm_calls WHERE error IS NOT NULL")
    assert errors and all("timed out" in error.lower() for (error,) in errors)


class _TrickleHandler(BaseHTTPRequestHandler):
    """A 200 reply whose body arrives a few bytes at a time: every read is quick, the whole slow."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        choice = {"index": 0, "message": {"role": "assistant", "content": "ok"}}
        reply = {"id": "x", "object": "chat.completion", "created": 0, "model": "m"}
        reply["choices"] = [{**choice, "finish_reason": "stop"}]
        body = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for i in range(0, len(body), 4):
                self.wfile.write(body[i : i + 4])
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass  # the client gave up

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def trickle_url() -> Iterator[str]:
    server = QuietHTTPServer(("127.0.0.1", 0), _TrickleHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


async def test_timeout_bounds_a_reply_that_trickles_in(trickle_url: str, call_db: Database) -> None:
    """The HTTP client's timeout is per read; timeout_s must bound the whole reply."""
    overrides = alias_overrides([ALIAS], base_url=trickle_url, timeout_s=0.5, max_retries=0)
    config = load_config(MOCK_CONFIG, overrides)
    async with ModelRegistry(config) as models:
        ctx = PipelineContext(
            run_id="trickle", config=config, models=models, calls=CallLog(call_db)
        )
        start = time.monotonic()
        with pytest.raises(ModelCallError, match=r"timeout_s=0\.5"):
            await ask(ctx, 0)
    assert time.monotonic() - start < 2.0  # the whole body takes several seconds
