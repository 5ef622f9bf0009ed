"""LangGraph's own conformance suite against SQLAlchemySaver, on SQLite and PostgreSQL.

The suite only calls the async family and counts a capability only when its async method is
overridden, so it runs twice: natively, and through an adapter whose async methods call the sync
family, which covers `put`, `get_tuple`, `list`, ... as LangGraph's `invoke` uses them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES

from reasonmed.storage import SQLAlchemySaver
from tests.support.databases import drop_postgres_schema, fresh_postgres_url
from tests.support.sync_adapter import SyncToAsyncAdapter

MIN_TESTS = 58


def _factory(
    make_url: Callable[[], tuple[str, Callable[[], None]]], wrap: bool
) -> Callable[[], AsyncIterator[object]]:
    async def factory() -> AsyncIterator[object]:
        url, cleanup = make_url()
        saver = SQLAlchemySaver.from_url(url)
        try:
            yield SyncToAsyncAdapter(saver) if wrap else saver
        finally:
            await saver.aclose()
            cleanup()

    return factory


def _sqlite(tmp_path) -> Callable[[], tuple[str, Callable[[], None]]]:
    def make() -> tuple[str, Callable[[], None]]:
        return f"sqlite:///{tmp_path / (uuid.uuid4().hex + '.db')}", lambda: None

    return make


def _postgres() -> tuple[str, Callable[[], None]]:
    url, schema = fresh_postgres_url()
    return url, lambda: drop_postgres_schema(schema)


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
@pytest.mark.parametrize("family", ["async", "sync"])
async def test_conformance(database: str, family: str, tmp_path, request) -> None:
    if database == "postgres":
        request.getfixturevalue("postgres_url")  # skips, or fails under CI, without Postgres
    make = _sqlite(tmp_path) if database == "sqlite" else _postgres
    name = f"SQLAlchemySaver-{database}-{family}-{uuid.uuid4().hex[:6]}"
    registered = checkpointer_test(name=name)(_factory(make, wrap=family == "sync"))
    report = await validate(registered)
    failures = {
        cap: result.failures for cap, result in report.results.items() if result.tests_failed
    }
    assert not failures, failures
    assert report.passed_all_base()
    assert report.passed_all()
    ran = sum(result.tests_passed for result in report.results.values())
    assert ran >= MIN_TESTS, f"only {ran} conformance tests ran"
    detected = {cap for cap, result in report.results.items() if result.detected}
    assert detected == {cap.value for cap in ALL_CAPABILITIES}, detected
