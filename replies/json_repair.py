"""JSON objects out of model replies: fenced, wrapped in reasoning, or slightly broken.

Total like the rest of the parsing: a reply with no usable object becomes a ParseFailure. The
repair handles what models actually send (single quotes, curly quotes, bare keys, Python
literals, trailing commas, an unclosed final string) and the scan is bounded so a pathological
reply costs a bounded amount of work.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from reasonmed.replies.reasoning_text import segments
from reasonmed.replies.reply_types import ParseFailure

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


_OUTSIDE = re.compile(r"[\"'{}\[\]]")  # what can change the state outside a string
_INSIDE = {'"': re.compile(r'[\\"]'), "'": re.compile(r"[\\']")}  # an escape, or the quote


def _last_visible(text: str, start: int, index: int) -> str:
    """The last non-whitespace character of text[start:index], or "" when there is none."""
    index -= 1
    while index >= start and text[index].isspace():
        index -= 1
    return text[index] if index >= start else ""


def _matching_brace(text: str, start: int, stop: int) -> int | None:
    """Index of the `}` closing the object opened at start, skipping braces inside strings.

    A single quote opens a string only after `{`, `[`, `,` or `:` (or first of all), so an
    apostrophe in prose stays prose. The scan jumps between the characters that matter (quotes,
    brackets, escapes) instead of walking every character in Python.
    """
    depth, index = 0, start
    while (found := _OUTSIDE.search(text, index, stop)) is not None:
        index = found.start()
        char = text[index]
        if char == '"' or (char == "'" and _last_visible(text, start, index) in "{[,:"):
            inside, index = _INSIDE[char], index + 1
            while True:
                hit = inside.search(text, index, stop)
                if hit is None:
                    return None
                index = hit.start()
                if text[index] == "\\":
                    index += 2
                elif char == '"' or _closes_string(text, index):
                    break
                else:
                    index += 1
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return index if char == "}" else None
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


def json_objects(text: str) -> tuple[list[dict[str, Any]], ParseFailure | None]:
    """All objects in a reply, best first.

    Order: objects in the visible part (strict JSON before repaired), then strict objects in the
    reasoning or spanning a stray tag, then repaired ones there. The parts are raw slices, so a
    wrapper tag quoted inside a JSON string cannot alter the value read back, and a strict object
    always beats a "repair" of surrounding debris.
    """
    if not isinstance(text, str) or not text.strip():
        excerpt = text if isinstance(text, str) else ""
        return [], ParseFailure(kind="empty", detail="the reply is empty", excerpt=excerpt)
    reasoning, final, _ = segments(text)
    ranked: list[tuple[int, int, dict[str, Any]]] = []
    seen: set[str] = set()
    first_error = ""
    sources = [(0, part) for part in final] + [(1, part) for part in (*reasoning, text)]
    scanned: set[str] = set()
    for visible_rank, source in sources:
        if source in scanned:
            continue  # a reply with no wrapper is its own final part: same candidates, all seen
        scanned.add(source)
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
    found, failure = json_objects(text)
    if failure is not None:
        return failure
    return found[0]


# --- typed replies ---------------------------------------------------------------------------
