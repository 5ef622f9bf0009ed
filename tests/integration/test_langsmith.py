"""LangSmith sees every model call, with either client, and never the model's API key.

The real `langsmith` client traces one question of the real pipeline (against the mock endpoint)
to a local stand-in for LANGSMITH_ENDPOINT, which decodes what arrives: multipart, compressed or
not, or JSON batches, as `/info` tells the client to send. The mock fails a quarter of its
requests with a 500, so some calls take retries (one call, one run, whatever its attempts). The
question is run twice under two run ids of one database, so the second run's calls are all
answered from the request cache (nothing sent to the model) and must still show. Tracing is
on only inside `traced_to`: langsmith caches its environment reads and its client, and both are
reset before and after.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import langsmith.run_trees as rt
import pytest
from langsmith import Client
from langsmith import env as ls_env
from langsmith import utils as ls_utils

from reasonmed.graph.runner import RunRequest, run_pipeline
from reasonmed.llm import model_calls
from reasonmed.llm.call_tracing import tracing_enabled
from reasonmed.mockserver.process import MockServerProcess
from tests.support.langsmith_server import LangSmithSink, langsmith_sink
from tests.support.pipeline import MOCK_CONFIG, QUESTIONS, mock_overrides, query

ALIASES = ("qwen72b", "huatuo70b", "r1distill70b", "gpt4o", "o1mini", "gpt4omini")
QUESTION = "rm-vig-005"  # medium: generate, verify, rank, refine, reverify, summarize
KEY_ENV = "REASONMED_TEST_LANGSMITH_MODEL_KEY"
PROJECT = "reasonmed-langsmith-test"


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServerProcess]:
    with MockServerProcess(answer_key=QUESTIONS, fault_rate=0.25, fault_kinds=["500"]) as server:
        yield server


async def no_sleep(delay: float) -> None:
    pass


def _forget_langsmith_env() -> None:
    """Drop what langsmith cached from the environment (tracing switch, project, metadata)."""
    ls_utils.get_env_var.cache_clear()
    ls_utils.get_tracer_project.cache_clear()
    ls_env.get_langchain_env_var_metadata.cache_clear()


@contextmanager
def traced_to(endpoint: str) -> Iterator[Client]:
    """LANGSMITH_TRACING=true to ``endpoint`` for the block, with a fresh langsmith client."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LANGSMITH_TRACING", "true")
        patch.setenv("LANGSMITH_ENDPOINT", endpoint)
        patch.setenv("LANGSMITH_API_KEY", "test-key")
        patch.setenv("LANGSMITH_PROJECT", PROJECT)
        patch.setenv("NO_PROXY", "127.0.0.1,localhost")
        _forget_langsmith_env()
        client = Client()
        patch.setattr(rt, "_CLIENT", client)  # what LangChain's tracer and RunTree post with
        try:
            yield client
        finally:
            client.cleanup(timeout=30)  # flushes first
    _forget_langsmith_env()
    assert not tracing_enabled(), "tracing leaked out of the test"


def one_question(tmp_path: Path) -> Path:
    line = next(row for row in QUESTIONS.read_text().splitlines() if f'"{QUESTION}"' in row)
    path = tmp_path / "one.jsonl"
    path.write_text(line + "\n")
    return path


def call_log(db_url: str, run_id: str) -> dict[int, dict[str, Any]]:
    columns = (
        "id, node, alias, model, sampling, prompt_tokens, completion_tokens, cache_hit, retries, "
        "reply"
    )
    rows = query(db_url, f"SELECT {columns} FROM rm_llm_calls WHERE run_id = '{run_id}'")
    names = [c.strip() for c in columns.split(",")]
    calls = {}
    for row in rows:
        call = dict(zip(names, row, strict=True))
        if isinstance(call["sampling"], str):
            call["sampling"] = json.loads(call["sampling"])
        calls[call["id"]] = call
    return calls


