"""What the Python API returns: the data the CLI prints, as pydantic models.

Shapes follow the CLI's JSON (`status --json`, `trace --json`) field for field, so a notebook and
a shell script read the same names.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class FailedQuestion(BaseModel):
    """A question that failed in this pass (transport errors after retries); a rerun retries it."""

    question_id: str
    reason: str


class RunSummary(BaseModel):
    """How a `run` ended: questions by state, the ones that failed, whether all are final."""

    run_id: str
    db: str
    counts: dict[str, int]
    failed: list[FailedQuestion]
    complete: bool  # every question done or rejected
    budget_reached: bool = False

    @property
    def finished(self) -> int:
        """Questions that reached a final state (done or rejected)."""
        return self.counts.get("done", 0) + self.counts.get("rejected", 0)


class RunStatus(BaseModel):
    """A run at a glance: `reasonmed status --json`."""

    model_config = ConfigDict(extra="allow")

    run_id: str
    status: str
    created_at: str
    updated_at: str
    input_path: str | None
    config_hash: str
    questions: dict[str, int]
    total_questions: int
    tiers: dict[str, int]
    examples: int
    calls: dict[str, Any]
    cost: dict[str, Any]


class QuestionTrace(BaseModel):
    """One question's history: `reasonmed trace --json` (its `schema` names the version)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    trace_schema: str
    run_id: str
    question_id: str
    thread_id: str
    status: str
    tier: str | None
    outcome: dict[str, Any] | None
    question: dict[str, Any]
    steps: list[dict[str, Any]]
    branches: list[dict[str, Any]]
    examples: list[dict[str, Any]]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QuestionTrace:
        """From `build_trace`'s document (its `schema` key is `trace_schema` here: pydantic
        reserves the name)."""
        fields = {key: value for key, value in data.items() if key != "schema"}
        return cls.model_validate({"trace_schema": data["schema"], **fields})


class ExportResult(BaseModel):
    """What `export` wrote: examples per split (train first), the files, the dataset folder."""

    examples: dict[str, int]
    files: dict[str, str]
    hf_dir: str | None = None
    hub_url: str | None = None

    @property
    def total(self) -> int:
        """Examples written, over all splits."""
        return sum(self.examples.values())
