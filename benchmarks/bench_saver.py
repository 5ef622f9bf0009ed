"""Checkpoint saver benchmark: ours against LangGraph's official savers on the same graph.

Run: `make bench` or `.venv/bin/python benchmarks/bench_saver.py [--questions 200] [--repeats 3]`
(PostgreSQL from REASONMED_TEST_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test).

Workload, per question (one thread each): a 6-node graph shaped like the pipeline (prepare, a
9-way `Send` fan-out of generate, a 9-way fan-out of verify, rank, refine, summarize) whose
final state holds about 12 KB of text. Each configuration runs N questions on a fresh database
(a new SQLite file, a new PostgreSQL schema): sync = `invoke` one question after another,
async = `ainvoke` with 50 questions in flight. Runs are interleaved and the median of the repeats
is reported, with the ratio ours / official per database and mode.

Ours runs twice: as is, and with `compact()` called on each question's thread once it
finishes (what the pipeline does: history stays, finished steps' writes go). "Stored per
question" is the payload the saver wrote: the byte length of every column of every row of its
tables, keys included (text and JSON as UTF-8 text, binary as bytes), divided by N, beside the
msgpack size of one final state (`serde.dumps_typed(final_state)`).
"""

from __future__ import annotations

import argparse
import asyncio
import operator
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import AsyncExitStack, ExitStack
from pathlib import Path
from typing import Annotated, Any, TypedDict

import psycopg
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from reasonmed.storage import SQLAlchemySaver

PG_URL = os.environ.get(
    "REASONMED_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
LIBPQ_URL = PG_URL.replace("postgresql+psycopg://", "postgresql://", 1)
WORDS = (
    "patient presents with fever tachycardia hypotension lactate sepsis cultures antibiotics "
    "fluids option excluded because the mechanism involves renal tubular acidosis anion gap "
    "therefore the most likely diagnosis is consistent with findings on examination"
).split()


def _text(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choices(WORDS, k=n_words))


class State(TypedDict, total=False):
    question: str
    cots: Annotated[list[dict[str, Any]], operator.add]
    verdicts: Annotated[list[dict[str, Any]], operator.add]
    kept: list[str]
    refined: list[str]
    summaries: list[str]


def build_graph(checkpointer: Any) -> Any:
    """The benchmark graph: the pipeline's shape without any model call."""

    def prepare(state: State) -> dict:
        return {"question": _text(random.Random(state["question"]), 80)}

    def fan_generate(state: State) -> list[Send]:
        return [Send("generate", {"question": state["question"], "k": k}) for k in range(9)]

    def generate(task: dict) -> dict:
        rng = random.Random(f"{task['question'][:20]}{task['k']}")
        return {"cots": [{"k": task["k"], "text": _text(rng, 130)}]}

    def fan_verify(state: State) -> list[Send]:
        return [Send("verify", cot) for cot in state["cots"]]

    def verify(cot: dict) -> dict:
        ok = cot["k"] % 3 != 0
        return {"verdicts": [{"k": cot["k"], "ok": ok, "reason": "checked the final option"}]}

    def rank(state: State) -> dict:
        good = [v["k"] for v in state["verdicts"] if v["ok"]][:2]
        return {"kept": [c["text"] for c in state["cots"] if c["k"] in good]}

    def refine(state: State) -> dict:
        return {"refined": [t[:400] + " refined" for t in state["kept"]]}

    def summarize(state: State) -> dict:
        return {"summaries": [t[:120] for t in state["refined"]]}

    g = StateGraph(State)
    for name, fn in [
        ("prepare", prepare),
        ("generate", generate),
        ("verify", verify),
        ("rank", rank),
        ("refine", refine),
        ("summarize", summarize),
    ]:
        g.add_node(name, fn)
    g.add_edge(START, "prepare")
    g.add_conditional_edges("prepare", fan_generate, ["generate"])
    g.add_conditional_edges("generate", fan_verify, ["verify"])
    g.add_edge("verify", "rank")
    g.add_edge("rank", "refine")
    g.add_edge("refine", "summarize")
    g.add_edge("summarize", END)
    return g.compile(checkpointer=checkpointer)


def _inputs(n: int) -> list[dict]:
    return [{"question": f"question {i}"} for i in range(n)]


def run_sync(graph: Any, n: int, compact: bool = False) -> tuple[float, dict]:
    start = time.perf_counter()
    final: dict = {}
    for i, inp in enumerate(_inputs(n)):
        final = graph.invoke(inp, {"configurable": {"thread_id": f"q{i}"}})
        if compact:
            graph.checkpointer.compact([f"q{i}"])
    return time.perf_counter() - start, final


async def run_async(
    graph: Any, n: int, in_flight: int = 50, compact: bool = False
) -> tuple[float, dict]:
    sem = asyncio.Semaphore(in_flight)
    finals: list[dict] = []

    async def one(i: int, inp: dict) -> None:
        async with sem:
            finals.append(await graph.ainvoke(inp, {"configurable": {"thread_id": f"q{i}"}}))
            if compact:
                await graph.checkpointer.acompact([f"q{i}"])

    start = time.perf_counter()
    await asyncio.gather(*(one(i, inp) for i, inp in enumerate(_inputs(n))))
    return time.perf_counter() - start, finals[-1]


# -- databases ---------------------------------------------------------------------------------


def sqlite_payload(path: str) -> int:
    conn = sqlite3.connect(path)
    total = 0
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'"):
        if "migration" in table:
            continue
        cols = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
        expr = " + ".join(f'COALESCE(length(CAST("{c}" AS BLOB)), 0)' for c in cols)
        total += conn.execute(f'SELECT COALESCE(SUM({expr}), 0) FROM "{table}"').fetchone()[0]
    conn.close()
    return total


def postgres_payload(schema: str) -> int:
    total = 0
    with psycopg.connect(LIBPQ_URL) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchall()
        for (table,) in tables:
            if "migration" in table:
                continue
            cols = conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s",
                (schema, table),
            ).fetchall()
            expr = " + ".join(
                f'COALESCE(octet_length("{c}"{"" if t == "bytea" else "::text"}), 0)'
                for c, t in cols
            )
            total += conn.execute(
                f'SELECT COALESCE(SUM({expr}), 0) FROM "{schema}"."{table}"'
            ).fetchone()[0]
    return total


