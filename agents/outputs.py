"""Typed outputs of the grading agents: the verifier's verdict, the ranker's and the judge's scores.

Every such agent returns one of these models, or a ParseFailure when the model's reply cannot be
read, so the graph routes on data instead of on guesses (the reference scripts turned unreadable
verifier replies into a fake "Error").
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

VerdictLabel = Literal["Correct", "Error"]


class Verdict(BaseModel):
    """The verifier's judgement of one CoT; each Error pushes the question toward a harder tier."""

    model_config = ConfigDict(frozen=True)

    verdict: VerdictLabel
    reason: str


class Score(BaseModel):
    """The quality ranker's grade of a correct chain of thought; the top two are kept."""

    model_config = ConfigDict(frozen=True)

    score: int = Field(ge=0, le=5, strict=True)
    justification: str


class JudgeScore(BaseModel):
    """The evaluation judge's 1-10 score of a response, averaged over a sample in reports."""

    model_config = ConfigDict(frozen=True)

    score: int = Field(ge=1, le=10, strict=True)
    justification: str
