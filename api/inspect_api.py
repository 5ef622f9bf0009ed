"""`reasonmed.status` and `reasonmed.trace`: what a run holds, read from its database."""

from __future__ import annotations

from reasonmed.api_models import QuestionTrace, RunStatus
from reasonmed.graph.run_status import run_status
from reasonmed.graph.runner import DEFAULT_DB
from reasonmed.graph.trace import build_trace
from reasonmed.storage.db import Database


def status(run_id: str, *, db: str = DEFAULT_DB) -> RunStatus:
    """Questions by state and tier, examples, calls, tokens and cost; LookupError if no run."""
    database = Database.from_url(db)
    try:
        return RunStatus.model_validate(run_status(database, run_id))
    finally:
        database.close()


def trace(run_id: str, question_id: str, *, db: str = DEFAULT_DB) -> QuestionTrace:
    """One question's steps, model calls, branches and examples; LookupError if unknown."""
    database = Database.from_url(db)
    try:
        return QuestionTrace.from_json(build_trace(database, run_id, question_id))
    finally:
        database.close()
