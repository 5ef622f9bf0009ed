"""A run at a glance, JSON-ready: what `status --json` prints and the end-of-run table shows."""

from __future__ import annotations

from typing import Any

from reasonmed.storage.db import Database
from reasonmed.storage.run_overview import run_overview


def run_status(db: Database, run_id: str) -> dict[str, Any]:
    """A run at a glance, JSON-ready: questions by status and tier, examples, calls and tokens.

    The numbers are composed in storage (`run_overview`), where the exports' dataset card reads
    them too, so a card and `status --json` cannot disagree.
    """
    return run_overview(db, run_id)
