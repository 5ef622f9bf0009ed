"""Deterministic checks of a response, made before any LLM judge sees it.

Two kinds of finding, handled differently (our choice):
- blocking (`empty`, `truncated`, `too_long`): the record is structurally broken; a judge's
  score of it would measure the breakage, and sending it costs a call. Such records are counted
  and never sent to the judge, so they are in no score statistic.
- flags (`no_answer`, `answer_mismatch`): the response is complete text that a judge can read,
  but it states no final option, or not the gold one. It is judged like any other, and the flag
  is reported next to the scores so a high mean over wrong answers cannot hide.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from reasonmed.replies.answers import extract_answer
from reasonmed.replies.parsing import reasoning_parts
from reasonmed.replies.reply_types import AnswerExtraction

BLOCKING = ("empty", "truncated", "too_long")
FLAGS = ("no_answer", "answer_mismatch")
# About 20k tokens at 4 characters a token: above the longest reply the pipeline allows (the
# regenerator's 16,384 tokens) plus a summary, so only runaway text is stopped.
DEFAULT_MAX_CHARS = 80_000
_OPTION_LINE = re.compile(r"^[ \t]*\(?([A-Z])[.)][ \t]+(\S.*?)[ \t]*$", re.M)


class CheckResult(BaseModel):
    """What the deterministic checks found in one response."""

    model_config = ConfigDict(frozen=True)

    blocked: list[str]  # BLOCKING findings: not sent to the judge
    flags: list[str]  # FLAGS findings: judged, and reported
    answer: str | None = None  # the option letter the response concludes with, if options known
    answer_method: str = ""  # extract_answer's rule
    answer_checked: bool = False  # options were known, so the answer could be read

    @property
    def judgeable(self) -> bool:
        return not self.blocked


def options_from_text(text: str) -> dict[str, str]:
    """Lettered option lines ("A. ...", "B) ...") in an instruction, when they run A, B, C, ...

    External datasets often carry options only inside the instruction; without at least two
    consecutive letters from A nothing is returned (a stray "A." line is no option list).
    """
    found: dict[str, str] = {}
    for match in _OPTION_LINE.finditer(text or ""):
        letter, body = match.group(1), match.group(2)
        expected = chr(ord("A") + len(found))
        if letter == "A" and found:
            found = {}  # a second list restarts; the last one is the question's
            expected = "A"
        if letter == expected:
            found[letter] = body
    return found if len(found) >= 2 else {}


def read_answer(text: str, options: dict[str, str]) -> AnswerExtraction:
    """The option a text concludes with; failing that, the one its last paragraph states.

    A CoT followed by its summary (the ReasonMed format) can read as inconclusive as a whole: a
    "Final answer:" line that no longer ends the text loses its precedence over options named
    mid-sentence. What a response concludes is what its end says, so the last paragraph decides
    when the whole text does not.
    """
    whole = extract_answer(text, options)
    if whole.letter is not None:
        return whole
    paragraphs = [p for p in re.split(r"\n[ \t]*\n", text.strip()) if p.strip()]
    if len(paragraphs) > 1:
        last = extract_answer(paragraphs[-1], options)
        if last.letter is not None:
            return last.model_copy(update={"method": f"last_paragraph:{last.method}"})
    return whole


def check_response(
    output: str,
    *,
    options: dict[str, str] | None = None,
    gold: str | None = None,
    max_chars: int = DEFAULT_MAX_CHARS,
    parts: Sequence[str] = (),
) -> CheckResult:
    """Run every check on one response; never raises.

    `options` enables the answer checks (no_answer; with `gold`, answer_mismatch). `parts` are
    the texts whose answers are read separately (a run's CoT and summary), by default the whole
    output; every part must state an answer, and all the same one. `truncated` means an
    unfinished reasoning block (an open `<think>` or `## Thinking` without a `## Final
    Response`), which is what a length-cut reasoning reply looks like.
    """
    text = output if isinstance(output, str) else ""
    if not text.strip():
        return CheckResult(blocked=["empty"], flags=[])
    blocked: list[str] = []
    if not reasoning_parts(text)[2]:
        blocked.append("truncated")
    if len(text) > max_chars:
        blocked.append("too_long")
    if blocked or not options:
        return CheckResult(blocked=blocked, flags=[])
    readings = [read_answer(part, options) for part in (parts or (text,))]
    letters = {reading.letter for reading in readings}
    letter = next(iter(letters)) if len(letters) == 1 else None
    flags: list[str] = []
    if None in letters:
        flags.append("no_answer")
    elif letter is None or (gold is not None and letter != gold):
        flags.append("answer_mismatch")  # parts disagree, or agree on a wrong option
    return CheckResult(
        blocked=[],
        flags=flags,
        answer=letter,
        answer_method="+".join(reading.method for reading in readings),
        answer_checked=True,
    )