def check_question_tree(runs: dict[str, dict[str, Any]], db_url: str, run_id: str) -> None:
    """The question's graph run, its node runs, and one LLM run per call-log row under its node."""
    (root,) = [
        r
        for r in runs.values()
        if r["name"] == f"question {QUESTION}"
        and r["extra"]["metadata"].get("reasonmed_run_id") == run_id
    ]
    (tier,) = query(db_url, f"SELECT tier FROM rm_questions WHERE run_id = '{run_id}'")[0]
    assert tier == "medium"
    assert not root.get("parent_run_id")
    assert root["session_name"] == PROJECT
    assert {k: root["extra"]["metadata"].get(k) for k in ("question_id", "tier")} == {
        "question_id": QUESTION,
        "tier": tier,
    }
    in_trace = [r for r in runs.values() if r["trace_id"] == root["id"]]
    nodes = {r["id"]: r for r in in_trace if r.get("parent_run_id") == root["id"]}
    assert {"generate", "verify", "rank", "refine", "reverify", "summarize"} <= {
        r["name"] for r in nodes.values()
    }
    llm_runs = [r for r in in_trace if r["run_type"] == "llm"]
    assert all("call_id" in r["extra"]["metadata"] for r in llm_runs)  # no ChatOpenAI double
    calls = call_log(db_url, run_id)
    traced = Counter(r["extra"]["metadata"]["call_id"] for r in llm_runs)
    assert traced == Counter(list(calls))  # each row of the call log, once
    for run in llm_runs:
        metadata = run["extra"]["metadata"]
        call = calls[metadata["call_id"]]
        assert nodes[run["parent_run_id"]]["name"] == call["node"]
        assert run["name"] == call["alias"]
        assert (metadata["alias"], metadata["model"], metadata["ls_model_name"]) == (
            call["alias"],
            call["model"],
            call["model"],
        )
        for name in ("temperature", "top_p", "max_tokens", "seed"):
            assert metadata.get(name) == call["sampling"].get(name), name
            assert run["extra"]["invocation_params"].get(name) == call["sampling"].get(name)
        usage = metadata["usage_metadata"]
        assert (usage["input_tokens"], usage["output_tokens"]) == (
            call["prompt_tokens"],
            call["completion_tokens"],
        )
        assert metadata["cache_hit"] is bool(call["cache_hit"])
        assert ("cache-hit" in (run.get("tags") or [])) is bool(call["cache_hit"])
        assert metadata["retries"] == call["retries"] and "latency_ms" in metadata
        assert run["inputs"]["messages"][-1]["role"] == "user"
        assert run["outputs"]["choices"][0]["message"]["content"] == call["reply"]
        assert run["start_time"] <= run["end_time"]


def everything_sent(sink: LangSmithSink) -> bytes:
    """Every byte that reached the stand-in: decoded bodies, and headers."""
    headers = json.dumps([r.headers for r in sink.requests]).encode()
    return b"\n".join(r.body for r in sink.requests) + headers


@pytest.mark.parametrize(
    ("client", "compression", "multipart"),
    [("http", True, True), ("sdk", False, False)],
    ids=["http-zstd-multipart", "sdk-json-batch"],
)
async def test_every_model_call_is_an_llm_run_under_its_node(
    client: str,
    compression: bool,
    multipart: bool,
    mock: MockServerProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    canary = f"sk-canary-{secrets.token_hex(16)}"
    monkeypatch.setenv(KEY_ENV, canary)
    monkeypatch.setattr(model_calls, "_sleep", no_sleep)  # backoff costs no wall time
    per_alias = (f"client={client}", f"api_key_env={KEY_ENV}", "max_retries=8")
    sets = [f"models.{alias}.{setting}" for alias in ALIASES for setting in per_alias]
    db_url = f"sqlite:///{tmp_path / 'traced.db'}"
    first = RunRequest(
        questions=one_question(tmp_path),
        config_path=MOCK_CONFIG,
        db_url=db_url,
        run_id=f"traced-{client}",
        overrides=mock_overrides(mock.base_url) + sets,
    )
    again = replace(first, run_id=f"traced-{client}-again")  # the same requests: cache hits
    with (
        langsmith_sink(compression=compression, multipart=multipart) as (sink, endpoint),
        traced_to(endpoint) as ls_client,
    ):
        assert (await run_pipeline(first)).complete
        assert (await run_pipeline(again)).complete
        ls_client.flush(timeout=30)

    paths = Counter(r.path for r in sink.requests)
    assert paths["/runs/multipart" if multipart else "/runs/batch"] > 0, paths
    if compression:
        assert any(r.headers.get("content-encoding") == "zstd" for r in sink.requests)
    runs = sink.runs()
    check_question_tree(runs, db_url, first.run_id)
    check_question_tree(runs, db_url, again.run_id)
    assert all(call["cache_hit"] for call in call_log(db_url, again.run_id).values())
    sent_calls = call_log(db_url, first.run_id).values()
    assert not any(call["cache_hit"] for call in sent_calls)
    assert any(call["retries"] for call in sent_calls)

    sent = everything_sent(sink)
    assert QUESTION.encode() in sent and b"test-key" in sent  # bodies and headers are searched
    assert canary.encode() not in sent
    assert canary.rsplit("-", 1)[1].encode() not in sent
