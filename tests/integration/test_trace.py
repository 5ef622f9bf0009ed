"""`build_trace` / `render_trace` on a real run: the mock endpoint, SQLite, five questions."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from reasonmed.cli.trace_view import render_trace
from reasonmed.core.call_record import CallRecord
from reasonmed.core.config import config_from_dict
from reasonmed.exports.jsonl_export import export_examples
from reasonmed.graph.builder import build_graph
from reasonmed.graph.runner import RunRequest, run_pipeline
from reasonmed.graph.trace import IN_FLIGHT, SCHEMA, build_trace
from reasonmed.llm.context import PipelineContext, thread_id_for
from reasonmed.llm.model_registry import ModelRegistry
from reasonmed.mockserver.process import MockServerProcess
from reasonmed.sources.question_files import load_questions
from reasonmed.storage.call_log import CallLog
from reasonmed.storage.db import Database
from reasonmed.storage.runs import RunStore
from reasonmed.storage.saver import SQLAlchemySaver
from tests.support.pipeline import MOCK_CONFIG, QUESTIONS, mock_overrides

RUN = "trace"
PIPELINE_NODES = {"generate", "verify", "classify", "rank", "summarize", "finalize"}


@dataclass
class Finished:
    """A finished run of five questions (every mock scenario, so at least one rejection)."""

    db: Database
    mock: MockServerProcess
    questions: Path
    tmp: Path

    def question_with(self, status: str, tiers: tuple[str, ...] = ("easy", "medium")) -> str:
        """The first question that ended `status` (a done one in a tier the ranker sees)."""
        rows = [RunStore(self.db).question(RUN, qid) for qid in self.ids()]
        return next(
            r.question_id
            for r in rows
            if r and r.status == status and (status != "done" or r.tier in tiers)
        )

    def ids(self) -> list[str]:
        return [q.id for q in load_questions(self.questions)]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Finished]:
    tmp = tmp_path_factory.mktemp("trace")
    questions = tmp / "questions.jsonl"
    lines = QUESTIONS.read_text().splitlines()[:5]
    questions.write_text("\n".join(lines) + "\n")
    db_url = f"sqlite:///{tmp / 'trace.db'}"
    with MockServerProcess(answer_key=questions) as mock:
        request = RunRequest(
            questions=questions,
            config_path=MOCK_CONFIG,
            db_url=db_url,
            run_id=RUN,
            overrides=mock_overrides(mock.base_url),
            concurrency=5,
        )
        result = asyncio.run(run_pipeline(request))
        assert result.complete, result.failed
        db = Database.from_url(db_url)
        try:
            yield Finished(db, mock, questions, tmp)
        finally:
            db.close()


def _all_nodes(trace: dict[str, Any]) -> list[str]:
    return [node for step in trace["steps"] for node in step["nodes"]]


def test_done_question_steps_cover_the_pipeline_in_order(run: Finished) -> None:
    trace = build_trace(run.db, RUN, run.question_with("done"))
    assert trace["schema"] == SCHEMA and trace["status"] == "done"
    nodes = _all_nodes(trace)
    assert set(nodes) >= PIPELINE_NODES
    order = ["generate", "verify", "classify", "rank", "summarize", "finalize"]
    assert [nodes.index(n) for n in order] == sorted(nodes.index(n) for n in order)
    steps = [s["step"] for s in trace["steps"]]
    assert steps == sorted(steps) and steps[0] == -1
    for prev, step in zip(trace["steps"], trace["steps"][1:], strict=False):
        assert step["parent_checkpoint_id"] == prev["checkpoint_id"]
    json.dumps(trace)  # JSON-able as it is


def test_an_easy_question_shows_the_ranker(run: Finished) -> None:
    easy = run.question_with("done", tiers=("easy",))
    trace = build_trace(run.db, RUN, easy)
    (rank,) = [s for s in trace["steps"] if "rank" in s["nodes"]]
    assert rank["calls"] and {c["agent"] for c in rank["calls"]} == {"ranker"}
    scored = {s["index"]: s["score"] for s in rank["changes"]["scores"]}
    assert {c["parsed"]["score"] for c in rank["calls"]} == set(scored.values())
    kept = rank["changes"]["kept"]
    assert len(kept) == 2 and all(k["new"] and k["origin"] == "generated" for k in kept)
    top = sorted(scored.values(), reverse=True)[:2]
    assert sorted((scored[k["source_index"]] for k in kept), reverse=True) == top


def test_calls_are_exactly_the_call_log_each_once(run: Finished) -> None:
    for qid in run.ids():
        trace = build_trace(run.db, RUN, qid)
        traced = [c["id"] for s in trace["steps"] for c in s["calls"]]
        logged = [c.id for c in CallLog(run.db).for_question(RUN, qid)]
        assert sorted(traced) == logged and len(set(traced)) == len(traced)
        for step in trace["steps"]:
            assert {c["node"] for c in step["calls"]} <= set(step["nodes"])
            assert step["source"] != IN_FLIGHT  # a finished question has nothing in flight


def test_classify_step_carries_the_stored_tier_arithmetic(run: Finished) -> None:
    for qid in run.ids():
        row = RunStore(run.db).question(RUN, qid)
        trace = build_trace(run.db, RUN, qid)
        (classify,) = [s for s in trace["steps"] if "classify" in s["nodes"]]
        tier = classify["changes"]["tier"]
        assert tier["tier"] == row.tier and tier["errors"] == row.errors
        assert tier["tier_reason"] == f"{row.errors} of {tier['total']} judged Error: {row.tier}"
        assert tier["tier_reason"] in classify["changes"]["text"][0]


def test_examples_match_the_export(run: Finished) -> None:
    out = run.tmp / "export.jsonl"
    export_examples(run.db, RUN, "reasonmed", out)
    exported = [json.loads(line) for line in out.read_text().splitlines()]
    per_question = Counter(row["id"] for row in exported)
    for qid in run.ids():
        trace = build_trace(run.db, RUN, qid)
        mine = [e for e in exported if e["id"] == qid]
        assert len(trace["examples"]) == per_question[qid]
        for ex, row in zip(trace["examples"], mine, strict=True):
            assert ex["slot"] == row["slot"] and ex["provenance"] == row["provenance"]
            assert row["output"] == f"{ex['cot']}\n\n{ex['summary']}"


def test_rejected_question_carries_its_reason(run: Finished) -> None:
    qid = run.question_with("rejected")
    row = RunStore(run.db).question(RUN, qid)
    trace = build_trace(run.db, RUN, qid)
    assert row.reason and trace["rejection"] == row.reason
    assert trace["examples"] == []
    final = trace["steps"][-1]
    assert "finalize" in final["nodes"] and final["changes"]["outcome"]["status"] == "rejected"
    assert build_trace(run.db, RUN, run.question_with("done"))["rejection"] is None


def test_render_shows_the_question_steps_and_tier(run: Finished) -> None:
    trace = build_trace(run.db, RUN, run.question_with("done"))
    console = Console(record=True, width=120)
    console.print(render_trace(trace))
    text = console.export_text()
    assert trace["question_id"] in text and "generate" in text
    assert trace["tier_reason"] in text
    assert "more characters" in text  # prompts are abridged by default
    console = Console(record=True, width=120)
    console.print(render_trace(trace, full=True))
    assert "more characters" not in console.export_text()


def test_render_escapes_model_markup(run: Finished) -> None:
    trace = build_trace(run.db, RUN, run.question_with("done"))
    call = trace["steps"][-1]["calls"] or next(c for s in trace["steps"] for c in s["calls"])
    call["reply"] = "[bold]not markup[/] [/nonsense]"
    trace["steps"][-1]["calls"] = [call]
    console = Console(record=True, width=120)
    console.print(render_trace(trace))
    assert "[bold]not markup[/] [/nonsense]" in console.export_text()


def test_unknown_ids_raise_lookup_error_with_hints(run: Finished) -> None:
    with pytest.raises(LookupError, match="reasonmed questions --run-id") as caught:
        build_trace(run.db, RUN, "no-such-question")
    assert run.ids()[0] in str(caught.value)
    with pytest.raises(LookupError, match=r"no run 'no-such-run'.*reasonmed questions"):
        build_trace(run.db, "no-such-run", run.ids()[0])


async def test_half_done_question_traces_what_exists(run: Finished) -> None:
    """A second run stopped before classify, then a finished task's writes and a late call."""
    store = RunStore(run.db)
    stored = store.get_run(RUN)
    store.create_run("half", str(run.questions), stored.config, stored.config_hash, {})
    question = store.question(RUN, run.ids()[0]).question
    store.register_questions("half", [question])
    config = config_from_dict(stored.config, source="test")
    models = ModelRegistry(config)
    ctx = PipelineContext(run_id="half", config=config, models=models, calls=CallLog(run.db))
    saver = SQLAlchemySaver(run.db)
    thread = {"configurable": {"thread_id": thread_id_for("half", question.id)}}
    graph = build_graph(saver)
    await graph.ainvoke(
        {"question": question.model_dump()}, thread, context=ctx, interrupt_before=["classify"]
    )
    await models.aclose()

    trace = build_trace(run.db, "half", question.id)
    assert trace["status"] == "pending" and trace["next"] == ["classify"]
    nodes = _all_nodes(trace)
    assert "verify" in nodes and "classify" not in nodes
    assert trace["steps"][-1]["source"] != IN_FLIGHT

    # A task of the next step finished (its writes are pending) and a call came back after it.
    head = saver.get_tuple(thread)
    saver.put_writes(head.config, [("tier", "easy"), ("tier_reason", "hand-made")], "task-1")
    CallLog(run.db).record(
        CallRecord(
            run_id="half",
            question_id=question.id,
            thread_id=thread["configurable"]["thread_id"],
            node="classify",
            agent="tester",
            alias="none",
            model="none",
            messages=[{"role": "user", "content": "late"}],
            template_hash="",
            sampling={},
            reply="late reply",
        )
    )
    trace = build_trace(run.db, "half", question.id)
    last = trace["steps"][-1]
    assert last["source"] == IN_FLIGHT and last["checkpoint_id"] is None
    assert [c["agent"] for c in last["calls"]] == ["tester"]
    assert last["changes"]["tier"]["tier_reason"] == "hand-made"
    traced = sorted(c["id"] for s in trace["steps"] for c in s["calls"])
    assert traced == [c.id for c in CallLog(run.db).for_question("half", question.id)]
    json.dumps(trace)
    Console(record=True, width=120).print(render_trace(trace))
