"""What one evaluated item ends as; stored as `rm_eval_items.result` and read back by reports.

Typed so a stored result is either a parsed outcome or a recorded failure, never a guess: an
examinee reply without a readable answer is `letter=None`, a judge reply that never parsed is
`score=None` with its `failure`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from reasonmed.replies.reply_types import ParseFailure


class ExamAnswer(BaseModel):
    """One held-out question answered by the examined model."""

    model_config = ConfigDict(frozen=True)

    source: str  # the question's `source`, "" when the file gave none
    gold: str
    letter: str | None  # what extract_answer read; None: no answer could be extracted
    method: str  # extract_answer's rule, "none" when nothing was found
    correct: bool


class JudgedItem(BaseModel):
    """One response after the deterministic checks and, unless blocked, the judge."""

    model_config = ConfigDict(frozen=True)

    blocked: list[str]  # checks.BLOCKING findings; non-empty means it was never judged
    flags: list[str]  # checks.FLAGS findings; judged anyway
    answer: str | None = None
    answer_checked: bool = False
    score: int | None = None  # 1-10; None when blocked or when no judge reply parsed
    justification: str = ""
    failure: ParseFailure | None = None  # why the last judge reply did not parse
    judge_replies: int = 0  # replies asked for (re-asks after an unparseable reply count)
    unparseable_replies: int = 0

    @property
    def judged(self) -> bool:
        return not self.blocked

    def stored(self) -> dict[str, Any]:
        """The JSON kept in the database."""
        return self.model_dump(mode="json")
