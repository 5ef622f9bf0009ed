"""Reading model replies: reasoning wrappers and typed verifier/ranker/judge outputs.

Every public function here is total: bad model output becomes a ParseFailure (or an empty part),
never an exception, so one odd reply cannot crash a graph node. Answer extraction from chains of
thought lives in answers.py, JSON repair in json_repair.py.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from pydantic import ValidationError

from reasonmed.agents.json_repair import json_objects, parse_json_object
from reasonmed.agents.reasoning_text import clean_cot, reasoning_parts, split_reasoning
from reasonmed.agents.schemas import (
    FailureKind,
    JudgeScore,
    ParseFailure,
    Score,
    Verdict,
    VerdictLabel,
)

ScoreT = TypeVar("ScoreT", Score, JudgeScore)

__all__ = [
    "clean_cot",
    "parse_json_object",
    "parse_judge_score",
    "parse_score",
    "parse_verdict",
    "reasoning_parts",
    "split_reasoning",
]

_VERDICT_KEYS = ("verdict", "judgement", "judgment", "result", "decision", "finalverdict")
_REASON_KEYS = ("reason", "reasoning", "explanation", "rationale", "justification", "reasons")
_SCORE_KEYS = ("score", "rating", "qualityscore", "finalscore", "grade")
_JUSTIFICATION_KEYS = ("justification", "reason", "reasoning", "explanation", "rationale")
_VERDICT_WORDS: dict[str, VerdictLabel] = {"correct": "Correct", "right": "Correct"}
_VERDICT_WORDS |= dict.fromkeys(("error", "errors", "incorrect", "wrong", "not correct"), "Error")
_NUMBER = re.compile(r"(\d{1,3})(?:\.0+)?\s*(?:/\s*(\d{1,3}))?\s*(?:points?)?")


def _field(obj: dict[str, Any], names: tuple[str, ...]) -> tuple[bool, Any]:
    """Look a field up by any of its accepted names, ignoring case and separators."""
    normalized = {re.sub(r"[\s_-]", "", str(key).lower()): value for key, value in obj.items()}
    for name in names:
        if name in normalized:
            return True, normalized[name]
    return False, None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(_text(item) for item in value)
    return value if isinstance(value, str) else json.dumps(value)


def _verdict_word(value: Any) -> VerdictLabel | None:
    if not isinstance(value, str):
        return None
    words = re.sub(r"[^a-z]+", " ", value.lower()).strip()
    return _VERDICT_WORDS.get(words)


def _failure(kind: FailureKind, detail: str, text: str) -> ParseFailure:
    return ParseFailure(kind=kind, detail=detail, excerpt=text if isinstance(text, str) else "")


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
        has_verdict, raw = _field(obj, _VERDICT_KEYS)
        word = _verdict_word(raw)
        if word is not None:
            return Verdict(verdict=word, reason=_text(_field(obj, _REASON_KEYS)[1]))
        problem = problem or (
            f"unrecognised verdict value {raw!r}"[:120] if has_verdict else "no verdict field"
        )
    return _failure("schema", problem, text)


def _score_value(value: Any, maximum: int) -> int | str:
    """An integer score from an int, an integral float, "4", "4/5" or "8 points"; else a problem."""
    if isinstance(value, bool):
        return f"boolean score {value!r}"
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        match = _NUMBER.fullmatch(re.sub(r"[*`\s]+$|^[*`\s]+|\.$", "", value))
        if match and (match.group(2) is None or int(match.group(2)) == maximum):
            return int(match.group(1))
    return f"unreadable score {value!r}"[:120]


def _parse_scored(text: str, model: type[ScoreT], maximum: int) -> ScoreT | ParseFailure:
    """Shared reading of the ranker's and the judge's replies; the model enforces the range."""
    found, failure = json_objects(text)
    if failure is not None:
        return failure
    problem = ""
    for obj in found:
        has_score, raw = _field(obj, _SCORE_KEYS)
        if not has_score:
            problem = problem or "no score field"
            continue
        value = _score_value(raw, maximum)
        if isinstance(value, str):
            problem = problem or value
            continue
        justification = _text(_field(obj, _JUSTIFICATION_KEYS)[1])
        try:
            return model(score=value, justification=justification)
        except ValidationError:
            problem = problem or f"score {value} out of range for {model.__name__}"
    return _failure("schema", problem, text)


def parse_score(text: str) -> Score | ParseFailure:
    """The quality ranker's 0-5 score (keys score/rating, justification/reason/...).

    Numeric strings ("4", "4/5") are accepted; another denominator, a fraction, or a value outside
    0-5 is a schema failure, never clamped.
    """
    return _parse_scored(text, Score, 5)


def parse_judge_score(text: str) -> JudgeScore | ParseFailure:
    """The evaluation judge's 1-10 score, read like parse_score ("8", "8/10")."""
    return _parse_scored(text, JudgeScore, 10)
