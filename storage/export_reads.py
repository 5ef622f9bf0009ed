"""The rows an export streams: each kept example of a done question, joined with what its
question row records (source, source id, subject, gold letter), filtered in SQL.

Everything an export reads happens in one read transaction (`export_rows`), so the pass that
plans the splits and the pass that writes the examples see the same snapshot even while a run
is still adding questions. Rows are paged or streamed, never loaded whole, and only the question
JSON's four small fields are extracted, by the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Text, and_, cast, exists, or_, select

from reasonmed.storage.db import Database
from reasonmed.storage.schema import examples as E
from reasonmed.storage.schema import questions as Q

PAGE = 1000  # questions per page of examples, and rows per fetch of the question list

SOURCE = Q.c.question["source"].as_string()
SOURCE_ID = Q.c.question["source_id"].as_string()
SUBJECT = Q.c.question["subject"].as_string()
GOLD = Q.c.question["answer"].as_string()
MODEL = E.c.provenance["model"].as_string()
_OWN = and_(Q.c.run_id == E.c.run_id, Q.c.question_id == E.c.question_id)


@dataclass(frozen=True)
class ExampleFilter:
    """Which examples an export keeps; an empty tuple keeps every value of that field."""

    tiers: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    origins: tuple[str, ...] = ()
    models: tuple[str, ...] = ()  # generator alias, as the example's provenance records it


def _example_conditions(filt: ExampleFilter) -> list[Any]:
    conditions = []
    if filt.tiers:
        conditions.append(E.c.tier.in_(filt.tiers))
    if filt.origins:
        conditions.append(E.c.origin.in_(filt.origins))
    if filt.models:
        conditions.append(MODEL.in_(filt.models))
    return conditions


@dataclass(frozen=True, slots=True)
class ExportRow:
    """One example with its question's provenance, as an export reads it."""

    question_id: str
    slot: int
    tier: str
    origin: str
    cot: str
    summary: str
    instruction: str
    input: str
    provenance: dict[str, Any]
    source: str
    source_id: str
    subject: str
    answer: str  # the gold letter


_EXAMPLE_COLUMNS = (
    E.c.question_id,
    E.c.slot,
    E.c.tier,
    E.c.origin,
    E.c.cot,
    E.c.summary,
    E.c.instruction,
    E.c.input,
    # As text, decoded here by orjson: SQLAlchemy's per-row `json.loads` cost more than the
    # query. jsonb::text keeps JSONB's key order, so records match the original export's.
    cast(E.c.provenance, Text),
)


def _json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # a lone surrogate, which `json` tolerates
        return json.loads(text)


class ExportRows:
    """The queries of one export, all on one connection inside one read transaction.

    Examples are read a page of questions at a time (in input order, by the position index),
    then those questions' examples by primary key: the same plan on both databases, with no
    sort of the whole run, and each question's JSON read once rather than once per example.
    """

    def __init__(self, conn: Connection, run_id: str, filt: ExampleFilter) -> None:
        self._conn = conn
        self.run_id = run_id
        self.filter = filt

    def _done(self) -> list[Any]:
        where = [Q.c.run_id == self.run_id, Q.c.status == "done"]
        if self.filter.sources:
            where.append(SOURCE.in_(self.filter.sources))
        return where

    def _question_pages(self) -> Iterator[list[Any]]:
        # Keyed on (position, id): a run grown from a reordered file can repeat a position.
        position, qid = -1, ""
        while True:
            after = or_(Q.c.position > position, Q.c.question_id > qid)
            stmt = (
                select(Q.c.position, Q.c.question_id, SOURCE, SOURCE_ID, SUBJECT, GOLD)
                .where(*self._done(), Q.c.position >= position, after)
                .order_by(Q.c.position, Q.c.question_id)
                .limit(PAGE)
            )
            page = self._conn.execute(stmt).all()
            if not page:
                return
            yield page
            position, qid = page[-1][0], page[-1][1]

    def examples(self) -> Iterator[ExportRow]:
        """Examples of done questions in question order then slot, with their question's
        source, source id, subject and gold letter ("" when the row lacks one)."""
        conditions = _example_conditions(self.filter)
        for page in self._question_pages():
            ids = [q[1] for q in page]
            stmt = select(*_EXAMPLE_COLUMNS).where(
                E.c.run_id == self.run_id, E.c.question_id.in_(ids), *conditions
            )
            kept: dict[str, list[Any]] = {}
            for row in self._conn.execute(stmt).all():
                kept.setdefault(row[0], []).append(row)
            for _, qid, source, source_id, subject, gold in page:
                for row in sorted(kept.get(qid, ()), key=lambda r: r[1]):
                    yield ExportRow(
                        *row[:-1], _json(row[-1]), source or "", source_id or "", subject or "",
                        gold or "",
                    )  # fmt: skip

    def questions(self) -> Iterator[Any]:
        """(question_id, source, tier) of each done question with at least one kept example
        that passes the filter, in input order: the units a split assigns."""
        kept = exists().where(_OWN, *_example_conditions(self.filter))
        stmt = (
            select(Q.c.question_id, SOURCE.label("source"), Q.c.tier)
            .where(*self._done(), kept)
            .order_by(Q.c.position, Q.c.question_id)
        )
        result = self._conn.execution_options(yield_per=PAGE).execute(stmt)
        try:
            yield from result
        finally:
            result.close()

    def sources(self) -> list[str]:
        """The sources of the run's done questions ("" for none), for checking a filter."""
        stmt = select(SOURCE).where(Q.c.run_id == self.run_id, Q.c.status == "done").distinct()
        return sorted(row[0] or "" for row in self._conn.execute(stmt))

    def models(self) -> list[str]:
        """The generator aliases its done questions' examples name, for checking a filter."""
        stmt = (
            select(MODEL)
            .join(Q, _OWN)
            .where(E.c.run_id == self.run_id, Q.c.status == "done")
            .distinct()
        )
        return sorted(row[0] for row in self._conn.execute(stmt) if row[0] is not None)


@contextmanager
def export_rows(db: Database, run_id: str, filt: ExampleFilter) -> Iterator[ExportRows]:
    """The run's export queries inside one read transaction (one snapshot)."""
    with db.connect(write=False) as conn:
        yield ExportRows(conn, run_id, filt)
