"""Which agent is calling, and what its prompt says.

The mock tells the roles apart by the distinctive first sentence of each system template (the
``ROLE_SIGNATURES`` table; a unit test renders every template and checks this table against it) and
reads the question, options, gold answer, chain of thought and error reasons back out of the user
message using the layout of ``format_question_block`` and the templates' section labels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from reasonmed.mockserver.answer_key import letter_for, normalize_text

# A phrase from the first paragraph of each agent's system template -> the role it identifies.
ROLE_SIGNATURES: tuple[tuple[str, str], ...] = (
    ("reasons step by step through medical multiple-choice questions", "generator"),
    ("medical answer verifier", "verifier"),
    ("quality ranker who grades medical chains of thought", "ranker"),
    ("medical reasoning editor who repairs", "refiner"),
    ("senior clinical reasoning expert", "regenerator"),
    ("condenses a chain of thought into a short answer summary", "summarizer"),
    ("evaluation judge who scores answers", "judge"),
    ("taking a medical multiple-choice exam", "examinee"),
)

# o-series models get their system prompt as a "developer" message from langchain-openai.
SYSTEM_ROLES = frozenset({"system", "developer"})
_BLOCK = re.compile(
    r"(?:Context:\n(?P<context>.*?)\n\n)?Question:\n(?P<question>.*?)\n\nOptions:\n"
    r"(?P<options>(?:[A-Z]\. [^\n]*(?:\n|$))+)",
    re.DOTALL,
)
_OPTION = re.compile(r"^([A-Z])\. (.*)$", re.MULTILINE)
_GOLD = re.compile(r"^Correct answer: (.*)$", re.MULTILINE)


@dataclass(frozen=True)
class ParsedPrompt:
    """What the mock understood of one chat request."""

    role: str | None
    question: str = ""
    context: str = ""
    options: dict[str, str] = field(default_factory=dict)
    gold_letter: str | None = None
    cot: str | None = None
    error_reasons: tuple[str, ...] = ()
    instruction: str | None = None
    response: str | None = None

    @property
    def normalized_question(self) -> str:
        """The question as the answer key indexes it."""
        return normalize_text(self.question)


def message_text(content: Any) -> str:
    """Text of a message whose content is a string or a list of OpenAI content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict)]
        return "".join(p for p in parts if isinstance(p, str))
    return ""


def detect_role(system_text: str) -> str | None:
    """Role from the first paragraph of the system prompt, or None for an unknown caller."""
    first_paragraph = normalize_text(system_text.strip().split("\n\n", 1)[0])
    for signature, role in ROLE_SIGNATURES:
        if signature in first_paragraph:
            return role
    return None


def _between(text: str, start: str, end: str) -> str | None:
    """Text after the first ``start`` and before the last ``end`` (a CoT may contain anything)."""
    begin = text.find(start)
    finish = text.rfind(end)
    if begin < 0 or finish < begin + len(start):
        return None
    return text[begin + len(start) : finish]


def parse_question_block(text: str) -> tuple[str, str, dict[str, str], int]:
    """(context, question, options, end offset) of the first question block in ``text``."""
    match = _BLOCK.search(text)
    if match is None:
        return "", "", {}, 0
    options = {m.group(1): m.group(2).strip() for m in _OPTION.finditer(match.group("options"))}
    context = (match.group("context") or "").strip()
    return context, match.group("question").strip(), options, match.end()


def parse_messages(messages: list[dict[str, Any]]) -> ParsedPrompt:
    """Role and contents of a chat request's messages (the last system and user messages)."""
    system = next(
        (
            message_text(m.get("content"))
            for m in reversed(messages)
            if m.get("role") in SYSTEM_ROLES
        ),
        "",
    )
    user = next(
        (message_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"),
        "",
    )
    role = detect_role(system) if system else None
    if role == "judge":
        instruction = _between(user, "Instruction:\n", "\n\n<response>\n")
        response = _between(user, "<response>\n", "\n</response>")
        context, question, options, _ = parse_question_block(instruction or "")
        return ParsedPrompt(
            role=role,
            question=question or (instruction or "").strip(),
            context=context,
            options=options,
            instruction=instruction,
            response=response,
        )
    context, question, options, end = parse_question_block(user)
    rest = user[end:]
    gold_match = _GOLD.search(rest)
    gold = letter_for(gold_match.group(1), options) if gold_match else None
    cot = _between(rest, "<reasoning>\n", "\n</reasoning>")
    reasons: tuple[str, ...] = ()
    tail_start = rest.rfind("</reasoning>")
    if tail_start >= 0:
        lines = rest[tail_start:].splitlines()
        reasons = tuple(
            line[2:].strip()
            for line in lines
            if line.startswith("- ") and line[2:].strip() != "(none recorded)"
        )
    return ParsedPrompt(
        role=role,
        question=question,
        context=context,
        options=options,
        gold_letter=gold,
        cot=cot,
        error_reasons=reasons,
    )
