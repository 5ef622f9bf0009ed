"""LangGraph Studio's view of the pipeline: `langgraph dev` serves the graph langgraph.json names.

The real server runs in a subprocess against the mock endpoint. One question runs on a thread
made with the LangGraph SDK; its graph, final state, history and call log must be what `run`
builds and produces for the same question in-process, so the server's context reaches every node.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.constants import END, START
from langgraph_sdk import get_client

from reasonmed.core.question import Question
from reasonmed.graph.builder import build_graph
from reasonmed.graph.run_session import ConfigSource, open_session
from reasonmed.graph.runner import advance
from reasonmed.mockserver.process import MockServerProcess
from reasonmed.sources.question_files import load_questions
from reasonmed.storage.examples import examples_from_state
from tests.support.pipeline import QUESTIONS, query
from tests.support.studio_server import LangGraphDevServer, write_mock_config

QUESTION_ID = "rm-vig-005"  # medium under the mock: rank, refine, re-verify, summarize
STUDIO_RUN_ID = "studio-test"
RUN_TIMEOUT_S = 120
CALL_ID_KEYS = {"generate_call", "verify_call", "call", "calls"}  # log ids differ by database


def _require_langgraph_cli() -> None:
    missing = [
        name
        for name in ("langgraph_cli", "langgraph_api", "langgraph_runtime_inmem")
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        reason = f"langgraph-cli[inmem] is not installed (no {', '.join(missing)})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} under CI")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServerProcess]:
    with MockServerProcess(answer_key=QUESTIONS) as server:
        yield server


def _without_call_ids(value: Any) -> Any:
    """The state with call log ids left out (each database numbers its calls itself)."""
    if isinstance(value, dict):
        return {k: _without_call_ids(v) for k, v in value.items() if k not in CALL_ID_KEYS}
    if isinstance(value, list):
        return [_without_call_ids(item) for item in value]
    return value


def _edges(drawing: Any) -> set[tuple[str, str, bool]]:
    """(source, target, conditional) of every edge of a LangGraph drawing."""
    return {(e.source, e.target, bool(e.conditional)) for e in drawing.edges}


async def _run_in_process(question: Question, config: Path, db_url: str) -> dict[str, Any]:
    """What `run` does with the question: its final state, history (oldest first) and calls."""
    source = ConfigSource(run_id="local", path=config)
    async with open_session(db_url, source, questions=[question]) as session:
        final = await advance(session, question)
        thread = session.thread_config(question.id)
        history = [s async for s in session.graph.aget_state_history(thread)]
    calls = query(db_url, "SELECT node, COUNT(*) FROM rm_llm_calls GROUP BY node")
    return {"final": final, "history": history[::-1], "calls": dict(calls)}


async def test_langgraph_dev_serves_the_pipeline(tmp_path: Path, mock: MockServerProcess):
    _require_langgraph_cli()
    question = next(q for q in load_questions(QUESTIONS) if q.id == QUESTION_ID)
    config = write_mock_config(mock.base_url, tmp_path / "config.yaml")
    local = await _run_in_process(question, config, f"sqlite:///{tmp_path / 'local.db'}")
    studio_db = f"sqlite:///{tmp_path / 'studio.db'}"
    env = {"REASONMED_CONFIG": str(config), "REASONMED_STUDIO_DB": studio_db}

    async with (
        LangGraphDevServer(tmp_path, env) as server,
        get_client(url=server.url, api_key=None) as client,
    ):
        # Studio draws the graph `build_graph` wires, tier edges included, and offers the
        # context's settings (not its services) in its context form.
        (assistant,) = await client.assistants.search(graph_id="reasonmed")
        assistant_id = assistant["assistant_id"]
        drawing = await client.assistants.get_graph(assistant_id)
        served = {(e["source"], e["target"], bool(e.get("conditional"))) for e in drawing["edges"]}
        assert served == _edges(build_graph().get_graph())
        assert {n["id"] for n in drawing["nodes"]} >= {START, END, "classify", "plan", "refine"}
        tiers = {target for source, target, _ in served if source == "classify"}
        assert tiers == {"rank", "regenerate", "finalize"}
        schemas = await client.assistants.get_schemas(assistant_id)
        assert set(schemas["context_schema"]["properties"]) == {"run_id", "use_cache"}

        thread = await client.threads.create()
        final = await asyncio.wait_for(
            client.runs.wait(
                thread["thread_id"],
                assistant_id,
                input={"question": question.model_dump(mode="json")},
                context={"run_id": STUDIO_RUN_ID},
            ),
            RUN_TIMEOUT_S,
        )
        history = await client.threads.get_history(thread["thread_id"], limit=100)
    assert isinstance(final, dict), final
    assert not server.errors(), server.log()  # e.g. a blocking call the dev server caught

    # The final state: the same tier, kept CoTs, summaries and outcome as `run`'s.
    assert final["tier"] == "medium", final.get("tier_reason")
    assert final["outcome"]["status"] == "done"
    assert final["outcome"]["examples"] == len(final["kept"]) == 2
    assert all(kept["summary"] and kept["status"] == "ready" for kept in final["kept"])
    assert _without_call_ids(final) == _without_call_ids(local["final"])
    examples = examples_from_state(STUDIO_RUN_ID, question, final)
    assert [(e.cot, e.summary) for e in examples] == [
        (k["cot"], k["summary"]) for k in final["kept"]
    ]

    # Its history: one checkpoint per super-step, in `run`'s order, each with its state.
    steps = history[::-1]
    assert [tuple(s["next"]) for s in steps] == [s.next for s in local["history"]]
    assert [s["metadata"]["step"] for s in steps] == list(range(-1, len(steps) - 1))
    assert any("refine" in s["next"] for s in steps), [s["next"] for s in steps]
    assert _without_call_ids(steps[-1]["values"]) == _without_call_ids(final)
    classified = next(s for s in steps if s["next"] == ["rank"])
    assert classified["values"]["tier"] == "medium"

    # Every model call was logged under the run id the run's context named.
    rows = query(
        studio_db, "SELECT run_id, thread_id, node, COUNT(*) FROM rm_llm_calls GROUP BY 1, 2, 3"
    )
    assert {(run_id, thread_id) for run_id, thread_id, _, _ in rows} == {
        (STUDIO_RUN_ID, f"{STUDIO_RUN_ID}:{QUESTION_ID}")
    }
    assert {node: n for _, _, node, n in rows} == local["calls"]
