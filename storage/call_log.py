"""The LLM call log: one row per model call, written on the hot path and read by status and trace.

Agents record a call right after it returns, many at once, so `record` runs a prebuilt INSERT
... RETURNING id on the database's group-commit fast path (see `Database.run_fast`). The rendered
messages are the bulk of a row and repeat heavily, so they are stored as zstd-compressed JSON;
model-written text goes in as text with NUL characters stripped (PostgreSQL rejects them).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Insert, Select, bindparam, case, func, select
from sqlalchemy.dialects import postgresql, sqlite

from reasonmed.core.call_record import CallRecord
from reasonmed.core.fast_json import dumps_bytes
from reasonmed.storage.checkpoint_rows import strip_nul
from reasonmed.storage.codec import pack, unpack
from reasonmed.storage.db import Database, Plan, Step
from reasonmed.storage.schema import llm_calls as L
from reasonmed.storage.schema import questions as Q

USAGE_KEYS = ("agent", "alias", "model", "node")
# Per alias: (price per million input tokens, per million output tokens); None if not set.
Price = tuple[float | None, float | None]
USAGE_SUMS = (
    "calls",
    "prompt_tokens",
    "completion_tokens",
    "errors",
    "cache_hits",
    "latency_ms",
    "cost",  # of the calls that have a price (see `priced`)
    "priced",  # calls whose alias had a price when they were made
)
_FLOAT_SUMS = ("latency_ms", "cost")
_RECORD_FIELDS = tuple(f.name for f in fields(CallRecord))


@dataclass(frozen=True, slots=True)
class CachedCall:
    """What a cache hit needs of the earlier call: its id, reply and finish reason."""

    id: int
    reply: str | None
    finish_reason: str | None


def now_iso() -> str:
    """The current UTC time as ISO text: sortable, and the same on both databases."""
    return datetime.now(UTC).isoformat()


def json_text(value: Any) -> str | None:
    """JSON for a JSON column on the fast path (which takes text), or None for SQL NULL."""
    if value is None:
        return None
    # JSON escapes NUL as \u0000, so text without that has no NUL to strip (the common case:
    # it saves a walk over the value). A Mapping is dumped as an object either way.
    text = json.dumps(value, ensure_ascii=False, default=_as_json)
    if "\\u0000" not in text:
        return text
    return json.dumps(strip_nul(value), ensure_ascii=False, default=_as_json)


def _as_json(value: Any) -> Any:
    return dict(value) if isinstance(value, Mapping) else str(value)


@dataclass(kw_only=True)
class StoredCall(CallRecord):
    """A call as read back from the log: the record plus its id and when it was stored."""

    id: int
    created_at: str


@cache
def _insert(dialect: str) -> Insert:
    """INSERT ... RETURNING id, built once per dialect so its SQL is compiled once."""
    ins = postgresql.insert if dialect == "postgresql" else sqlite.insert
    columns = [c.name for c in L.columns if c.name != "id"]
    return ins(L).values({name: bindparam(name) for name in columns}).returning(L.c.id)


def _row(rec: CallRecord) -> dict[str, Any]:
    messages_type, messages = pack("json", dumps_bytes(rec.messages))
    return {
        "run_id": rec.run_id,
        "question_id": rec.question_id,
        "thread_id": rec.thread_id,
        "node": rec.node,
        "agent": rec.agent,
        "alias": rec.alias,
        "model": rec.model,
        "attempt": rec.attempt,
        "sampling": json_text(rec.sampling or {}),
        "template_hash": rec.template_hash,
        "messages_type": messages_type,
        "messages": messages,
        "reply": strip_nul(rec.reply),
        "parsed": json_text(rec.parsed),
        "error": strip_nul(rec.error),
        "retries": rec.retries,
        "prompt_tokens": rec.prompt_tokens,
        "completion_tokens": rec.completion_tokens,
        "latency_ms": float(rec.latency_ms),
        "finish_reason": rec.finish_reason,
        "cache_hit": bool(rec.cache_hit),
        "request_key": rec.request_key,
        "extra": json_text(rec.extra or None),
        "created_at": now_iso(),
        "cost": rec.cost,
    }


def _stored(row: Any) -> StoredCall:
    values = dict(row._mapping)
    _, raw = unpack(values.pop("messages_type"), values["messages"])
    values["messages"] = json.loads(raw)
    values["sampling"] = values["sampling"] or {}
    values["extra"] = values["extra"] or {}
    values["cache_hit"] = bool(values["cache_hit"])
    return StoredCall(**{k: values[k] for k in (*_RECORD_FIELDS, "id", "created_at")})


def rollup(rows: Iterable[Mapping[str, Any]], keys: Sequence[str]) -> list[dict[str, Any]]:
    """Sum `usage` rows over the groups named by `keys` (e.g. ("agent",) or ("alias", "model"))."""
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[k] for k in keys)
        group = groups.setdefault(
            key, {**dict(zip(keys, key, strict=True)), **dict.fromkeys(USAGE_SUMS, 0)}
        )
        for name in USAGE_SUMS:
            group[name] += row[name]
    return [groups[k] for k in sorted(groups, key=lambda k: tuple(str(v) for v in k))]


class CallLog:
    """Stores and reads `CallRecord`s of one database."""

    def __init__(self, db: Database, prices: Mapping[str, Price] | None = None) -> None:
        self.db = db
        self.prices = dict(prices or {})
        self.recorded_cost = 0.0  # cost of the calls this object recorded (budget checks)
        self._insert = _insert(db.dialect)

    def cost_of(self, rec: CallRecord) -> float | None:
        """What the call cost at its alias's prices; 0 for a cache hit; None without prices."""
        price = self.prices.get(rec.alias)
        if price is None or price == (None, None):
            return None
        if rec.cache_hit:
            return 0.0
        per_in, per_out = (p or 0.0 for p in price)
        return (rec.prompt_tokens * per_in + rec.completion_tokens * per_out) / 1_000_000

    def _record_plan(self, rec: CallRecord) -> Callable[[], Plan]:
        if rec.cost is None:
            rec.cost = self.cost_of(rec)
        self.recorded_cost += rec.cost or 0.0
        row = _row(rec)  # encoded now, in the caller's thread

        def plan() -> Plan:
            found = yield Step(self._insert, row, fetch=True)
            return int(found[0][0])  # type: ignore[index]

        return plan

    def record(self, rec: CallRecord) -> int:
        """Store one call; return its id (ids increase in the order calls are stored)."""
        return self.db.run_fast(self._record_plan(rec))

    async def arecord(self, rec: CallRecord) -> int:
        """`record` without blocking the event loop."""
        return await self.db.arun_fast(self._record_plan(rec))

    def spent(self, run_id: str) -> float:
        """The run's cost so far, over every session of it (0 without prices)."""
        rows = self.db.run(_fetch(spent_query(run_id)), write=False)
        return float(rows[0][0] or 0) if rows else 0.0

    def usage_by_tier(self, run_id: str) -> list[dict[str, Any]]:
        """Calls, tokens and cost by question tier (None: questions not yet classified)."""
        rows = self.db.run(_fetch(tier_usage_query(run_id)), write=False)
        return [
            {
                "tier": r.tier,
                "calls": int(r.calls),
                "prompt_tokens": int(r.prompt_tokens or 0),
                "completion_tokens": int(r.completion_tokens or 0),
                "cost": float(r.cost or 0),
                "priced": int(r.priced or 0),
            }
            for r in rows
        ]

    async def acached(self, request_key: str) -> CachedCall | None:
        """The first successful call that sent exactly this request, in any run of this database.

        Only model replies count (not errors, not earlier cache hits), so a hit always points at
        what the model really said. Asked before every model call, so it is one prebuilt SELECT
        on the write fast path, batched with the call log's inserts, rather than a pool
        checkout and a transaction of its own (about 1 ms of CPU per call saved).
        """
        stmt = _cached_query()

        def plan() -> Plan:
            rows = yield Step(stmt, {"request_key": request_key}, fetch=True)
            return rows

        rows = await self.db.arun_fast(plan)
        if not rows:
            return None
        call_id, reply, finish_reason = rows[0]
        return CachedCall(id=int(call_id), reply=reply, finish_reason=finish_reason)

    def for_question(self, run_id: str, question_id: str) -> list[StoredCall]:
        """Every call made for one question of a run, in the order they were stored."""
        stmt = (
            select(L).where(L.c.run_id == run_id, L.c.question_id == question_id).order_by(L.c.id)
        )
        return [_stored(row) for row in self.db.run(_fetch(stmt), write=False)]

    def get(self, call_id: int) -> StoredCall | None:
        """One call by id (the ids graph state keeps), for traces."""
        rows = self.db.run(_fetch(select(L).where(L.c.id == call_id)), write=False)
        return _stored(rows[0]) if rows else None

    def usage(self, run_id: str) -> list[dict[str, Any]]:
        """Calls, tokens, errors, cache hits and latency per (agent, alias, model, node).

        The finest grouping, so one query serves every report; `rollup` sums it by agent,
        by model or by node.
        """
        rows = self.db.run(_fetch(_usage_query(run_id)), write=False)
        return [
            {
                **{k: getattr(r, k) for k in USAGE_KEYS},
                **{
                    k: (float(getattr(r, k) or 0) if k in _FLOAT_SUMS else int(getattr(r, k) or 0))
                    for k in USAGE_SUMS
                },
            }
            for r in rows
        ]


