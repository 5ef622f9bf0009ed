"""SQLAlchemySaver behaviour that LangGraph's conformance suite does not cover."""

from __future__ import annotations

import asyncio
import copy
import operator
import random
import string
import subprocess
import sys
import textwrap
import threading
from typing import Annotated, TypedDict

import pytest
from langgraph.checkpoint.base import writes_sort_key
from langgraph.checkpoint.conformance.test_utils import (
    generate_checkpoint,
    generate_config,
    generate_metadata,
)
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.graph import END, START, StateGraph
from sqlalchemy import func, select, text

from reasonmed.storage import SQLAlchemySaver
from reasonmed.storage.migrations import SchemaVersionError, latest_version
from reasonmed.storage.schema import (
    checkpoint_blobs,
    checkpoint_writes,
    checkpoints,
    schema_migrations,
)


def _put(saver: SQLAlchemySaver, thread: str, parent: dict | None = None, **md: object) -> dict:
    config = generate_config(thread)
    if parent:
        config["configurable"]["checkpoint_id"] = parent["configurable"]["checkpoint_id"]
    cp = generate_checkpoint(channel_values={"text": "x" * 500, "n": 1})
    cp["channel_versions"] = {"text": 1.5, "n": 1.2}
    return saver.put(config, cp, generate_metadata(**md), {"text": 1.5, "n": 1.2})


def test_sync_family_roundtrip(db_url: str) -> None:
    with SQLAlchemySaver.from_url(db_url) as saver:
        first = _put(saver, "t1")
        second = _put(saver, "t1", parent=first)
        saver.put_writes(second, [("a", {"x": 1}), ("b", None)], "task-1", "path")
        tup = saver.get_tuple(generate_config("t1"))
        assert tup is not None
        assert (
            tup.config["configurable"]["checkpoint_id"] == second["configurable"]["checkpoint_id"]
        )
        assert (
            tup.parent_config["configurable"]["checkpoint_id"]
            == (first["configurable"]["checkpoint_id"])
        )
        assert tup.checkpoint["channel_values"] == {"text": "x" * 500, "n": 1}
        assert tup.pending_writes == [("task-1", "a", {"x": 1}), ("task-1", "b", None)]
        assert [
            t.config["configurable"]["checkpoint_id"] for t in saver.list(generate_config("t1"))
        ] == [
            second["configurable"]["checkpoint_id"],
            first["configurable"]["checkpoint_id"],
        ]
        saver.delete_thread("t1")
        assert saver.get_tuple(generate_config("t1")) is None


async def test_list_across_threads_by_metadata(db_url: str) -> None:
    saver = SQLAlchemySaver.from_url(db_url)
    try:
        for q in range(5):
            for step in range(3):
                _put(saver, f"run1:q{q}", reasonmed_run_id="run1", question_id=f"q{q}", step=step)
        _put(saver, "run2:q0", reasonmed_run_id="run2", question_id="q0", step=0)
        _put(saver, "other", custom={"nested": [1, 2]}, flag=True)

        found = list(saver.list(None, filter={"reasonmed_run_id": "run1", "step": 2}))
        assert sorted(t.config["configurable"]["thread_id"] for t in found) == [
            f"run1:q{q}" for q in range(5)
        ]
        async_found = [t async for t in saver.alist(None, filter={"question_id": "q0"})]
        assert {t.config["configurable"]["thread_id"] for t in async_found} == {
            "run1:q0",
            "run2:q0",
        }
        assert len(async_found) == 4
        assert len(list(saver.list(None, filter={"reasonmed_run_id": "run1"}, limit=7))) == 7
        # A list value must match exactly (PostgreSQL's @> alone would also accept [1]).
        assert len(list(saver.list(None, filter={"custom": {"nested": [1, 2]}}))) == 1
        assert list(saver.list(None, filter={"custom": {"nested": [1]}})) == []
        assert len(list(saver.list(None, filter={"flag": True}))) == 1
        # More rows than a page: the listing streams across pages in order.
        everything = list(saver.list(None))
        ids = [t.config["configurable"]["checkpoint_id"] for t in everything]
        assert len(everything) == 17 and ids == sorted(ids, reverse=True)
    finally:
        await saver.aclose()


