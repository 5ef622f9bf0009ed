"""The mock's own reader of which option a chain of thought concludes with.

Deliberately simple and independent of the project's answer extractor: the mock plays the LLM
verifier, and an LLM does not share code with the pipeline that checks it.
"""

from __future__ import annotations

import re

from reasonmed.mockserver.answer_key import normalize_text

_MARKERS = re.compile(
    r"final answer\s*(?:is)?\s*[:：]?|answer\s+is\s*[:：]?|\banswer\s*[:：]",
    re.IGNORECASE,
)
_LETTER = re.compile(r"^[\s*_`]*\(?([A-Z])\)?(?=[\s.):*_`,;]|$)")


def conclusion_region(text: str) -> str:
    """The part of a reply that states the answer (after </think> or '## Final Response')."""
    if "</think>" in text:
        return text.rsplit("</think>", 1)[1]
    if "## Final Response" in text:
        return text.rsplit("## Final Response", 1)[1]
    return text


def _option_in(text: str, options: dict[str, str]) -> str | None:
    """The option whose text occurs earliest in ``text`` (longest text wins a tie)."""
    haystack = normalize_text(text)
    best: tuple[int, int, str] | None = None
    for letter, option in options.items():
        needle = normalize_text(option).rstrip(" .")
        position = haystack.find(needle) if needle else -1
        if position >= 0:
            candidate = (position, -len(needle), letter)
            best = candidate if best is None else min(best, candidate)
    return best[2] if best else None


def read_conclusion(text: str, options: dict[str, str]) -> str | None:
    """Letter of the option a reply concludes with, or None when it never commits to one."""
    region = conclusion_region(text)
    markers = list(_MARKERS.finditer(region))
    if markers:
        tail = region[markers[-1].end() :].strip()
        first_line = tail.split("\n", 1)[0]
        by_text = _option_in(first_line, options)
        if by_text and normalize_text(first_line).lstrip("*_` ").startswith(
            normalize_text(options[by_text]).rstrip(" .")
        ):
            return by_text
        letter = _LETTER.match(first_line)
        if letter and letter.group(1) in options:
            return letter.group(1)
        return _option_in(first_line, options)
    last_lines = "\n".join(region.strip().splitlines()[-2:])
    bracketed = re.findall(r"\(([A-Z])\)", last_lines)
    if bracketed and bracketed[-1] in options:
        return bracketed[-1]
    return None