def spent_query(run_id: str) -> Select:
    """What a run's calls have cost so far (NULL when none had a price)."""
    return select(func.sum(L.c.cost)).where(L.c.run_id == run_id)


def tier_usage_query(run_id: str) -> Select:
    """Calls, tokens and cost by the tier of the question they were made for."""
    return (
        select(
            Q.c.tier,
            func.count().label("calls"),
            func.sum(L.c.prompt_tokens).label("prompt_tokens"),
            func.sum(L.c.completion_tokens).label("completion_tokens"),
            func.sum(L.c.cost).label("cost"),
            func.count(L.c.cost).label("priced"),
        )
        .select_from(L.join(Q, (Q.c.run_id == L.c.run_id) & (Q.c.question_id == L.c.question_id)))
        .where(L.c.run_id == run_id)
        .group_by(Q.c.tier)
        .order_by(Q.c.tier)
    )


def _usage_query(run_id: str) -> Select:
    return (
        select(
            *(L.c[k] for k in USAGE_KEYS),
            func.count().label("calls"),
            func.sum(L.c.prompt_tokens).label("prompt_tokens"),
            func.sum(L.c.completion_tokens).label("completion_tokens"),
            func.sum(case((L.c.error.is_not(None), 1), else_=0)).label("errors"),
            func.sum(case((L.c.cache_hit, 1), else_=0)).label("cache_hits"),
            func.sum(L.c.latency_ms).label("latency_ms"),
            func.sum(L.c.cost).label("cost"),
            func.count(L.c.cost).label("priced"),
        )
        .where(L.c.run_id == run_id)
        .group_by(*(L.c[k] for k in USAGE_KEYS))
        .order_by(*(L.c[k] for k in USAGE_KEYS))
    )


@cache
def _cached_query() -> Select:
    """The cache lookup, built once so its SQL is compiled once (no LIMIT: SQLAlchemy would
    render its value as a parameter of its own, which the fast path does not pass)."""
    first = (
        select(func.min(L.c.id))
        .where(
            L.c.request_key == bindparam("request_key"),
            L.c.error.is_(None),
            L.c.reply.is_not(None),
            L.c.cache_hit.is_(False),
        )
        .scalar_subquery()
    )
    return select(L.c.id, L.c.reply, L.c.finish_reason).where(L.c.id == first)


def _fetch(stmt: Any) -> Plan:
    """A one-statement read plan."""
    rows = yield Step(stmt, fetch=True)
    return rows or []
