"""Run bookkeeping and the call log on SQLite and PostgreSQL, through their public classes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import func, inspect, select

from reasonmed.core.call_record import CallRecord
from reasonmed.core.question import Question
from reasonmed.storage import migrations
from reasonmed.storage.call_log import CallLog, rollup
from reasonmed.storage.db import Database
from reasonmed.storage.examples import ExampleRow
from reasonmed.storage.runs import RunExistsError, RunStore
from reasonmed.storage.schema import examples as examples_table
from reasonmed.storage.schema import schema_migrations

RUN = "run-1"


def make_question(i: int) -> Question:
    return Question(
        id=f"q{i:05d}",
        question=f"Question {i}?",
        options={"A": "yes", "B": "no"},
        answer="A",
        context=f"context {i}" if i % 2 else "",
    )


def make_example(qid: str, slot: int, cot: str = "cot") -> ExampleRow:
    return ExampleRow(
        run_id=RUN,
        question_id=qid,
        slot=slot,
        tier="easy",
        origin="generated",
        cot=f"{cot} {slot}",
        summary=f"summary {slot}",
        instruction="Q\n\nA. yes\nB. no",
        input="",
        provenance={"model": "m1", "temperature": 0.7},
    )


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database.from_url(db_url)
    yield database
    database.close()


@pytest.fixture
def store(db: Database) -> RunStore:
    store = RunStore(db)
    store.create_run(RUN, "questions.jsonl", {"models": {"m1": {}}}, "h1", {"generator": "p1"})
    return store


def count_examples(db: Database, qid: str) -> int:
    with db.connect(write=False) as conn:
        stmt = select(func.count()).where(examples_table.c.question_id == qid)
        return conn.execute(stmt).scalar_one()


def test_register_is_idempotent_and_keeps_positions(store: RunStore) -> None:
    assert store.register_questions(RUN, (make_question(i) for i in range(3))) == 3
    store.mark_running(RUN, "q00001")
    # Registering again (with one new question) adds only the new one and resets nothing.
    assert store.register_questions(RUN, (make_question(i) for i in range(4))) == 1
    rows = list(store.unfinished(RUN))
    assert [(r.question_id, r.position) for r in rows] == [(f"q{i:05d}", i) for i in range(4)]
    assert rows[1].status == "running" and rows[1].attempts == 1
    assert rows[2].thread_id == f"{RUN}:q00002"
    assert rows[3].question == make_question(3)
    assert store.counts(RUN)["total"] == 4


def test_register_streams_a_large_file_across_batches(store: RunStore) -> None:
    assert store.register_questions(RUN, (make_question(i) for i in range(1203))) == 1203
    positions = [r.position for r in store.unfinished(RUN, page=250)]
    assert positions == list(range(1203))


def test_register_failing_halfway_registers_nothing(store: RunStore) -> None:
    def questions() -> Iterator[Question]:
        for i in range(700):  # past the first batch of 500
            yield make_question(i)
        raise ValueError("line 701: bad record")

    with pytest.raises(ValueError, match="line 701"):
        store.register_questions(RUN, questions())
    assert store.counts(RUN)["total"] == 0


def test_unfinished_in_order_skips_done_and_rejected(store: RunStore) -> None:
    store.register_questions(RUN, (make_question(i) for i in range(7)))
    common = {"tier": "easy", "errors": 1, "reason": ""}
    store.finish_question(RUN, "q00001", status="done", examples=[], **common)
    store.finish_question(RUN, "q00004", status="rejected", examples=[], **common)
    store.mark_failed(RUN, "q00002", "boom")
    store.mark_running(RUN, "q00005")
    rows = list(store.unfinished(RUN, page=2))
    assert [r.question_id for r in rows] == ["q00000", "q00002", "q00003", "q00005", "q00006"]
    assert [r.status for r in rows] == ["pending", "failed", "pending", "running", "pending"]
    assert rows[1].reason == "boom"


def test_unfinished_tolerates_updates_while_iterating(store: RunStore) -> None:
    store.register_questions(RUN, (make_question(i) for i in range(6)))
    seen = []
    for row in store.unfinished(RUN, page=2):
        seen.append(row.question_id)
        store.finish_question(
            RUN, row.question_id, status="done", tier="easy", errors=0, reason="", examples=[]
        )
    assert seen == [f"q{i:05d}" for i in range(6)]
    assert list(store.unfinished(RUN)) == []


def test_finish_twice_never_duplicates_examples(db: Database, store: RunStore) -> None:
    store.register_questions(RUN, [make_question(0)])
    two = [make_example("q00000", 0), make_example("q00000", 1)]
    for _ in range(2):
        store.finish_question(
            RUN, "q00000", status="done", tier="medium", errors=6, reason="", examples=two
        )
    assert count_examples(db, "q00000") == 2
    row = store.question(RUN, "q00000")
    assert row is not None
    assert (row.status, row.tier, row.errors, row.examples) == ("done", "medium", 6, 2)
    # A later finish with fewer examples leaves exactly those.
    asyncio.run(
        store.afinish_question(
            RUN,
            "q00000",
            status="done",
            tier="difficult",
            errors=9,
            reason="regenerated",
            examples=[make_example("q00000", 0, cot="new")],
        )
    )
    assert count_examples(db, "q00000") == 1
    row = store.question(RUN, "q00000")
    assert row is not None and (row.tier, row.examples, row.reason) == (
        "difficult",
        1,
        "regenerated",
    )


def test_finish_of_unregistered_question_writes_nothing(db: Database, store: RunStore) -> None:
    with pytest.raises(LookupError, match="q00009"):
        store.finish_question(
            RUN,
            "q00009",
            status="done",
            tier="easy",
            errors=0,
            reason="",
            examples=[make_example("q00009", 0)],
        )
    assert count_examples(db, "q00009") == 0


def test_async_marks_count_attempts(store: RunStore) -> None:
    store.register_questions(RUN, [make_question(0)])

    async def twice() -> None:
        await store.amark_running(RUN, "q00000")
        await store.amark_failed(RUN, "q00000", "timeout")
        await store.amark_running(RUN, "q00000")

    asyncio.run(twice())
    row = store.question(RUN, "q00000")
    assert row is not None and (row.status, row.attempts) == ("running", 2)
    assert store.question(RUN, "missing") is None
    with pytest.raises(LookupError, match="missing"):
        store.mark_running(RUN, "missing")


def test_run_config_history_and_listing(db: Database, store: RunStore) -> None:
    with pytest.raises(RunExistsError):
        store.create_run(RUN, "other.jsonl", {}, "h9", {})
    updated = store.update_run_config(
        RUN, {"models": {"m2": {}}}, "h2", {"generator": "p2"}, {"event": "config changed"}
    )
    assert updated.config == {"models": {"m2": {}}} and updated.prompt_hashes == {"generator": "p2"}
    assert [e["event"] for e in updated.history] == ["created", "config changed"]
    assert store.get_run(RUN) == updated
    assert store.get_run("nope") is None
    with pytest.raises(LookupError, match="nope"):
        store.update_run_config("nope", {}, "h", {}, {"event": "x"})

    store.register_questions(RUN, (make_question(i) for i in range(3)))
    store.finish_question(
        RUN, "q00000", status="done", tier="easy", errors=0, reason="",
        examples=[make_example("q00000", 0), make_example("q00000", 1)],
    )  # fmt: skip
    CallLog(db).record(make_call("q00000"))
    store.create_run("run-2", "b.jsonl", {}, "h3", {})
    runs = store.list_runs()
    assert [r["run_id"] for r in runs] == [RUN, "run-2"]
    assert runs[0]["questions"] == {
        "pending": 2, "running": 0, "done": 1, "rejected": 0, "failed": 0
    }  # fmt: skip
    assert (runs[0]["examples"], runs[0]["calls"], runs[0]["config_hash"]) == (2, 1, "h2")
    assert (runs[1]["examples"], runs[1]["calls"]) == (0, 0)
    counts = store.counts(RUN)
    assert counts["by_tier"] == {"easy": 1, "medium": 0, "difficult": 0}


def make_call(qid: str, **changes: object) -> CallRecord:
    values: dict[str, object] = {
        "run_id": RUN,
        "question_id": qid,
        "thread_id": f"{RUN}:{qid}",
        "node": "generate",
        "agent": "generator",
        "alias": "m1",
        "model": "org/model-1",
        "messages": [
            {"role": "system", "content": "You are a careful physician. " * 40},
            {"role": "user", "content": "Which option?\x00 é"},
        ],
        "template_hash": "t1",
        "sampling": {"temperature": 0.7, "top_p": 0.9},
        "reply": "Answer: A",
        "parsed": {"answer": "A"},
        "prompt_tokens": 100,
        "completion_tokens": 20,
        "latency_ms": 12.5,
        "finish_reason": "stop",
        "extra": {"request_id": "r1"},
    }
    values.update(changes)
    return CallRecord(**values)  # type: ignore[arg-type]


def test_call_log_round_trip_and_usage(db: Database) -> None:
    log = CallLog(db)
    first = make_call("q1")
    second = make_call(
        "q1", node="verify", agent="verifier", reply=None, parsed=None, error="HTTP 500",
        retries=2, prompt_tokens=50, completion_tokens=0, attempt=1,
    )  # fmt: skip
    third = make_call("q1", cache_hit=True, prompt_tokens=7, completion_tokens=3)
    ids = [log.record(first), asyncio.run(log.arecord(second)), log.record(third)]
    other = log.record(make_call("q2", alias="m2", model="org/model-2"))
    assert ids == sorted(ids) and len(set(ids)) == 3 and other > ids[-1]

    stored = log.for_question(RUN, "q1")
    assert [s.id for s in stored] == ids
    for original, back in zip([first, second, third], stored, strict=True):
        for field in ("messages", "sampling", "parsed", "error", "retries", "extra", "cache_hit"):
            assert getattr(back, field) == getattr(original, field), field
        assert (back.node, back.agent, back.attempt, back.latency_ms) == (
            original.node, original.agent, original.attempt, original.latency_ms
        )  # fmt: skip
        assert back.created_at
    assert log.get(ids[1]) == stored[1]

    usage = log.usage(RUN)
    by_agent = {row["agent"]: row for row in rollup(usage, ("agent",))}
    assert by_agent["generator"]["calls"] == 3
    assert by_agent["generator"]["prompt_tokens"] == 100 + 7 + 100
    assert by_agent["generator"]["cache_hits"] == 1
    assert by_agent["verifier"]["errors"] == 1 and by_agent["verifier"]["completion_tokens"] == 0
    by_alias = {row["alias"]: row["calls"] for row in rollup(usage, ("alias",))}
    assert by_alias == {"m1": 3, "m2": 1}
    assert {row["node"] for row in usage} == {"generate", "verify"}


def test_model_text_with_nul_is_stored(db: Database) -> None:
    log = CallLog(db)
    call_id = log.record(make_call("q1", reply="bad\x00reply", parsed={"why": "a\x00b"}))
    back = log.get(call_id)
    assert back is not None and (back.reply, back.parsed) == ("badreply", {"why": "ab"})
    assert back.messages[1]["content"] == "Which option?\x00 é"


def test_migration_2_applies_on_a_version_1_database(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:1])
        old = Database.from_url(db_url)
        with old.connect(write=False) as conn:
            assert not inspect(conn).has_table("rm_runs")
        old.close()
    db = Database.from_url(db_url)
    try:
        with db.connect(write=False) as conn:
            versions = conn.execute(select(schema_migrations.c.version)).scalars().all()
            tables = set(inspect(conn).get_table_names())
        assert sorted(versions) == [v for v, _, _ in migrations.MIGRATIONS]
        assert {"rm_runs", "rm_questions", "rm_llm_calls", "rm_examples"} <= tables
        store = RunStore(db)
        store.create_run(RUN, "q.jsonl", {}, "h", {})
        assert store.register_questions(RUN, [make_question(0)]) == 1
        assert CallLog(db).record(make_call("q00000")) >= 1
    finally:
        db.close()


def test_migration_3_adds_failure_and_cost_to_a_version_2_database(db_url: str) -> None:
    """A database written before migration 3 (columns absent) keeps its rows and gains them."""
    db = Database.from_url(db_url)
    store = RunStore(db)
    store.create_run(RUN, "q.jsonl", {}, "h", {})
    store.register_questions(RUN, [make_question(0)])
    CallLog(db).record(make_call("q00000"))
    with db.connect(write=True) as conn:  # back to the version 2 layout
        conn.exec_driver_sql("ALTER TABLE rm_questions DROP COLUMN failure")
        conn.exec_driver_sql("ALTER TABLE rm_llm_calls DROP COLUMN cost")
        conn.execute(schema_migrations.delete().where(schema_migrations.c.version >= 3))
    db.close()
    db = Database.from_url(db_url)
    try:
        with db.connect(write=False) as conn:
            versions = conn.execute(select(schema_migrations.c.version)).scalars().all()
            questions = {c["name"] for c in inspect(conn).get_columns("rm_questions")}
            calls = {c["name"] for c in inspect(conn).get_columns("rm_llm_calls")}
        assert 3 in versions and "failure" in questions and "cost" in calls
        store = RunStore(db)
        assert store.question(RUN, "q00000") is not None
        assert len(CallLog(db).for_question(RUN, "q00000")) == 1
        store.mark_failed(RUN, "q00000", "boom", failure={"kind": "error", "error": "boom"})
        assert store.question(RUN, "q00000").failure == {"kind": "error", "error": "boom"}
    finally:
        db.close()