def new_schema() -> str:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(LIBPQ_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return schema


def drop_schema(schema: str) -> None:
    with psycopg.connect(LIBPQ_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def pg_options(schema: str) -> str:
    return f"options=-csearch_path%3D{schema}"


# -- one measured run per (saver, mode) -------------------------------------------------------


def measure(saver: str, mode: str, n: int, tmp: Path) -> tuple[float, float | None, int]:
    """Return (questions/s, stored bytes per question or None, msgpack size of a final state)."""
    path = str(tmp / f"{uuid.uuid4().hex}.db")
    schema = new_schema() if "postgres" in saver else None
    try:
        if mode == "sync":
            with ExitStack() as stack:
                cp = _sync_saver(saver, path, schema, stack)
                elapsed, final = run_sync(build_graph(cp), n, saver.endswith("-compact"))
        else:
            elapsed, final = asyncio.run(_async_measure(saver, path, schema, n))
        stored = None
        if "sqlite" in saver:
            stored = sqlite_payload(path) / n
        elif schema is not None:
            stored = postgres_payload(schema) / n
        state_size = len(JsonPlusSerializer().dumps_typed(final)[1])
        return n / elapsed, stored, state_size
    finally:
        if schema:
            drop_schema(schema)


def _sync_saver(saver: str, path: str, schema: str | None, stack: ExitStack) -> Any:
    if saver == "none":
        return None
    if saver == "official-sqlite":
        conn = sqlite3.connect(path, check_same_thread=False)
        stack.callback(conn.close)
        cp = SqliteSaver(conn)
        cp.setup()
        return cp
    if saver == "official-postgres":
        cp = stack.enter_context(
            PostgresSaver.from_conn_string(f"{LIBPQ_URL}?{pg_options(schema)}")
        )
        cp.setup()
        return cp
    return stack.enter_context(_open_ours(saver, path, schema))


def _open_ours(saver: str, path: str, schema: str | None) -> SQLAlchemySaver:
    """One of our configurations, on SQLite or PostgreSQL."""
    url = f"sqlite:///{path}" if "sqlite" in saver else f"{PG_URL}?{pg_options(schema)}"
    return SQLAlchemySaver.from_url(url)


async def _async_measure(saver: str, path: str, schema: str | None, n: int) -> tuple[float, dict]:
    async with AsyncExitStack() as stack:
        cp: Any = None
        if saver == "official-sqlite":
            cp = await stack.enter_async_context(AsyncSqliteSaver.from_conn_string(path))
            await cp.setup()
        elif saver == "official-postgres":
            cp = await stack.enter_async_context(
                AsyncPostgresSaver.from_conn_string(f"{LIBPQ_URL}?{pg_options(schema)}")
            )
            await cp.setup()
        elif saver.startswith("ours"):
            cp = await stack.enter_async_context(_open_ours(saver, path, schema))
        return await run_async(build_graph(cp), n, compact=saver.endswith("-compact"))


SAVERS = [
    "none",
    "official-sqlite",
    "ours-sqlite",
    "ours-sqlite-compact",
    "official-postgres",
    "ours-postgres",
    "ours-postgres-compact",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--modes", default="sync,async")
    parser.add_argument("--savers", default=",".join(SAVERS))
    args = parser.parse_args(argv)
    modes = args.modes.split(",")
    savers = args.savers.split(",")
    results: dict[tuple[str, str], list[float]] = {}
    stored: dict[tuple[str, str], float | None] = {}
    state_size = 0
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeats):
            for mode in modes:
                for saver in savers:
                    qps, size, state_size = measure(saver, mode, args.questions, Path(tmp))
                    results.setdefault((saver, mode), []).append(qps)
                    stored[(saver, mode)] = size
                    print(f"  run {rep + 1}: {saver:18s} {mode:5s} {qps:8.1f} q/s", flush=True)
    print(f"\n{args.questions} questions, median of {args.repeats}; final state {state_size} B")
    print(f"{'saver':18s} {'mode':5s} {'q/s':>8s} {'stored/q':>10s} {'x state':>8s}")
    med: dict[tuple[str, str], float] = {}
    for (saver, mode), values in results.items():
        med[(saver, mode)] = statistics.median(values)
        size = stored[(saver, mode)]
        size_s = f"{size:10.0f}" if size is not None else f"{'-':>10s}"
        ratio_s = f"{size / state_size:8.2f}" if size is not None else f"{'-':>8s}"
        print(f"{saver:18s} {mode:5s} {med[(saver, mode)]:8.1f} {size_s} {ratio_s}")
    print()
    for db in ("sqlite", "postgres"):
        for variant in ("", "-compact"):
            for mode in modes:
                ours = f"ours-{db}{variant}"
                q_ours, q_off = med.get((ours, mode)), med.get((f"official-{db}", mode))
                s_ours, s_off = stored.get((ours, mode)), stored.get((f"official-{db}", mode))
                if q_ours and q_off and s_ours and s_off:
                    print(
                        f"{ours:20s} {mode:5s}: throughput {q_ours / q_off:5.2f}x official, "
                        f"storage {s_ours / s_off:5.2f}x official = "
                        f"{s_ours / state_size:.2f}x the final state"
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
