"""Reading model replies: reasoning wrappers, JSON objects, and the fields inside them.

Every public function here is total: bad model output becomes a ParseFailure (or an empty part),
never an exception, so one odd reply cannot crash a graph node. The agents' own readers (a
verdict, a score) are built from these in `agents.output_readers`; answer extraction from chains
of thought lives in answers.py, JSON repair in json_repair.py.
"""

from __future__ import annotations

import json
import re
from typing import Any

from reasonmed.replies.json_repair import json_objects, parse_json_object
from reasonmed.replies.reasoning_text import clean_cot, reasoning_parts, split_reasoning
from reasonmed.replies.reply_types import FailureKind, ParseFailure

__all__ = [
    "clean_cot",
    "field_text",
    "json_objects",
    "lookup_field",
    "parse_json_object",
    "reasoning_parts",
    "schema_failure",
    "score_value",
    "split_reasoning",
]

_NUMBER = re.compile(r"(\d{1,3})(?:\.0+)?\s*(?:/\s*(\d{1,3}))?\s*(?:points?)?")


def lookup_field(obj: dict[str, Any], names: tuple[str, ...]) -> tuple[bool, Any]:
    """Look a field up by any of its accepted names, ignoring case and separators."""
    normalized = {re.sub(r"[\s_-]", "", str(key).lower()): value for key, value in obj.items()}
    for name in names:
        if name in normalized:
            return True, normalized[name]
    return False, None


def field_text(value: Any) -> str:
    """A field's value as text: lists joined, other JSON values serialized."""
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(field_text(item) for item in value)
    return value if isinstance(value, str) else json.dumps(value)


def schema_failure(kind: FailureKind, detail: str, text: str) -> ParseFailure:
    """A ParseFailure of `kind`, quoting the reply it is about."""
    return ParseFailure(kind=kind, detail=detail, excerpt=text if isinstance(text, str) else "")


def score_value(value: Any, maximum: int) -> int | str:
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