def test_pending_writes_follow_writes_sort_key(db_url: str) -> None:
    with SQLAlchemySaver.from_url(db_url) as saver:
        stored = _put(saver, "order")
        # Paths whose order differs between Python and common database collations.
        paths = ["~__pregel_push, 2", "__pregel_pull, b", "__pregel_pull, B", "a_b", "a-b", "aB"]
        rnd = random.Random(7)
        expected = []
        for path in rnd.sample(paths, len(paths)):
            task = "".join(rnd.choices(string.ascii_letters, k=8))
            saver.put_writes(stored, [("ch", f"{path}/0"), ("ch", f"{path}/1")], task, path)
            expected += [(path, task, 0), (path, task, 1)]
        expected.sort(key=lambda e: writes_sort_key(*e))
        got = saver.get_tuple(stored).pending_writes
        assert [w[2] for w in got] == [f"{p}/{i}" for p, _, i in expected]
        listed = next(iter(saver.list(generate_config("order"))))
        assert listed.pending_writes == got


def test_large_values_are_compressed(db_url: str) -> None:
    words = ["fever", "tachycardia", "lactate", "sepsis", "antibiotics", "cultures", "fluids"]
    big = " ".join(random.Random(1).choices(words, k=400_000))  # ~3.5 MB of text
    with SQLAlchemySaver.from_url(db_url) as saver:
        config = generate_config("big")
        cp = generate_checkpoint(channel_values={"cot": big, "nul": "a\x00b" * 50})
        cp["channel_versions"] = {"cot": 1.1, "nul": 1.1}
        stored = saver.put(config, cp, generate_metadata(note="a\x00b"), {"cot": 1.1, "nul": 1.1})
        tup = saver.get_tuple(stored)
        assert tup.checkpoint["channel_values"]["cot"] == big
        assert tup.checkpoint["channel_values"]["nul"] == "a\x00b" * 50
        assert tup.metadata["note"] == "ab"
        with saver.engines.sync.connect() as conn:
            size = conn.execute(select(func.sum(func.length(checkpoint_blobs.c.blob)))).scalar()
        assert size < len(big) / 3


def test_shallow_copy_shares_the_database(sqlite_url: str) -> None:
    strict = JsonPlusSerializer(allowed_msgpack_modules=None)
    with SQLAlchemySaver.from_url(sqlite_url, serde=strict) as saver:
        clone = saver.with_allowlist([("tests.integration.test_saver_behaviour", "Marker")])
        assert clone is not saver and clone.engines is saver.engines
        assert clone.serde is not saver.serde
        stored = _put(clone, "copied")
        assert saver.get_tuple(stored) is not None
        plain = copy.copy(saver)
        assert plain.get_tuple(stored).checkpoint["channel_values"]["n"] == 1


