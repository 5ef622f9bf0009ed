"""Deterministic reading of the option a chain of thought concludes with.

The reference pipeline's only correctness check was the LLM verifier; reading the conclusion by
rules lets the graph compare a CoT with the gold answer before any verifier call. The rules are
conservative: a wrong letter costs a good CoT, a guessed letter would let a wrong one through.

How a conclusion is found: every conclusive statement in the visible answer (after a `<think>`
block or `## Final Response` header) is collected with a strength tier: 1 for "Final answer:" /
"Answer:" lines and boxed answers, 2 for "the answer is ...", "correct option: ...", "the most
likely diagnosis is ...", "C is the correct answer" and a last line that is only an option, 3 for
"Option C is correct." The strongest tier wins and, within it, the last statement. Two different
letters among the tier-1 statements, or within the paragraph of the winning tier-2/3 statement,
or in one statement ("B or C"), are a conflict and give no letter; when a "Final answer:" line
ends the reply, only other line-opening final answers can contradict it. Counterfactual ("if it were
..., the answer would be A"), conditional ("A if ...") and questioning ("the answer is A?")
statements do not count, "the answer is not A" has no object, and a negated marker ("no clear
final answer B") is no statement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reasonmed.replies.parsing import reasoning_parts
from reasonmed.replies.reply_types import AnswerExtraction

__all__ = ["extract_answer"]

_MAX_CHARS = 200_000  # per part; longer CoTs keep their tail
_QUALIFIER = r"(?:most\s+)?(?:correct|right|best|appropriate|accurate|true|likely)"
_COPULA = r"(?:is|would\s+be|should\s+be|must\s+be|will\s+be)"
# Markers followed by their object: "Final answer: B", "the answer is B", "correct option: C".
_FINAL = (
    r"\bfinal\s+(?:answer|choice|option|selection|diagnosis)\b(?:\s+" + _COPULA + r")?\s*[:=\-–—]?"
)
_ANSWER_LINE = (
    r"(?m)^[ \t>\-]*(?:the\s+)?(?:(?:correct|best|right)\s+)?answer\s*(?::|=|[-–—](?=\s))"
)
_ANSWER_IS = r"\banswer(?:\s+(?:here|to\s+(?:this|the)\s+question))?\s+" + _COPULA + r"\b\s*:?"
_OPTION_IS = (
    rf"\b{_QUALIFIER}\s+(?:option|choice|response|selection)\s*"
    rf"(?:(?:here\s+)?{_COPULA}\b\s*:?|[:=])"
)
_ANSWER_COLON = r"\b(?:correct|right|best|true)\s+answer\s*[:=]"
_MOST_LIKELY = (
    r"\b(?:most\s+(?:likely|appropriate|probable|accurate|consistent|suitable|effective)|best)"
    r"\s+(?:[a-z\-]+\s+){0,5}?(?:is|would\s+be)\b\s*:?"
)
_CONSISTENT = (
    r"\b(?:most\s+(?:consistent|compatible)\s+with|best\s+explained\s+by|most\s+likely\s+"
    r"(?:has|have|is|be|represents?|reflects?|due\s+to|caused\s+by))\b"
)
_CHOOSE = r"\b(?:i|we)\s+(?:would\s+|will\s+|should\s+)?(?:choose|select|pick|go\s+with)\b\s*:?"
# Markers preceded by their object: "Option C is the correct answer", "Option C is correct."
_IS_CORRECT_ANSWER = rf"\s+is\s+(?:the\s+)?{_QUALIFIER}\s+(?:answer|option|choice|response)\b"
_IS_THE_ANSWER = r"\s+is\s+the\s+answer\b"
_IS_CORRECT = r"\s+is\s+(?:the\s+)?(?:correct|right)(?=\s*(?:[.!;\n]|$))"
_FORWARD = (  # (tier, rule, pattern)
    (1, "final_answer_line", _FINAL),
    (1, "final_answer_line", _ANSWER_LINE),
    (2, "answer_statement", _ANSWER_IS),
    (2, "answer_statement", _OPTION_IS),
    (2, "answer_statement", _ANSWER_COLON),
    (2, "answer_statement", _MOST_LIKELY),
    (2, "answer_statement", _CONSISTENT),
    (2, "answer_statement", _CHOOSE),
)
_BACKWARD = (
    (2, "option_declared_correct", _IS_CORRECT_ANSWER),
    (2, "option_declared_correct", _IS_THE_ANSWER),
    (3, "option_declared_correct", _IS_CORRECT),
)
_COMPILED = tuple(
    (tier, rule, re.compile(pattern, re.I), forward)
    for forward, table in ((True, _FORWARD), (False, _BACKWARD))
    for tier, rule, pattern in table
)
_LETTER = re.compile(
    r"(?P<noun>(?:option|choice|letter)\s*)?(?P<open>[(\[])?\s*(?P<letter>[A-Za-z])\s*"
    r"(?P<close>[)\]])?(?=$|[^A-Za-z0-9'’])",
    re.I,
)
_SECOND = re.compile(
    r"\s*(?:,|/|&|(?i:or|and)\b)\s*(?:(?i:option|choice)\s*)?[(\[]?\s*(?P<letter>[A-Z])\s*[)\]]?"
    r"(?=$|[^A-Za-z0-9])(?!\s+(?i:is|are|was|were)\b)"
)
_ARTICLE_CONNECTOR = re.compile(r"\s+(?:because|since|as|which|given|due|for|with|is|was|or|and)\b")
_LEAD = re.compile(  # bullets, quotes and connective words before an answer's object
    r"[\s:\-–—\"'=>•]*(?:(?:so|either|thus|therefore|hence|overall|clearly|definitely|indeed|"
    r"probably|likely|most\s+likely|then|ultimately|finally|in\s+conclusion|in\s+summary)"
    r"\b[,:]?\s*)*",
    re.I,
)
_HYPOTHETICAL = re.compile(r"\b(?:if|unless|suppose|supposing|assuming)\b", re.I)
# "no clear final answer B", "without a final answer": a negated marker concludes nothing.
_NEGATED = re.compile(r"\b(?:no|not|without|never|lacks?|lacking)\s+(?:[a-z]+\s+){0,2}$", re.I)
_COUNTERFACTUAL = re.compile(r"\b(?:were|had|would|could|might)\b", re.I)
_NEXT_LINE = re.compile(r"\s*\n[ \t]*(?=\S)")
_SENTENCE_BREAK = re.compile(r"[\n!?]|\.(?=\s)|;\s")
_PAREN_LETTER = re.compile(r"\s*[(\[]\s*(?:(?:option|choice)\s*)?([A-Za-z])\s*[)\]]", re.I)
_TRAIL = re.compile(r"[\s.,:;!)\]\-–—\"'*]*")


@dataclass(frozen=True)
class _Object:
    letter: str | None
    ambiguous: bool
    via_text: bool
    end: int


@dataclass(frozen=True)
class _Statement:
    pos: int
    tier: int
    rule: str
    obj: _Object
    span: str


class _Options:
    """The options of one question, with patterns that find their texts in prose."""

    def __init__(self, options: dict[str, str]) -> None:
        self.keys: dict[str, str] = {}
        self.patterns: list[tuple[str, re.Pattern[str]]] = []
        for key, value in (options or {}).items():
            if not isinstance(key, str) or len(key.strip()) != 1 or not key.strip().isalpha():
                continue
            self.keys.setdefault(key.strip().upper(), key)
            words = re.findall(r"[^\W_]+", str(value).lower())
            if len("".join(words)) >= 2:
                body = r"[\W_]+".join(re.escape(word) for word in words)
                pattern = re.compile(rf"(?:(?:the|an?)\s+)?{body}(?![^\W_])", re.I)
                self.patterns.append((key.strip().upper(), pattern))

    def text_at(self, text: str, pos: int = 0) -> tuple[str, int] | None:
        """The option whose text starts at pos (longest wins) and where it ends."""
        best: tuple[str, int] | None = None
        for letter, pattern in self.patterns:
            match = pattern.match(text, pos)
            if match and (best is None or match.end() > best[1]):
                best = (letter, match.end())
        return best


def _prepare(text: str) -> str:
    """Drop markdown and LaTeX noise so `**Answer: B**` reads like `Answer: B`."""
    text = text.replace("\r\n", "\n").replace("’", "'").replace("‘", "'")
    text = text.replace("“", '"').replace("”", '"')
    text = re.sub(
        r"\\boxed\s*\{\s*(?:\\(?:text|textbf|mathrm)\s*\{)?\s*([^{}\n]{1,200}?)\s*\}?\s*\}",
        r"\nFinal answer: \1\n",
        text,
    )
    text = re.sub(r"\*\*|__|[*`$]", "", text)
    return re.sub(r"(?m)^[ \t]*#{1,6}[ \t]*", "", text)


def _letter_token(rest: str, opts: _Options) -> tuple[str, re.Match[str]] | None:
    """A valid option letter at the start of rest, with the case rules that keep articles out."""
    match = _LETTER.match(rest)
    if not match:
        return None
    char, after = match["letter"], rest[match.end() :]
    marked = bool(match["noun"] or match["open"] or match["close"])
    if char.islower() and not marked and not re.match(r"\s*(?:[.:;,!]|$)", after):
        return None
    if (
        char in "AI"
        and not marked
        and re.match(r"\s+[a-z]", after)
        and not _ARTICLE_CONNECTOR.match(after)
    ):
        return None
    letter = char.upper()
    return (letter, match) if letter in opts.keys else None


def _read_object(text: str, start: int, stop: int, opts: _Options, whole: bool) -> _Object | None:
    """Read a letter and/or an option text in text[start:stop]; whole=True wants nothing else."""
    rest = text[:stop]
    pos = _LEAD.match(rest, start).end()
    by_text = opts.text_at(rest, pos)
    token = _letter_token(rest[pos:], opts)
    if token and not (by_text and by_text[0] != token[0]):
        letter, match = token
        end = pos + match.end()
        second = _SECOND.match(rest, end)
        if second and second["letter"] in opts.keys and second["letter"] != letter:
            return _Object(None, True, False, second.end())
        after = _TRAIL.match(rest, end).end()
        if after < len(rest) and rest[after] == "(":
            after += 1
        trailing = opts.text_at(rest, after)
        if trailing:
            end = trailing[1]
            if trailing[0] != letter:
                return _Object(None, True, False, end)
        if whole and _TRAIL.match(rest, end).end() < len(rest):
            return None
        return _Object(letter, False, False, end)
    if by_text is None:
        return None
    letter, end = by_text
    other = re.match(r"\s*(?:or|and|/)\s*", rest[end:], re.I)
    if other and (alt := opts.text_at(rest, end + other.end())) and alt[0] != letter:
        return _Object(None, True, True, alt[1])
    paren = _PAREN_LETTER.match(rest, end)
    if paren and paren[1].upper() in opts.keys:
        end = paren.end()
        if paren[1].upper() != letter:
            return _Object(None, True, True, end)
    if whole and _TRAIL.match(rest, end).end() < len(rest):
        return None
    return _Object(letter, False, True, end)


def _sentence_bounds(text: str, pos: int) -> tuple[int, int]:
    starts = [m.end() for m in _SENTENCE_BREAK.finditer(text, max(0, pos - 300), pos)]
    end = _SENTENCE_BREAK.search(text, pos)
    return (starts[-1] if starts else max(0, pos - 300)), (end.start() if end else len(text))


def _statements(text: str, opts: _Options) -> list[_Statement]:
    found: list[_Statement] = []
    for tier, rule, pattern, forward in _COMPILED:
        for marker in pattern.finditer(text):
            sent_start, _ = _sentence_bounds(text, marker.start())
            clause = text[sent_start : marker.end()]
            if _HYPOTHETICAL.search(clause) and _COUNTERFACTUAL.search(clause):
                continue  # "If it were X, the answer would be A" is not a conclusion
            if forward and _NEGATED.search(text, sent_start, marker.start()):
                continue  # "concludes no clear final answer B" names no answer
            if forward:
                start = marker.end()
                line_end = text.find("\n", start)
                line_end = len(text) if line_end < 0 else line_end
                if not text[start:line_end].strip():
                    nxt = _NEXT_LINE.match(text, start)
                    if nxt:
                        start = nxt.end()
                        line_end = text.find("\n", start)
                        line_end = len(text) if line_end < 0 else line_end
                obj = _read_object(text, start, line_end, opts, whole=False)
            else:
                obj = _read_object(text, sent_start, marker.start(), opts, whole=True)
            if obj is None:
                continue
            tail_end = obj.end if forward else marker.end()
            sentence_end = _sentence_bounds(text, tail_end)[1]
            if text[sentence_end : sentence_end + 1] == "?" or re.match(
                r"\W*(?:if|unless|but|however|although|though|except)\b",
                text[tail_end:sentence_end],
                re.I,
            ):
                continue
            span_start = marker.start() if forward else sent_start
            span = " ".join(text[span_start : max(obj.end, marker.end())].split())
            found.append(_Statement(marker.start(), tier, rule, obj, span))
    found.extend(_bare_last_line(text, opts))
    return sorted(found, key=lambda statement: statement.pos)


def _bare_last_line(text: str, opts: _Options) -> list[_Statement]:
    """A last line that is only an option ("(C)", "Option D", "B. Atrophy"), unless in a list."""
    lines = [(m.start(), m.group()) for m in re.finditer(r"(?m)^[ \t]*\S.*$", text)]
    if not lines or len(lines[-1][1]) > 160:
        return []
    start, line = lines[-1]
    obj = _read_object(text, start, start + len(line), opts, whole=True)
    if obj is None:
        return []
    if len(lines) > 1:
        prev_start, prev = lines[-2]
        if _read_object(text, prev_start, prev_start + len(prev), opts, whole=True):
            return []
    return [_Statement(start, 2, "bare_letter", obj, line.strip())]


def _opens_a_line(text: str, statement: _Statement) -> bool:
    """Nothing but markdown stands between the start of its line and the statement."""
    line_start = text.rfind("\n", 0, statement.pos) + 1
    return not text[line_start : statement.pos].strip(" \t*#>_-")


def _closes_the_text(text: str, statement: _Statement) -> bool:
    """The statement opens the last non-empty line and nothing follows that line."""
    line_end = text.find("\n", statement.pos)
    return _opens_a_line(text, statement) and (line_end < 0 or not text[line_end:].strip())


def _decide(text: str, statements: list[_Statement]) -> AnswerExtraction | None:
    """Pick the conclusion among the statements; None when there is none at all."""
    if not statements:
        return None
    tier = min(statement.tier for statement in statements)
    strongest = [statement for statement in statements if statement.tier == tier]
    last = strongest[-1]
    if tier > 1:
        breaks = [m.start() for m in re.finditer(r"\n[ \t]*\n", text)]
        paragraph = sum(1 for b in breaks if b < last.pos)
        strongest = [s for s in strongest if sum(1 for b in breaks if b < s.pos) == paragraph]
    if tier == 1 and _closes_the_text(text, last):
        # A "Final answer: X" line ending the reply is its declared conclusion; answers quoted
        # mid-sentence (a refined CoT discussing an earlier draft's mistake) do not contradict
        # it. Two line-opening final answers still do: the reply changed its mind.
        strongest = [st for st in strongest if _opens_a_line(text, st)]
    letters = {statement.obj.letter for statement in strongest}
    if len(letters) > 1 or any(statement.obj.ambiguous for statement in strongest):
        return AnswerExtraction(letter=None, method="conflict", span=last.span)
    method = "option_text" if last.obj.via_text else last.rule
    return AnswerExtraction(letter=last.obj.letter, method=method, span=last.span)


def extract_answer(text: str, options: dict[str, str]) -> AnswerExtraction:
    """The option letter a chain of thought concludes with (see the module docstring for rules).

    Reads the visible answer first; the reasoning block only if the visible answer has no
    conclusive statement and the block was closed (an unclosed `<think>` or a `## Thinking` with
    no `## Final Response` is an unfinished reply, so its letter is None). Returns the key as
    given in options. Never raises.
    """
    if not isinstance(text, str) or not text.strip() or not isinstance(options, dict):
        return AnswerExtraction(letter=None, method="none", span="")
    opts = _Options(options)
    if not opts.keys:
        return AnswerExtraction(letter=None, method="none", span="")
    reasoning, final, closed = reasoning_parts(text)
    for part, prefix in ((final, ""), (reasoning if closed else "", "reasoning:")):
        prepared = _prepare(part[-_MAX_CHARS:])  # conclusions sit at the end
        result = _decide(prepared, _statements(prepared, opts))
        if result is not None:
            if result.letter is not None:
                letter = opts.keys[result.letter]
                return result.model_copy(
                    update={"letter": letter, "method": prefix + result.method}
                )
            return result.model_copy(update={"method": prefix + result.method})
    return AnswerExtraction(letter=None, method="none", span="")
