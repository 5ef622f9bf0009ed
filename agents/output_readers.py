"""Each grading agent's reader: its reply, as JSON or close to it, into its typed output.

Lenient about how a model spells a field or a value, strict about what it means: a verdict or a
score that cannot be read with certainty is a ParseFailure, never a guess.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import ValidationError

from reasonmed.agents.outputs import JudgeScore, Score, Verdict, VerdictLabel
from reasonmed.replies.parsing import (
    field_text,
    json_objects,
    lookup_field,
    schema_failure,
    score_value,
    split_reasoning,
)
from reasonmed.replies.reply_types import ParseFailure

ScoreT = TypeVar("ScoreT", Score, JudgeScore)

__all__ = ["parse_judge_score", "parse_score", "parse_verdict"]

_VERDICT_KEYS = ("verdict", "judgement", "judgment", "result", "decision", "finalverdict")
_REASON_KEYS = ("reason", "reasoning", "explanation", "rationale", "justification", "reasons")
_SCORE_KEYS = ("score", "rating", "qualityscore", "finalscore", "grade")
_JUSTIFICATION_KEYS = ("justification", "reason", "reasoning", "explanation", "rationale")
_VERDICT_WORDS: dict[str, VerdictLabel] = {"correct": "Correct", "right": "Correct"}
_VERDICT_WORDS |= dict.fromkeys(("error", "errors", "incorrect", "wrong", "not correct"), "Error")
# The placeholders of the prompts' example objects: a reply that copies the example judged
# nothing (a small model does this), so it is a failure, not a verdict or a score.
_PLACEHOLDERS = frozenset(
    {"one or two sentences explaining the verdict", "one sentence", "<integer 0-5>"}
)


def _copied_example(text: str) -> bool:
    return " ".join(text.lower().split()).strip(" .") in _PLACEHOLDERS


def _verdict_word(value: Any) -> VerdictLabel | None:
    if not isinstance(value, str):
        return None
    words = re.sub(r"[^a-z]+", " ", value.lower()).strip()
    return _VERDICT_WORDS.get(words)


def parse_verdict(text: str) -> Verdict | ParseFailure:
    """The verifier's verdict, from the first JSON object that carries an acceptable one.

    Keys: verdict/judgement/judgment/result/decision for the verdict, reason/reasoning/explanation/
    rationale/justification for the reason (missing reason -> ""). Values "correct"/"right" mean
    Correct and "error"/"incorrect"/"wrong" mean Error, in any case and with stray punctuation;
    anything else ("partially correct", a boolean) is a schema failure. Without JSON no verdict is
    guessed from prose, with one exception: a visible reply that is nothing but one of those
    words (markdown, quotes and a final period aside) is accepted, with an empty reason.
    """
    found, failure = json_objects(text)
    if failure is not None:
        visible = split_reasoning(text)[1]
        word = _verdict_word(visible) if failure.kind == "no_json" and len(visible) <= 40 else None
        return Verdict(verdict=word, reason="") if word else failure
    problem = ""
    for obj in found:
        has_verdict, raw = lookup_field(obj, _VERDICT_KEYS)
        word = _verdict_word(raw)
        if word is not None:
            reason = field_text(lookup_field(obj, _REASON_KEYS)[1])
            if _copied_example(reason):
                return schema_failure("schema", "the reply copies the prompt's example", text)
            return Verdict(verdict=word, reason=reason)
        problem = problem or (
            f"unrecognised verdict value {raw!r}"[:120] if has_verdict else "no verdict field"
        )
    return schema_failure("schema", problem, text)


def _parse_scored(text: str, model: type[ScoreT], maximum: int) -> ScoreT | ParseFailure:
    """Shared reading of the ranker's and the judge's replies; the model enforces the range."""
    found, failure = json_objects(text)
    if failure is not None:
        return failure
    problem = ""
    for obj in found:
        has_score, raw = lookup_field(obj, _SCORE_KEYS)
        if not has_score:
            problem = problem or "no score field"
            continue
        value = score_value(raw, maximum)
        if isinstance(value, str):
            problem = problem or value
            continue
        justification = field_text(lookup_field(obj, _JUSTIFICATION_KEYS)[1])
        if _copied_example(justification):
            return schema_failure("schema", "the reply copies the prompt's example", text)
        try:
            return model(score=value, justification=justification)
        except ValidationError:
            problem = problem or f"score {value} out of range for {model.__name__}"
    return schema_failure("schema", problem, text)


def parse_score(text: str) -> Score | ParseFailure:
    """The quality ranker's 0-5 score (keys score/rating, justification/reason/...).

    Numeric strings ("4", "4/5") are accepted; another denominator, a fraction, or a value outside
    0-5 is a schema failure, never clamped.
    """
    return _parse_scored(text, Score, 5)


def parse_judge_score(text: str) -> JudgeScore | ParseFailure:
    """The evaluation judge's 1-10 score, read like parse_score ("8", "8/10")."""
    return _parse_scored(text, JudgeScore, 10)