def test_strict_msgpack_compile_round_trips_pydantic_state(sqlite_url: str) -> None:
    script = textwrap.dedent(
        f"""
        from typing import TypedDict
        from pydantic import BaseModel
        from langgraph.graph import StateGraph, START, END
        from reasonmed.storage import SQLAlchemySaver

        class Verdict(BaseModel):
            verdict: str
            reason: str

        class State(TypedDict):
            verdict: Verdict

        def judge(state: State) -> dict:
            return {{"verdict": Verdict(verdict="Correct", reason="matches")}}

        builder = StateGraph(State)
        builder.add_node("judge", judge)
        builder.add_edge(START, "judge")
        builder.add_edge("judge", END)
        saver = SQLAlchemySaver.from_url({sqlite_url!r})
        graph = builder.compile(checkpointer=saver)
        config = {{"configurable": {{"thread_id": "strict"}}}}
        graph.invoke({{"verdict": Verdict(verdict="Error", reason="start")}}, config)
        value = graph.get_state(config).values["verdict"]
        assert isinstance(value, Verdict) and value.verdict == "Correct", value
        print("ok")
        """
    )
    env = {"LANGGRAPH_STRICT_MSGPACK": "true", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


class _State(TypedDict):
    items: Annotated[list[str], operator.add]


def _graph(saver: SQLAlchemySaver):
    def produce(state: _State) -> dict:
        return {"items": [f"p{i}" for i in range(9)] + ["y" * 2000]}

    def annotate(state: _State) -> dict:
        return {"items": [f"n{len(state['items'])}"]}

    builder = StateGraph(_State)
    builder.add_node("produce", produce)
    builder.add_node("annotate", annotate)
    builder.add_edge(START, "produce")
    builder.add_edge("produce", "annotate")
    builder.add_edge("annotate", END)
    return builder.compile(checkpointer=saver)


def test_64_concurrent_sync_questions_on_sqlite(sqlite_url: str) -> None:
    """Sync invoke from 64 threads (puts run in background threads too): never 'locked'."""
    with SQLAlchemySaver.from_url(sqlite_url, pool_size=16) as saver:
        graph = _graph(saver)
        errors: list[BaseException] = []

        def run(i: int) -> None:
            try:
                for round_ in range(3):
                    graph.invoke({"items": []}, {"configurable": {"thread_id": f"q{i}-{round_}"}})
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(64)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors[:3]
        for i in (0, 33, 63):
            state = graph.get_state({"configurable": {"thread_id": f"q{i}-2"}})
            assert state.values["items"][-1] == "n10"


async def test_64_concurrent_async_questions(db_url: str) -> None:
    saver = SQLAlchemySaver.from_url(db_url, pool_size=16)
    try:
        graph = _graph(saver)
        await asyncio.gather(
            *(
                graph.ainvoke({"items": []}, {"configurable": {"thread_id": f"a{i}"}})
                for i in range(64)
            )
        )
        with saver.engines.sync.connect() as conn:
            threads = conn.execute(
                select(func.count(func.distinct(checkpoints.c.thread_id)))
            ).scalar()
        assert threads == 64
        state = await graph.aget_state({"configurable": {"thread_id": "a5"}})
        assert state.values["items"][-1] == "n10"
    finally:
        await saver.aclose()


def test_newer_schema_is_refused(sqlite_url: str) -> None:
    SQLAlchemySaver.from_url(sqlite_url).close()
    saver = SQLAlchemySaver.from_url(sqlite_url)  # reopening an up-to-date schema is a no-op
    with saver.engines.sync.begin() as conn:
        assert conn.execute(select(func.max(schema_migrations.c.version))).scalar() == (
            latest_version()
        )
        conn.execute(
            text("INSERT INTO rm_schema_migrations VALUES (:v, 'from the future', 'x')"),
            {"v": latest_version() + 1},
        )
    saver.close()
    with pytest.raises(SchemaVersionError, match="newer than this reasonmed"):
        SQLAlchemySaver.from_url(sqlite_url)


def test_compact_drops_only_folded_writes(db_url: str) -> None:
    """compact(): regular writes a loop child folded in go; errors and update-parents stay."""
    with SQLAlchemySaver.from_url(db_url) as saver:
        first = _put(saver, "keep")
        saver.put_writes(first, [("a", 1), ("b", 2)], "task-ok", "p")
        saver.put_writes(first, [("__error__", "boom")], "task-bad", "p")
        config = generate_config("keep")
        config["configurable"]["checkpoint_id"] = first["configurable"]["checkpoint_id"]
        cp = generate_checkpoint(channel_values={"n": 2})
        cp["channel_versions"] = {"n": 2.3}
        second = saver.put(config, cp, generate_metadata(source="loop", step=1), {"n": 2.3})
        saver.put_writes(second, [("c", 3)], "task-next", "p")
        # A checkpoint made by update_state does not fold its parent's writes in.
        config["configurable"]["checkpoint_id"] = second["configurable"]["checkpoint_id"]
        saver.put(config, generate_checkpoint(), generate_metadata(source="update", step=2), {})
        other = _put(saver, "other")
        saver.put_writes(other, [("z", 9)], "task-z", "p")

        saver.compact(["keep"])

        assert saver.get_tuple(first).pending_writes == [("task-bad", "__error__", "boom")]
        assert saver.get_tuple(second).pending_writes == [("task-next", "c", 3)]
        assert len(list(saver.list(generate_config("keep")))) == 3
        assert saver.get_tuple(other).pending_writes == [("task-z", "z", 9)]


async def test_compact_a_finished_graph_keeps_its_history(db_url: str) -> None:
    saver = SQLAlchemySaver.from_url(db_url)
    try:
        graph = _graph(saver)
        config = {"configurable": {"thread_id": "g"}}
        await graph.ainvoke({"items": []}, config)
        with saver.engines.sync.connect() as conn:
            before = conn.execute(select(func.count()).select_from(checkpoint_writes)).scalar()
        await saver.acompact(["g"])
        history = [s async for s in graph.aget_state_history(config)]
        assert len(history) == 4  # input, produce, annotate, end: every step still listed
        assert history[0].values["items"][-1] == "n10"
        assert history[1].values["items"][-1] == "y" * 2000
        with saver.engines.sync.connect() as conn:
            after = conn.execute(select(func.count()).select_from(checkpoint_writes)).scalar()
        assert before > 0 and after == 0
    finally:
        await saver.aclose()
