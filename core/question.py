"""The validated question and the rules that turn one raw record into it.

Kept apart from file reading (``reasonmed.sources``) so that what makes a single record valid
can be read in one place. ``parse_record`` never raises on bad input: it returns every problem it
finds, because the file check wants to report all of them at once.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

LETTERS = string.ascii_uppercase
MAX_LISTED_ERRORS = 50

_Fail = Callable[[str, str], None]

# "B", "(B)", "B.", "B)", "[b]", "B:" -> the letter.
_LETTER_ANSWER = re.compile(r"^[(\[]?\s*([A-Za-z])\s*[)\].:]?$")
# "B. Atrophy", "(B) Atrophy" -> letter plus the option's own text.
_LETTER_AND_TEXT_ANSWER = re.compile(r"^[(\[]?([A-Za-z])\s*[)\].:]\s*(\S.*)$", re.DOTALL)


class Question(BaseModel):
    """One multiple-choice question, normalized: options lettered A, B, C... and answer a letter.

    The agents, prompts and answer checks all rely on this one shape, so the model re-checks its
    invariants even when built directly rather than from a file.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    question: str
    options: dict[str, str]
    answer: str
    context: str = ""
    source: str = ""
    # Where the question came from, for filtering and tracing: the source's own id (a MedMCQA id,
    # a PubMedQA PMID) and its subject. Never shown to a model.
    source_id: str = ""
    subject: str = ""
    # The source's fields that are not prompt material (an explanation, a long answer, MeSH
    # terms): kept with the question for the user, never sent to a model.
    metadata: dict[str, Any] = {}

    @model_validator(mode="after")
    def _check_invariants(self) -> Question:
        if not self.id.strip():
            raise ValueError("id is empty")
        if not self.question.strip():
            raise ValueError("question is empty")
        letters = list(self.options)
        if len(letters) < 2 or letters != list(LETTERS[: len(letters)]):
            raise ValueError("options must be at least 2, keyed by consecutive letters from A")
        if self.answer not in self.options:
            raise ValueError(f"answer {self.answer!r} is not among the options")
        return self

    def lettered_options(self) -> str:
        """Options as prompts show them: one "A. text" line per option."""
        return "\n".join(f"{letter}. {text}" for letter, text in self.options.items())

    def gold_text(self) -> str:
        """The gold answer as "B. Atrophy", for prompts that must state the correct answer."""
        return f"{self.answer}. {self.options[self.answer]}"


@dataclass(frozen=True)
class LineError:
    """One problem in a question file, located by 1-based line; field "" means the whole record."""

    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", field {self.field!r}" if self.field else "")
        return f"{where}: {self.reason}"


class QuestionFileError(Exception):
    """A question file failed validation; ``errors`` lists every problem found, in file order."""

    def __init__(self, path: str | Path, errors: list[LineError]) -> None:
        super().__init__(path, errors)
        self.path = Path(path)
        self.errors = list(errors)

    def __str__(self) -> str:
        count = len(self.errors)
        lines = [f"{self.path}: {count} problem{'' if count == 1 else 's'}"]
        lines += [f"  {error}" for error in self.errors[:MAX_LISTED_ERRORS]]
        if count > MAX_LISTED_ERRORS:
            lines.append(f"  ... and {count - MAX_LISTED_ERRORS} more")
        return "\n".join(lines)


def stable_question_id(question: str, options: dict[str, str], answer: str) -> str:
    """Id for a record without one: "q-" + first 12 hex of sha256 over its normalized content.

    The content is the JSON of {"question", "options", "answer"} after normalization (stripped
    text, lettered options, letter answer), so the same question gets the same id on every run and
    whether its options came as a list or an object, or its answer as letter or text.
    """
    payload = json.dumps(
        {"question": question, "options": options, "answer": answer},
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return "q-" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:12]


def parse_record(record: Any, line: int) -> tuple[Question | None, list[LineError]]:
    """Normalize one decoded record; return the question, or None and every problem found.

    A dict carrying a ``duplicate_keys`` attribute (set by the file reader's JSON hook) also gets
    its repeated keys reported, since ``json`` would otherwise keep the last value silently.
    """
    errors: list[LineError] = []

    def fail(field: str, reason: str) -> None:
        errors.append(LineError(line, field, reason))

    if not isinstance(record, dict):
        fail("", f"record is {_json_type(record)}, expected a JSON object")
        return None, errors
    for key in getattr(record, "duplicate_keys", ()):
        fail(key, "field is given more than once in the record")
    for field in ("question", "options", "answer"):
        if field not in record:
            fail(field, "missing required field")

    question = _parse_question(record["question"], fail) if "question" in record else None
    options = _parse_options(record["options"], fail) if "options" in record else None
    answer = None
    if options is not None and "answer" in record:
        answer = _parse_answer(record["answer"], options, fail)
    qid = _parse_optional_text(record.get("id"), "id", fail, allow_int=True)
    if qid is not None and not qid:
        fail("id", "id is empty")
    context = _parse_context(record.get("context"), fail)
    source = _parse_optional_text(record.get("source"), "source", fail)
    source_id = _parse_optional_text(record.get("source_id"), "source_id", fail, allow_int=True)
    subject = _parse_optional_text(record.get("subject"), "subject", fail)
    metadata = _parse_metadata(record.get("metadata"), fail)

    if errors or question is None or options is None or answer is None:
        return None, errors
    if qid is None:
        qid = stable_question_id(question, options, answer)
    return Question(
        id=qid,
        question=question,
        options=options,
        answer=answer,
        context=context,
        source=source or "",
        source_id=source_id or "",
        subject=subject or "",
        metadata=metadata,
    ), []


