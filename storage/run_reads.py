"""Read-only queries behind traces and reports: a run's questions, examples and call usage.

Kept here so that the layers above build their views from plain rows and hold no SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select

from reasonmed.storage.db import Database, Plan, Step
from reasonmed.storage.schema import examples as E
from reasonmed.storage.schema import llm_calls as L
from reasonmed.storage.schema import questions as Q


def _fetch(stmt: Any) -> Plan:
    rows = yield Step(stmt, fetch=True)
    return rows or []


def first_question_ids(db: Database, run_id: str, limit: int) -> list[str]:
    """The ids of the run's first `limit` questions in input order (hints in error messages)."""
    stmt = select(Q.c.question_id).where(Q.c.run_id == run_id).order_by(Q.c.position).limit(limit)
    return [r[0] for r in db.run(_fetch(stmt), write=False)]


def question_rows(db: Database, run_id: str) -> list[Any]:
    """Every question row of the run, in input order."""
    return db.run(_fetch(select(Q).where(Q.c.run_id == run_id).order_by(Q.c.position)), write=False)


def question_examples(db: Database, run_id: str, question_id: str) -> list[dict[str, Any]]:
    """The examples stored for one question, by slot."""
    stmt = (
        select(E.c.slot, E.c.tier, E.c.origin, E.c.cot, E.c.summary, E.c.provenance)
        .where(E.c.run_id == run_id, E.c.question_id == question_id)
        .order_by(E.c.slot)
    )
    return [dict(r._mapping) for r in db.run(_fetch(stmt), write=False)]


def usage_by_question(db: Database, run_id: str) -> dict[str, dict[str, Any]]:
    """Calls, tokens and cost of each question of the run that made any call."""
    stmt = (
        select(
            L.c.question_id,
            func.count().label("calls"),
            func.sum(L.c.prompt_tokens).label("prompt_tokens"),
            func.sum(L.c.completion_tokens).label("completion_tokens"),
            func.sum(L.c.cost).label("cost"),
            func.count(L.c.cost).label("priced_calls"),
        )
        .where(L.c.run_id == run_id)
        .group_by(L.c.question_id)
    )
    return {
        r.question_id: {
            "calls": int(r.calls),
            "prompt_tokens": int(r.prompt_tokens or 0),
            "completion_tokens": int(r.completion_tokens or 0),
            "cost": float(r.cost or 0.0),
            "priced_calls": int(r.priced_calls or 0),
        }
        for r in db.run(_fetch(stmt), write=False)
    }


def reverify_verdicts(db: Database, run_id: str) -> list[tuple[str | None, str | None]]:
    """(tier, verdict or None) of every re-verification reply, in call order."""
    join = L.join(Q, and_(Q.c.run_id == L.c.run_id, Q.c.question_id == L.c.question_id))
    stmt = (
        select(Q.c.tier, L.c.parsed)
        .select_from(join)
        .where(L.c.run_id == run_id, L.c.node == "reverify", L.c.error.is_(None))
        .order_by(L.c.id)
    )
    rows = db.run(_fetch(stmt), write=False)
    return [(r.tier, (r.parsed or {}).get("verdict")) for r in rows]


@dataclass(frozen=True)
class ObservationRows:
    """Aggregates over every run in a database, for the estimate's observed inputs."""

    replies: list[Any]  # (node, agent, calls, completion tokens) of usable replies
    tiers: list[Any]  # (tier, errors, questions) of finished questions
    rounds: list[Any]  # (node, calls) of rewrite rounds of finished questions
    passes: list[Any]  # (origin, examples) of rewritten examples


def observation_rows(
    db: Database, rewrite_nodes: tuple[str, ...], rewrite_origins: tuple[str, ...]
) -> ObservationRows:
    """Reply sizes (calls with usage, no error, no cache hit), tiers, rewrite rounds and passes."""
    finished = Q.c.status.in_(("done", "rejected"))
    usable = and_(L.c.error.is_(None), L.c.cache_hit.is_(False), L.c.completion_tokens > 0)
    own = and_(L.c.run_id == Q.c.run_id, L.c.question_id == Q.c.question_id)
    replies = select(L.c.node, L.c.agent, func.count(), func.sum(L.c.completion_tokens))
    replies = replies.where(usable).group_by(L.c.node, L.c.agent)
    tiers = select(Q.c.tier, Q.c.errors, func.count()).where(finished, Q.c.errors.is_not(None))
    rounds = select(L.c.node, func.count()).join_from(L, Q, own)
    rounds = rounds.where(finished, L.c.error.is_(None), L.c.node.in_(rewrite_nodes))
    passes = select(E.c.origin, func.count()).where(E.c.origin.in_(rewrite_origins))
    with db.connect(write=False) as conn:
        return ObservationRows(
            replies=list(conn.execute(replies)),
            tiers=list(conn.execute(tiers.group_by(Q.c.tier, Q.c.errors))),
            rounds=list(conn.execute(rounds.group_by(L.c.node))),
            passes=list(conn.execute(passes.group_by(E.c.origin))),
        )
