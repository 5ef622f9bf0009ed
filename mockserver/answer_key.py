"""The mock's answer key: a question file read just far enough to know each gold answer.

The generator and examinee prompts carry no gold answer, so without a key the mock can only play a
model that guesses. The parsing here is deliberately minimal and independent of the project's own
question loader (the mock must not depend on the code it is used to test).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from reasonmed.mockserver.scenarios import (
    Scenario,
    assign_scenarios,
    hashed_scenario,
    rank_fraction_below,
    unit,
)

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def normalize_text(text: str) -> str:
    """Compare question and option texts ignoring case, unicode forms and whitespace runs."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def letter_for(answer: str, options: dict[str, str]) -> str | None:
    """Turn an answer given as a letter ('B', '(B)', 'B. Atrophy') or option text into a letter."""
    text = answer.strip()
    match = re.match(r"^\(?([A-Za-z])\)?(?:[.):\s]|$)", text)
    if match and match.group(1).upper() in options:
        letter = match.group(1).upper()
        rest = normalize_text(text[match.end() :]).rstrip(" .")
        if not rest or rest == normalize_text(options[letter]).rstrip(" ."):
            return letter
    wanted = normalize_text(text)
    for letter, option in options.items():
        if normalize_text(option) == wanted:
            return letter
    return None


@dataclass(frozen=True)
class KeyEntry:
    """One question of the key: its options and gold letter."""

    question: str
    options: dict[str, str]
    answer: str


@dataclass
class AnswerKey:
    """Gold answers by normalized question text, plus the scenarios dealt to those questions."""

    entries: dict[str, KeyEntry] = field(default_factory=dict)
    scenarios: dict[str, Scenario] = field(default_factory=dict)
    _known: dict[float, frozenset[str]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_entries(cls, entries: list[KeyEntry]) -> AnswerKey:
        """Index entries by normalized question and deal their scenarios."""
        by_question = {normalize_text(e.question): e for e in entries}
        return cls(entries=by_question, scenarios=assign_scenarios(by_question))

    @classmethod
    def load(cls, path: str | Path) -> AnswerKey:
        """Read a JSONL question file (a JSON array also works); bad lines raise ValueError."""
        text = Path(path).read_text(encoding="utf-8")
        if text.lstrip().startswith("["):
            records = json.loads(text)
        else:
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
        entries: list[KeyEntry] = []
        for number, record in enumerate(records, start=1):
            entry = _entry(record)
            if entry is None:
                raise ValueError(f"{path}: record {number} has no usable question/options/answer")
            entries.append(entry)
        return cls.from_entries(entries)

    def lookup(self, question: str) -> KeyEntry | None:
        """The entry for a question as it appears in a prompt, if the key holds it."""
        return self.entries.get(normalize_text(question))

    def scenario(self, question: str) -> Scenario:
        """The scenario the question plays (dealt if in the key, hashed otherwise)."""
        normalized = normalize_text(question)
        return self.scenarios.get(normalized) or hashed_scenario(normalized)

    def examinee_knows(self, question: str, accuracy: float) -> bool:
        """Whether the examinee answers correctly: exactly round(accuracy * n) of the key."""
        normalized = normalize_text(question)
        if normalized in self.entries:
            if accuracy not in self._known:
                known = rank_fraction_below(self.entries, accuracy, "examinee-rank")
                self._known[accuracy] = known
            return normalized in self._known[accuracy]
        return unit(normalized, "examinee") < accuracy

    def gold_letter(self, question: str, options: dict[str, str]) -> str | None:
        """Gold letter for the options as shown in the prompt (matched by text, then letter)."""
        entry = self.lookup(question)
        if entry is None:
            return None
        gold_text = normalize_text(entry.options[entry.answer])
        for letter, text in options.items():
            if normalize_text(text) == gold_text:
                return letter
        return entry.answer if entry.answer in options else None


def _entry(record: object) -> KeyEntry | None:
    if not isinstance(record, dict):
        return None
    question, raw_options = record.get("question"), record.get("options")
    if not isinstance(question, str) or not question.strip():
        return None
    if isinstance(raw_options, list):
        options = {LETTERS[i]: str(text) for i, text in enumerate(raw_options)}
    elif isinstance(raw_options, dict):
        options = {str(k).strip().upper(): str(v) for k, v in raw_options.items()}
    else:
        return None
    for key in ("answer", "answer_idx"):
        value = record.get(key)
        if isinstance(value, str) and (letter := letter_for(value, options)):
            return KeyEntry(question=question, options=options, answer=letter)
    return None