def _parse_question(value: Any, fail: _Fail) -> str | None:
    if not isinstance(value, str):
        fail("question", f"must be a string, got {_json_type(value)}")
        return None
    if not value.strip():
        fail("question", "question is empty")
        return None
    return value.strip()


def _parse_options(value: Any, fail: _Fail) -> dict[str, str] | None:
    """Letter the options; a letter-keyed object must already use A, B, C... in that order."""
    if isinstance(value, list):
        texts: list[Any] = list(value)
    elif isinstance(value, dict):
        if not _option_keys_ok(value, fail):
            return None
        texts = list(value.values())
    else:
        fail(
            "options",
            f"must be a list of strings or an object keyed by letter, got {_json_type(value)}",
        )
        return None
    if len(texts) < 2:
        fail("options", f"needs at least 2 options, got {len(texts)}")
        return None
    if len(texts) > len(LETTERS):
        fail("options", f"has {len(texts)} options; at most {len(LETTERS)} can be lettered A-Z")
        return None

    options: dict[str, str] = {}
    seen: dict[str, str] = {}
    ok = True
    for letter, text in zip(LETTERS, texts, strict=False):
        if not isinstance(text, str):
            fail("options", f"option {letter} must be a string, got {_json_type(text)}")
            ok = False
            continue
        if not text.strip():
            fail("options", f"option {letter} is empty")
            ok = False
            continue
        key = _fold(text)
        if key in seen:
            fail(
                "options",
                f"option {letter} repeats the text of option {seen[key]} ({text.strip()!r})",
            )
            ok = False
            continue
        seen[key] = letter
        options[letter] = text.strip()
    return options if ok else None


def _option_keys_ok(value: dict[str, Any], fail: _Fail) -> bool:
    """Keys must already be A, B, C... (any case) in order: relettering would move the answer."""
    for key in getattr(value, "duplicate_keys", ()):
        fail("options", f"option key {key!r} is given more than once")
        return False
    upper: list[str] = []
    for key in value:
        if len(key) != 1 or key.upper() not in LETTERS:
            fail("options", f"option key {key!r} is not a single letter A-Z")
            return False
        if key.upper() in upper:
            fail("options", f"option key {key!r} repeats {key.upper()!r} (keys ignore case)")
            return False
        upper.append(key.upper())
    if upper != list(LETTERS[: len(upper)]):
        fail(
            "options",
            f"option keys must be consecutive letters from A, in order; got {', '.join(upper)}",
        )
        return False
    return True


def _parse_answer(value: Any, options: dict[str, str], fail: _Fail) -> str | None:
    """A letter in range wins; otherwise the exact option text (ignoring case and spacing)."""
    span = f"A-{list(options)[-1]}"
    if not isinstance(value, str):
        fail("answer", f"must be a letter or the text of an option, got {_json_type(value)}")
        return None
    given = value.strip()
    if not given:
        fail("answer", "answer is empty")
        return None
    letter_match = _LETTER_ANSWER.match(given)
    if letter_match and letter_match.group(1).upper() in options:
        return letter_match.group(1).upper()
    by_text = {_fold(text): letter for letter, text in options.items()}
    if _fold(given) in by_text:
        return by_text[_fold(given)]
    both = _LETTER_AND_TEXT_ANSWER.match(given)
    if both:
        letter = both.group(1).upper()
        if letter in options and _fold(both.group(2)) == _fold(options[letter]):
            return letter
    hint = "" if letter_match else " (not a letter, and no option has that text)"
    fail("answer", f"{given!r} is not among the options {span}{hint}")
    return None


def _parse_context(value: Any, fail: _Fail) -> str:
    """Context is text; a list of passages (PubMedQA abstracts) is joined with blank lines."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return "\n\n".join(part.strip() for part in value if part.strip())
    fail("context", f"must be a string or a list of strings, got {_json_type(value)}")
    return ""


def _parse_metadata(value: Any, fail: _Fail) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        fail("metadata", f"must be an object, got {_json_type(value)}")
        return {}
    return dict(value)


def _parse_optional_text(
    value: Any, field: str, fail: _Fail, allow_int: bool = False
) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip()
    if allow_int and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    wanted = "a string or an integer" if allow_int else "a string"
    fail(field, f"must be {wanted}, got {_json_type(value)}")
    return None


def _fold(text: str) -> str:
    """Compare option texts ignoring case and runs of whitespace."""
    return " ".join(text.split()).casefold()


def _json_type(value: Any) -> str:
    """The value's type as JSON names it, for error messages."""
    if value is None:
        return "null"
    kinds = ((bool, "a boolean"), (int | float, "a number"), (str, "a string"))
    kinds += ((list, "an array"), (dict, "an object"))
    return next((name for kind, name in kinds if isinstance(value, kind)), type(value).__name__)


_LATER_FIELDS = ("source_id", "subject", "metadata")


def question_fingerprint(question: Question) -> str:
    """sha256 hex of every field, canonically serialized: it changes iff the question changed.

    Stored with a run so that resuming against an edited input file is noticed. Provenance
    fields added later are left out while empty, so a question that has none keeps the
    fingerprint it was stored with before they existed.
    """
    data = question.model_dump(mode="json")
    for name in _LATER_FIELDS:
        if not data[name]:
            del data[name]
    payload = json.dumps(
        data,
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
