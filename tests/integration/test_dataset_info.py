"""The card's licence and languages come from the run config's `dataset` section, which is not
part of the config hash: editing it never stops a run, and the stored config follows it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reasonmed.core.config import load_config
from reasonmed.exports.card_facts import run_facts
from reasonmed.graph.run_session import ConfigSource, resolve_config
from reasonmed.storage.db import Database
from reasonmed.storage.runs import RunStore
from tests.support.pipeline import MOCK_CONFIG


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database.from_url(db_url)
    yield database
    database.close()


def test_the_dataset_section_is_the_cards_and_outside_the_hash(db: Database) -> None:
    store = RunStore(db)
    first = resolve_config(store, ConfigSource(run_id="r", path=MOCK_CONFIG, questions="q"))
    assert run_facts(db, "r").license == "unknown" and run_facts(db, "r").languages == ["en"]

    edited = ("dataset.license=cc-by-4.0", 'dataset.languages=["en", "fr"]')
    source = ConfigSource(run_id="r", path=MOCK_CONFIG, overrides=edited, questions="q")
    second = resolve_config(store, source)  # no ConfigChangedError: not a change of the data
    assert second.config_hash() == first.config_hash()
    run = store.get_run("r")
    assert run is not None and run.config["dataset"]["license"] == "cc-by-4.0"
    assert [e["event"] for e in run.history if e["event"].startswith("config")] == ["config-update"]
    facts = run_facts(db, "r")
    assert (facts.license, facts.languages) == ("cc-by-4.0", ["en", "fr"])
    assert load_config(MOCK_CONFIG, edited).dataset.license == "cc-by-4.0"
