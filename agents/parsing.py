"""Reading model replies: reasoning wrappers, JSON repair, typed verifier/ranker/judge outputs.

Every public function here is total: bad model output becomes a ParseFailure (or an empty part),
never an exception, so one odd reply cannot crash a graph node. Answer extraction from chains of
thought lives in answers.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, TypeVar

from pydantic import ValidationError

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

_THINK_OPEN = re.compile(r"<think(?:ing)?>", re.I)
_THINK_CLOSE = re.compile(r"</think(?:ing)?>", re.I)
_HEADER = r"^[ \t]*#{{1,4}}[ \t]*\**[ \t]*{name}[ \t]*\**[ \t]*:?[ \t]*\**[ \t]*$"
_THINKING_HEADER = re.compile(_HEADER.format(name="thinking"), re.I | re.M)
_FINAL_HEADER = re.compile(_HEADER.format(name=r"final[ \t]+response"), re.I | re.M)
_STRAY_TAGS = re.compile(
    r"</?(?:think|thinking|reasoning|answer)>|<\|(?:im_end|im_start|endoftext|eot_id)\|>"
    r"|<｜end▁of▁sentence｜>|<｜begin▁of▁sentence｜>",
    re.I,
)
_BLANK_RUNS = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


def _segments(text: str) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    """(reasoning pieces, visible pieces, closed) as raw, unedited slices of text."""
    opened = _THINK_OPEN.search(text)
    closed = _THINK_CLOSE.search(text, opened.end() if opened else 0)
    if opened or closed:
        before = text[: opened.start()] if opened else ""
        inner = text[opened.end() if opened else 0 : closed.start() if closed else len(text)]
        return (inner,), (before, text[closed.end() :] if closed else ""), bool(closed)
    thinking = _THINKING_HEADER.search(text)
    final_header = _FINAL_HEADER.search(text, thinking.end() if thinking else 0)
    before = text[: thinking.start()] if thinking else ""
    if final_header:
        inner = text[thinking.end() if thinking else 0 : final_header.start()]
        return (before, inner), (text[final_header.end() :],), True
    if thinking:
        return (before, text[thinking.end() :]), (), False
    return (), (text,), True


def reasoning_parts(text: str) -> tuple[str, str, bool]:
    """split_reasoning plus whether the reasoning block was closed.

    An unclosed `<think>` or a `## Thinking` without `## Final Response` means the model never
    finished thinking (usually max_tokens), which answer extraction must not read as a conclusion.
    """
    reasoning, final, closed = _segments(text if isinstance(text, str) else "")
    return _join(*reasoning), _join(*final), closed


def split_reasoning(text: str) -> tuple[str, str]:
    """Separate hidden reasoning from the visible answer: (reasoning, final_part).

    Handles DeepSeek-R1 `<think>...</think>` (also an unclosed `<think>`, or only `</think>` when
    the chat template already opened the block) and HuatuoGPT-o1 `## Thinking` / `## Final
    Response`. Without a wrapper the reasoning is "" and the final part is the whole text. Parts
    are only whitespace-stripped, never edited, so JSON inside them survives byte for byte.
    """
    reasoning, final, _ = reasoning_parts(text)
    return reasoning, final


def clean_cot(text: str) -> str:
    """The training-ready CoT: reasoning and final part joined by a blank line.

    Keeps all reasoning content (an R1 reply's thinking followed by its final part; a Huatuo
    reply's Thinking then Final Response content, without the `##` headers); drops wrapper tags,
    chat special tokens, surrounding whitespace and runs of more than one blank line.
    """
    reasoning, final = split_reasoning(text)
    joined = _join(reasoning, final)
    return _BLANK_RUNS.sub("\n\n", _STRAY_TAGS.sub("", joined)).strip()


def _join(*parts: str) -> str:
    return "\n\n".join(part.strip() for part in parts if part.strip())


# --- JSON repair -----------------------------------------------------------------------------

_FENCE = re.compile(r"```[ \t]*[A-Za-z0-9_+-]*[ \t]*\n?(.*?)```", re.S)
_MAX_STARTS = 256
_SCAN_BUDGET = 1_000_000  # characters scanned per part of a reply; bounds pathological inputs
_MAX_OBJECTS = 64
_DOUBLE_OPEN = {'"': '"', "“": '“”"', "”": '“”"'}
_SINGLE_OPEN = {"'": "'", "‘": "‘’'", "’": "‘’'"}
_LITERALS = {"true": "true", "false": "false", "none": "null", "null": "null", "nan": "null"}
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _closes_string(text: str, index: int) -> bool:
    """A quote ends a string only where JSON structure may follow, so apostrophes and stray inner
    quotes in model prose stay inside the string."""
    rest = text[index + 1 :].lstrip()
    return not rest or rest[0] in ",:}]"


def _matching_brace(text: str, start: int, stop: int) -> int | None:
    """Index of the `}` closing the object opened at start, skipping braces inside strings."""
    depth, quote, index, previous = 0, "", start, ""
    while index < stop:
        char = text[index]
        if quote:
            if char == "\\":
                index += 2
                continue
            if char == quote and (quote == '"' or _closes_string(text, index)):
                quote, previous = "", char
        elif char == '"' or (char == "'" and previous in "{[,:"):
            quote = char
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return index if char == "}" else None
        if not char.isspace():
            previous = char if not quote or char == quote else previous
        index += 1
    return None


def _repair(candidate: str) -> str:
    """Rewrite Python-dict style / loosely quoted JSON into strict JSON."""
    out: list[str] = []
    closers = ""
    index = 0
    while index < len(candidate):
        char = candidate[index]
        if closers:
            if char == "\\" and index + 1 < len(candidate):
                escaped = candidate[index + 1]
                if escaped in "'‘’":
                    out.append(escaped)
                elif escaped in '"\\/bfnrtu':
                    out.append("\\" + escaped)
                else:
                    out.append("\\\\" + escaped)
                index += 2
                continue
            if char in closers and _closes_string(candidate, index):
                out.append('"')
                closers = ""
            elif char == '"':
                out.append('\\"')
            elif ord(char) < 0x20:
                out.append(json.dumps(char)[1:-1])
            else:
                out.append(char)
        elif char in _DOUBLE_OPEN or char in _SINGLE_OPEN:
            closers = _DOUBLE_OPEN.get(char) or _SINGLE_OPEN[char]
            out.append('"')
        elif char == ",":
            rest = candidate[index + 1 :].lstrip()
            if rest and rest[0] not in "}]":
                out.append(char)
        elif char.isalpha() or char == "_":
            word = _IDENT.match(candidate, index)
            token = word.group() if word else char
            out.append(_LITERALS.get(token.lower()) or json.dumps(token))
            index += len(token)
            continue
        else:
            out.append(char)
        index += 1
    return "".join(out)


def _load(candidate: str) -> tuple[dict[str, Any] | None, bool, str]:
    """Parse one candidate, strictly first, then repaired: (object, was_strict, error detail)."""
    error = ""
    for strict in (True, False):
        try:
            value = json.loads(candidate if strict else _repair(candidate))
        except (ValueError, RecursionError) as exc:
            error = error or str(exc)[:120]
            continue
        if isinstance(value, dict):
            return value, strict, ""
        error = error or f"top-level JSON is {type(value).__name__}, not an object"
    return None, False, error


def _candidates(source: str) -> Iterator[str]:
    """Fenced blocks first, then every balanced `{...}`, in order of appearance."""
    for block in _FENCE.findall(source):
        if block.strip().startswith("{"):
            yield block.strip()
    budget = _SCAN_BUDGET
    for count, match in enumerate(re.finditer(r"\{", source), start=1):
        stop = min(len(source), match.start() + budget)
        end = _matching_brace(source, match.start(), stop)
        budget -= (end + 1 if end is not None else stop) - match.start()
        if end is not None:
            yield source[match.start() : end + 1]
        if count >= _MAX_STARTS or budget <= 0:
            return


_WRAPPER_TAG = re.compile(r"</?think>|##\s*(?:thinking|final\s+response)", re.IGNORECASE)


def _objects(text: str) -> tuple[list[dict[str, Any]], ParseFailure | None]:
    """All objects in a reply, best first.

    Order: objects in the visible part (strict JSON before repaired), then strict objects in the
    reasoning or spanning a stray tag, then repaired ones there. The parts are raw slices, so a
    wrapper tag quoted inside a JSON string cannot alter the value read back, and a strict object
    always beats a "repair" of surrounding debris.
    """
    if not isinstance(text, str) or not text.strip():
        excerpt = text if isinstance(text, str) else ""
        return [], ParseFailure(kind="empty", detail="the reply is empty", excerpt=excerpt)
    reasoning, final, _ = _segments(text)
    ranked: list[tuple[int, int, dict[str, Any]]] = []
    seen: set[str] = set()
    first_error = ""
    sources = [(0, part) for part in final] + [(1, part) for part in (*reasoning, text)]
    for visible_rank, source in sources:
        for candidate in _candidates(source):
            if candidate in seen or len(ranked) >= _MAX_OBJECTS:
                continue
            seen.add(candidate)
            value, strict, error = _load(candidate)
            if value is not None:
                # A strict object with a wrapper tag inside it quotes that tag in a string: the
                # split at the tag was not real structure, so the whole object wins.
                rank = -1 if strict and _WRAPPER_TAG.search(candidate) else visible_rank
                ranked.append((rank, 0 if strict else 1, value))
            first_error = first_error or error
    if ranked:
        ranked.sort(key=lambda item: item[:2])  # stable: text order within a rank
        return [value for _, _, value in ranked], None
    if "{" not in text:
        return [], ParseFailure(kind="no_json", detail="no JSON object in the reply", excerpt=text)
    detail = first_error or "no complete JSON object (unbalanced braces, truncated reply?)"
    return [], ParseFailure(kind="invalid_json", detail=detail, excerpt=text)


def parse_json_object(text: str) -> dict[str, Any] | ParseFailure:
    """The first JSON object in a model reply, after repair; a ParseFailure if there is none.

    Repairs code fences, prose around the object, single-quoted (Python-dict) keys and strings,
    smart quotes, unquoted keys, trailing commas and True/False/None. Looks in the visible part
    first, then in the reasoning (see _objects for the order). A truncated object (no closing
    brace) is not completed: it is an "invalid_json" failure, so a cut-off reply is never read as
    a full one.
    """
    found, failure = _objects(text)
    if failure is not None:
        return failure
    return found[0]


# --- typed replies ---------------------------------------------------------------------------

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
    found, failure = _objects(text)
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
    found, failure = _objects(text)
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
