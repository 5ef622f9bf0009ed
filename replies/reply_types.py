"""What reading a reply can yield besides an agent's output: why it failed, or the answer it names.

Shared by the agents and the evals, so a failure recorded by the verifier and one recorded by the
judge are the same record.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

EXCERPT_CHARS = 200
SPAN_CHARS = 160

FailureKind = Literal["no_json", "invalid_json", "schema", "empty"]


class ParseFailure(BaseModel):
    """Why a reply could not be parsed; stored and routed on instead of a fabricated result.

    kind: "empty" (blank reply), "no_json" (no object in it), "invalid_json" (an object that no
    repair could read) or "schema" (valid JSON with missing or unacceptable fields). The excerpt is
    cut to 200 characters so a failure row stays small; the full reply lives in the call log.
    """

    model_config = ConfigDict(frozen=True)

    kind: FailureKind
    detail: str
    excerpt: str = ""

    @field_validator("excerpt", mode="before")
    @classmethod
    def _cut_excerpt(cls, value: Any) -> str:
        """Cut instead of rejecting: building a failure must never fail."""
        return str(value if value is not None else "")[:EXCERPT_CHARS]


class AnswerExtraction(BaseModel):
    """The option a chain of thought concludes with, read by rules, not by a model.

    letter is None when nothing conclusive was found or the conclusion names two answers. method
    names the rule: "final_answer_line" (a "Final answer:"/"Answer:" line or a boxed answer),
    "answer_statement" ("the answer is B", "correct option: C", "the most likely diagnosis is ..."),
    "option_declared_correct" ("Option C is the correct answer"), "bare_letter" (a last line that is
    only an option), "option_text" (any of these naming the option by its text only), "conflict",
    or "none". A "reasoning:" prefix means the visible answer was inconclusive and the rule matched
    inside the closed reasoning block instead. span is the matched text, shortened.
    """

    model_config = ConfigDict(frozen=True)

    letter: str | None
    method: str
    span: str = ""

    @field_validator("span", mode="before")
    @classmethod
    def _cut_span(cls, value: Any) -> str:
        return str(value if value is not None else "")[:SPAN_CHARS]
