"""The graph's state: plain typed dicts, merged by reducers.

State holds ids, verdicts and the chosen texts, not copies of every prompt and reply (those live
in the call log). Plain dicts rather than pydantic models keep checkpoints readable by the strict
msgpack serializer without an allowlist, and make every value easy to show in a trace.

Reasoning paths are keyed by `index` (generator order: model-major, then temperature) and kept
chains of thought by `slot` (0 .. keep-1): fan-out tasks each return their own record, and the
reducers merge records field by field, so parallel tasks never overwrite each other.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

# typing_extensions' TypedDict: pydantic (and so the LangGraph server's schema endpoints) can only
# build a JSON schema from it on Python < 3.12.
from typing_extensions import TypedDict

Tier = Literal["easy", "medium", "difficult"]
Origin = Literal["generated", "refined", "regenerated"]


class PathRecord(TypedDict, total=False):
    """One generated chain of thought and how it was judged."""

    index: int
    model: str  # model alias from the config
    temperature: float
    cot: str  # the training-ready text (`clean_cot` of the reply)
    answer: str | None  # option letter extracted deterministically, None if none
    answer_method: str
    answer_ok: bool | None  # extracted answer == gold (None when the check is off)
    verdict: Literal["Correct", "Error"] | None  # the LLM verifier's; None if unparseable
    reason: str
    verify_failure: str | None  # "kind: detail" when the verifier reply never parsed
    correct: bool  # counts as Correct: verdict Correct and (answer_ok or check off)
    generate_call: int | None  # call log ids, for the trace
    verify_call: int | None


class ScoreRecord(TypedDict, total=False):
    """The quality ranker's score for one Correct path."""

    index: int
    score: int | None  # 0-5; None when the reply never parsed
    justification: str
    failure: str | None
    call: int | None


class KeptRecord(TypedDict, total=False):
    """A chain of thought that will become one training example."""

    slot: int
    source_index: int  # the path it came from
    origin: Origin
    cot: str
    score: int | None
    verdict: str
    reason: str
    # Refinement / regeneration: the latest candidate text, and how it fared.
    candidate: str | None
    attempts: int
    status: Literal["ready", "pending", "failed"]
    note: str  # what happened, in words, e.g. "refined text failed re-verification twice"
    summary: str
    calls: list[int]


class Outcome(TypedDict, total=False):
    """How the question ended."""

    status: Literal["done", "rejected"]
    reason: str
    examples: int


def _merge_by(key: str, left: list[dict[str, Any]], right: list[dict[str, Any]]) -> list[Any]:
    merged: dict[Any, dict[str, Any]] = {item[key]: dict(item) for item in left or []}
    for item in right or []:
        merged.setdefault(item[key], {}).update(item)
    return [merged[k] for k in sorted(merged)]


def merge_paths(left: list[PathRecord], right: list[PathRecord]) -> list[PathRecord]:
    """Merge path records by index, later fields winning."""
    return _merge_by("index", left, right)  # type: ignore[arg-type, return-value]


def merge_scores(left: list[ScoreRecord], right: list[ScoreRecord]) -> list[ScoreRecord]:
    """Merge ranker scores by path index."""
    return _merge_by("index", left, right)  # type: ignore[arg-type, return-value]


def merge_kept(left: list[KeptRecord], right: list[KeptRecord]) -> list[KeptRecord]:
    """Merge kept records by slot, later fields winning."""
    return _merge_by("slot", left, right)  # type: ignore[arg-type, return-value]


class QuestionState(TypedDict, total=False):
    """Everything the graph knows about one question."""

    question: dict[str, Any]  # `Question.model_dump()`
    paths: Annotated[list[PathRecord], merge_paths]
    errors: int
    tier: Tier
    tier_reason: str  # the arithmetic, e.g. "6 of 9 judged Error: medium"
    scores: Annotated[list[ScoreRecord], merge_scores]
    kept: Annotated[list[KeptRecord], merge_kept]
    outcome: Outcome


class GenerateTask(TypedDict):
    """Payload of one generation task (a `Send`)."""

    question: dict[str, Any]
    index: int
    model: str
    temperature: float


class VerifyTask(TypedDict):
    """Payload of one verification task."""

    question: dict[str, Any]
    path: PathRecord


class KeptTask(TypedDict):
    """Payload of one refine / regenerate / re-verify / summarize task."""

    question: dict[str, Any]
    tier: Tier
    kept: KeptRecord
    error_reasons: list[str]  # the verifier's reasons from the other paths (refine/regenerate)
