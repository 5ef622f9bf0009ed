"""Structured output through the real call path and both clients, against a local HTTP server.

The server records every request body; a scripted one refuses `response_format` of some types
with a 400, as servers that do not support them do.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from reasonmed.agents.output_readers import parse_verdict
from reasonmed.agents.outputs import Score, Verdict
from reasonmed.core.config import load_config
from reasonmed.llm.context import PipelineContext
from reasonmed.llm.model_calls import CallOutcome, ModelCallError, call_until_parsed
from reasonmed.llm.model_registry import ModelRegistry
from reasonmed.llm.structured_output import output_schema
from reasonmed.prompts import format_question_block, render
from reasonmed.storage.call_log import CallLog
from reasonmed.storage.db import Database
from tests.support.chat_server import LocalChatServer, Response, completion, serving
from tests.support.pipeline import MOCK_CONFIG, query

ALIAS = "qwen72b"
OPTIONS = {"A": "Hyperplasia", "B": "Hypertrophy", "C": "Atrophy", "D": "Metaplasia"}
VERDICT = json.dumps({"verdict": "Correct", "reason": "sound"})


def refusing(*refused: str, status: int = 400) -> Any:
    """A responder that answers `status` to a response_format of the `refused` types (a
    json_object with a schema is "json_object_schema")."""

    def respond(body: dict[str, Any]) -> Response:
        shape = body.get("response_format") or {}
        kind = shape.get("type")
        if kind == "json_object" and "schema" in shape:
            kind = "json_object_schema"
        if kind in refused:
            error = {"error": {"message": f"response_format {kind} is not supported"}}
            return status, {"Content-Type": "application/json"}, json.dumps(error).encode()
        reply = completion(body, VERDICT)
        return 200, {"Content-Type": "application/json"}, json.dumps(reply).encode()

    return respond


@pytest.fixture
def call_db(sqlite_url: str) -> Iterator[Database]:
    db = Database.from_url(sqlite_url)
    yield db
    db.close()


async def verify(ctx: PipelineContext, index: int) -> CallOutcome:
    """One verifier call, as the verifier node makes it."""
    return await call_until_parsed(
        ctx,
        question_id=f"q-{index}",
        node="verify",
        agent="verifier",
        alias=ALIAS,
        sampling={"temperature": 1.0, "top_p": None, "max_tokens": 64, "index": index},
        prompt=render(
            "verifier",
            question_block=format_question_block(f"Case {index}: which adaptation?", OPTIONS),
            gold_answer="B. Hypertrophy",
            cot="Pressure overload thickens the wall. Answer: B",
        ),
        parse=parse_verdict,
        max_attempts=2,
        output=Verdict,
    )


async def run_calls(
    server: LocalChatServer,
    db: Database,
    mode: str,
    client: str,
    calls: int = 3,
    retries: int = 0,
) -> list[CallOutcome]:
    overrides = [
        f"models.{ALIAS}.base_url={server.url}",
        f"models.{ALIAS}.structured_output={mode}",
        f"models.{ALIAS}.client={client}",
        f"models.{ALIAS}.max_retries={retries}",
    ]
    config = load_config(MOCK_CONFIG, overrides)
    async with ModelRegistry(config) as models:
        ctx = PipelineContext(run_id=f"so-{mode}", config=config, models=models, calls=CallLog(db))
        return [await verify(ctx, index) for index in range(calls)]


def test_the_schema_is_strict_and_keeps_the_ranges() -> None:
    verdict = output_schema(Verdict)
    assert verdict["required"] == ["verdict", "reason"]
    assert verdict["additionalProperties"] is False
    assert verdict["properties"]["verdict"]["enum"] == ["Correct", "Error"]
    score = output_schema(Score)["properties"]["score"]
    assert (score["type"], score["minimum"], score["maximum"]) == ("integer", 0, 5)
    assert "title" not in json.dumps(output_schema(Score))


@pytest.mark.parametrize("client", ["http", "sdk"])
async def test_json_schema_sends_the_outputs_schema(call_db: Database, client: str) -> None:
    with serving(LocalChatServer(respond=refusing())) as server:
        outcomes = await run_calls(server, call_db, "json_schema", client)
    assert all(isinstance(o.parsed, Verdict) for o in outcomes)
    formats = [body.get("response_format") for body in server.bodies]
    assert len(formats) == 3
    for sent in formats:
        assert sent["type"] == "json_schema"
        assert sent["json_schema"]["schema"] == output_schema(Verdict)
        assert sent["json_schema"]["name"] == "Verdict"


@pytest.mark.parametrize("client", ["http", "sdk"])
async def test_none_sends_no_response_format(call_db: Database, client: str) -> None:
    with serving(LocalChatServer(respond=refusing())) as server:
        await run_calls(server, call_db, "none", client)
    assert server.bodies and all("response_format" not in body for body in server.bodies)


def sent_modes(server: LocalChatServer) -> list[str | None]:
    modes = []
    for body in server.bodies:
        shape = body.get("response_format") or {}
        kind = shape.get("type")
        modes.append("json_object_schema" if kind == "json_object" and "schema" in shape else kind)
    return modes


async def test_auto_steps_down_once_per_alias_and_remembers(call_db: Database, sqlite_url) -> None:
    refused_all = refusing("json_schema", "json_object_schema", "json_object")
    with serving(LocalChatServer(respond=refused_all)) as server:
        outcomes = await run_calls(server, call_db, "auto", "http", calls=4)
    # The first call is refused three times and sent a fourth time bare; the others go bare.
    ladder = ["json_schema", "json_object_schema", "json_object"]
    assert sent_modes(server) == [*ladder, None, None, None, None]
    assert all(isinstance(o.parsed, Verdict) for o in outcomes)
    rows = query(sqlite_url, "SELECT error, extra FROM rm_llm_calls ORDER BY id")
    refused = [json.loads(extra).get("format_refused") for error, extra in rows if error]
    assert refused == ladder
    assert all("400" in error for error, _ in rows if error)


async def test_auto_settles_on_llama_cpp_pythons_schema_form(call_db: Database) -> None:
    """llama-cpp-python's server refuses json_schema with a 500 that names response_format and
    takes the schema as {"type": "json_object", "schema": ...}: auto lands there, without
    spending the alias's transport retries on the 500."""
    server = LocalChatServer(respond=refusing("json_schema", status=500))
    with serving(server):
        outcomes = await run_calls(server, call_db, "auto", "http", calls=3, retries=4)
    assert sent_modes(server) == ["json_schema", *["json_object_schema"] * 3]
    assert server.bodies[1]["response_format"]["schema"] == output_schema(Verdict)
    assert all(isinstance(o.parsed, Verdict) for o in outcomes)


async def test_a_configured_mode_that_is_refused_is_a_failure(call_db: Database) -> None:
    """Only `auto` steps down: a mode the user asked for explicitly is never silently dropped."""
    server = LocalChatServer(respond=refusing("json_schema"))
    with serving(server), pytest.raises(ModelCallError, match="400"):
        await run_calls(server, call_db, "json_schema", "http", calls=1)
    assert len(server.bodies) == 1


async def test_the_request_cache_tells_modes_apart(call_db: Database, sqlite_url: str) -> None:
    """The same prompt asked with and without a schema is two requests, never a cache hit."""
    with serving(LocalChatServer(respond=refusing())) as server:
        await run_calls(server, call_db, "none", "http", calls=1)
        await run_calls(server, call_db, "json_schema", "http", calls=1)
        await run_calls(server, call_db, "json_schema", "http", calls=1)
    assert len(server.bodies) == 2  # the third was served from the log
    keys = query(sqlite_url, "SELECT request_key, cache_hit FROM rm_llm_calls ORDER BY id")
    assert keys[0][0] != keys[1][0] and keys[2] == (keys[1][0], True)
