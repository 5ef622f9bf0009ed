"""Evals and their items: what `reasonmed eval` ran with, and every result it has so far.

An item's result is written the moment it is known, in one row, so an eval interrupted at any
point continues where it stopped: the items already stored are never sent to a model again. The
eval row keeps the config (secrets only as env var names) and the prompt hashes, so a result can
always be traced to exactly what produced it, and a rerun with something else can be refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from reasonmed.core.question import Question
from reasonmed.storage.call_log import now_iso, strip_nul
from reasonmed.storage.db import Database, Plan, Step
from reasonmed.storage.schema import eval_items as I
from reasonmed.storage.schema import evals as V
from reasonmed.storage.schema import examples as E
from reasonmed.storage.schema import questions as Q

EVAL_STATUSES = ("running", "complete", "incomplete")
_CHUNK = 500  # ids per IN (...) query


@dataclass(frozen=True, slots=True)
class EvalRow:
    """One eval: its kind, defining parameters, config and prompt hashes, and status."""

    eval_id: str
    kind: str
    created_at: str
    updated_at: str
    params: dict[str, Any]
    config: dict[str, Any]
    config_hash: str
    prompt_hashes: dict[str, str]
    status: str


@dataclass(frozen=True, slots=True)
class EvalItemRow:
    """One evaluated item: what was evaluated and what came out (call_id: the deciding call)."""

    eval_id: str
    item_id: str
    position: int
    input: dict[str, Any]
    result: dict[str, Any]
    call_id: int | None
    created_at: str


def _rows(stmt: Any) -> Plan:
    rows = yield Step(stmt, fetch=True)
    return rows or []


def _write(stmt: Any) -> Plan:
    yield Step(stmt)


class EvalStore:
    """`rm_evals` and `rm_eval_items` of one database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._ins = postgresql.insert if db.dialect == "postgresql" else sqlite.insert

    def get_eval(self, eval_id: str) -> EvalRow | None:
        """The eval, or None if no eval has that id."""
        rows = self.db.run(_rows(select(V).where(V.c.eval_id == eval_id)), write=False)
        return EvalRow(**dict(rows[0]._mapping)) if rows else None

    def list_evals(self, kind: str | None = None) -> list[EvalRow]:
        """Every eval (of one kind, if given), oldest first."""
        stmt = select(V).order_by(V.c.created_at, V.c.eval_id)
        if kind is not None:
            stmt = stmt.where(V.c.kind == kind)
        return [EvalRow(**dict(r._mapping)) for r in self.db.run(_rows(stmt), write=False)]

    def create_eval(
        self,
        eval_id: str,
        kind: str,
        params: dict[str, Any],
        config: dict[str, Any],
        config_hash: str,
        prompt_hashes: dict[str, str],
    ) -> EvalRow:
        """Record a new eval; if another process created it first, return that one instead.

        The caller compares what comes back with what it meant to create, so a race between two
        different definitions of one eval id is refused the same way as a plain rerun.
        """
        now = now_iso()
        values = {
            "eval_id": eval_id,
            "kind": kind,
            "created_at": now,
            "updated_at": now,
            "params": params,
            "config": config,
            "config_hash": config_hash,
            "prompt_hashes": prompt_hashes,
            "status": "running",
        }
        self.db.run(_write(self._ins(V).values(values).on_conflict_do_nothing()), write=True)
        row = self.get_eval(eval_id)
        assert row is not None  # just inserted, or inserted by someone else
        return row

    def set_status(self, eval_id: str, status: str) -> None:
        """Mark the eval running, complete (every item has a result) or incomplete."""
        if status not in EVAL_STATUSES:
            raise ValueError(f"unknown eval status {status!r}")
        stmt = update(V).where(V.c.eval_id == eval_id).values(status=status, updated_at=now_iso())
        self.db.run(_write(stmt), write=True)

    def items(self, eval_id: str) -> list[EvalItemRow]:
        """The eval's stored items in input order."""
        stmt = select(I).where(I.c.eval_id == eval_id).order_by(I.c.position, I.c.item_id)
        return [EvalItemRow(**dict(r._mapping)) for r in self.db.run(_rows(stmt), write=False)]

    def done_ids(self, eval_id: str) -> set[str]:
        """Ids of the items that already have a result (skipped by a rerun)."""
        stmt = select(I.c.item_id).where(I.c.eval_id == eval_id)
        return {r[0] for r in self.db.run(_rows(stmt), write=False)}

    def _item_stmt(
        self,
        eval_id: str,
        item_id: str,
        position: int,
        input: dict[str, Any],
        result: dict[str, Any],
        call_id: int | None,
    ) -> Any:
        values = {
            "eval_id": eval_id,
            "item_id": item_id,
            "position": position,
            "input": strip_nul(input),
            "result": strip_nul(result),
            "call_id": call_id,
            "created_at": now_iso(),
        }
        # A result is final: a second writer of the same item (two processes) keeps the first.
        return self._ins(I).values(values).on_conflict_do_nothing()

    def add_item(self, eval_id: str, item_id: str, position: int, **fields: Any) -> None:
        """Store one item's result (fields: input, result, call_id)."""
        stmt = self._item_stmt(eval_id, item_id, position, **fields)
        self.db.run(_write(stmt), write=True)

    async def aadd_item(self, eval_id: str, item_id: str, position: int, **fields: Any) -> None:
        """`add_item` without blocking the event loop."""
        stmt = self._item_stmt(eval_id, item_id, position, **fields)
        await self.db.arun(_write(stmt), write=True)


# --- what a score eval reads from a run ----------------------------------------------------


def example_keys(db: Database, run_id: str) -> list[tuple[str, int]]:
    """(question id, slot) of every exported example of the run, in export order.

    Only the keys: a sample of 3,000 from hundreds of thousands of examples is drawn from these,
    and only the sampled texts are read.
    """
    stmt = (
        select(E.c.question_id, E.c.slot)
        .join(Q, and_(Q.c.run_id == E.c.run_id, Q.c.question_id == E.c.question_id))
        .where(E.c.run_id == run_id, Q.c.status == "done")
        .order_by(Q.c.position, E.c.slot)
    )
    return [(r[0], int(r[1])) for r in db.run(_rows(stmt), write=False)]


def run_questions(db: Database, run_id: str, question_ids: Iterable[str]) -> dict[str, Question]:
    """The validated questions of a run by id (the gold answers the examples must reach)."""
    wanted = sorted(set(question_ids))
    found: dict[str, Question] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        stmt = select(Q.c.question_id, Q.c.question).where(
            Q.c.run_id == run_id, Q.c.question_id.in_(chunk)
        )
        for row in db.run(_rows(stmt), write=False):
            found[row[0]] = Question.model_validate(row[1])
    return found
