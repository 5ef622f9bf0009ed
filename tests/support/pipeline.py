"""Helpers for end-to-end tests: the mock endpoint and config overrides pointing at it."""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy import text

from reasonmed.storage.db import Database

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ROOT / "examples" / "questions.jsonl"
MOCK_CONFIG = ROOT / "examples" / "config.mock.yaml"


def mock_overrides(base_url: str, config: Path = MOCK_CONFIG) -> list[str]:
    """`--set` overrides that point every model alias of `config` at `base_url`."""
    aliases = yaml.safe_load(config.read_text())["models"]
    return [f"models.{alias}.base_url={base_url}" for alias in aliases]


def query(db_url: str, sql: str) -> list[tuple]:
    """Rows of one SQL statement against a run's database (tests watching a run from outside)."""
    db = Database.from_url(db_url)
    try:
        with db.engines.sync.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        db.close()
