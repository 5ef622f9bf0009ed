"""Text the mock writes: chains of thought in three model styles, refinements, summaries.

All randomness comes from the ``random.Random`` the caller seeds from the request hash, so a text
is a pure function of the request. The writer never decides correctness: the caller says which
option to conclude with.
"""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass

from reasonmed.mockserver import phrases as P


@dataclass(frozen=True)
class Case:
    """The question as the writer needs it."""

    question: str
    options: dict[str, str]
    context: str = ""

    def terms(self) -> tuple[str, str]:
        """Two key terms from the question, used to make the reasoning refer to the case.

        Medical-looking words (by suffix) win over merely long ones; a preceding adjective is kept
        ('exertional dyspnea'); words of the options are skipped so a term never names an option.
        """
        return _terms(self.context, self.question, tuple(self.options.values()))

    def label(self, letter: str) -> str:
        """'B (Atrophy)': how the reasoning names an option."""
        return f"{letter} ({self.options[letter]})"


@functools.lru_cache(maxsize=4096)
def _terms(context: str, question: str, option_texts: tuple[str, ...]) -> tuple[str, str]:
    """`Case.terms`, cached: every reply to a question needs them, and they cost a regex scan."""
    words = re.findall(r"[A-Za-z]+(?:-[A-Za-z]+)*", f"{context} {question}")
    option_words = {w.lower() for text in option_texts for w in text.split()}
    medical: list[str] = []
    plain: list[str] = []
    for index, word in enumerate(words):
        lowered = word.lower()
        if len(lowered) < 6 or "-" in lowered or lowered in P.STOPWORDS:
            continue
        if lowered in option_words or lowered.endswith(P.ADJECTIVE_SUFFIXES):
            continue
        previous = words[index - 1].lower() if index else ""
        if previous.endswith(P.ADJECTIVE_SUFFIXES) and len(previous) > 5:
            lowered = f"{previous} {lowered}"
        target = medical if word.lower().endswith(P.MEDICAL_SUFFIXES) else plain
        if lowered not in target:
            target.append(lowered)
    found: list[str] = []
    for term in [*medical, *plain, "the main finding", "the clinical context"]:
        if not any(term in other or other in term for other in found):
            found.append(term)
    return found[0], found[1]


def _fill(rng: random.Random, bank: tuple[str, ...], case: Case, **extra: str) -> str:
    t1, t2 = case.terms()
    return rng.choice(bank).format(t1=t1, t2=t2, **extra)


def _background(case: Case, rng: random.Random) -> str:
    """Two different background sentences."""
    t1, t2 = case.terms()
    return " ".join(s.format(t1=t1, t2=t2) for s in rng.sample(P.BACKGROUND, 2))


def other_letter(case: Case, chosen: str, rng: random.Random) -> str:
    """Some option other than ``chosen`` (the runner-up of a comparison)."""
    others = [letter for letter in case.options if letter != chosen]
    return rng.choice(others) if others else chosen


def conclusion_line(case: Case, letter: str, rng: random.Random, strict: bool = False) -> str:
    """The final-answer line, in one of the varied forms real models produce unless ``strict``."""
    text = case.options[letter]
    draw = 0.0 if strict else rng.random()
    if draw < 0.55:
        return f"Final answer: {letter}. {text}"
    if draw < 0.70:
        return f"The answer is ({letter}) {text}."
    if draw < 0.85:
        return f"**Answer: {letter}**"
    return f"Final answer: {text}"


def _evaluations(case: Case, chosen: str, runner: str, rng: random.Random) -> list[str]:
    lines = []
    for letter, text in case.options.items():
        bank = P.SUPPORT if letter == chosen else P.RUNNER_UP if letter == runner else P.AGAINST
        lines.append(f"- {letter}. {text}: {_fill(rng, bank, case)}")
    return lines


def _ruled_out(case: Case, chosen: str, runner: str) -> str:
    out = [case.label(letter) for letter in case.options if letter not in (chosen, runner)]
    return ", ".join(out) if out else "No option"


def six_steps(
    case: Case, chosen: str, runner: str, rng: random.Random, extra: dict[int, list[str]] | None
) -> str:
    """The six-step chain of thought of the generator prompt, with optional extra lines per step."""
    extra = extra or {}
    names = {"chosen": case.label(chosen), "runner": case.label(runner)}
    steps = [
        ("Restate the question", [_fill(rng, P.RESTATE, case)]),
        ("Key clinical details", [_background(case, rng)]),
        ("Evaluate each option", _evaluations(case, chosen, runner, rng)),
        ("Rule out", [_fill(rng, P.RULE_OUT, case, opts=_ruled_out(case, chosen, runner))]),
        ("Compare the remaining options", [_fill(rng, P.COMPARE, case, **names)]),
        ("Conclude", [_fill(rng, P.CONCLUDE, case, chosen=names["chosen"])]),
    ]
    parts = []
    for number, (title, lines) in enumerate(steps, start=1):
        body = lines + extra.get(number, [])
        head = f"{number}. {title}:"
        if body[0].startswith("- "):
            parts.append(head + "\n" + "\n".join(body))
        else:
            parts.append(f"{head} {' '.join(body)}")
    return "\n\n".join(parts)


def plain_cot(case: Case, chosen: str, runner: str, rng: random.Random) -> str:
    """A plain-instruct model's reply: the six steps and a final-answer line."""
    return f"{six_steps(case, chosen, runner, rng, None)}\n\n{conclusion_line(case, chosen, rng)}"


def _freeform(case: Case, chosen: str, runner: str, rng: random.Random) -> list[str]:
    """Paragraphs of stream-of-thought reasoning (for the <think> and ## Thinking styles)."""
    names = {"chosen": case.label(chosen), "runner": case.label(runner)}
    options = [
        f"Option {letter}, {text}: {line.split(': ', 1)[1]}"
        for (letter, text), line in zip(
            case.options.items(), _evaluations(case, chosen, runner, rng), strict=True
        )
    ]
    return [
        f"{rng.choice(P.R1_OPENERS)} {_fill(rng, P.RESTATE, case)}",
        _background(case, rng),
        "Let me go through the options one by one.\n" + "\n".join(options),
        _fill(rng, P.RULE_OUT, case, opts=_ruled_out(case, chosen, runner)),
        f"{_fill(rng, P.COMPARE, case, **names)} {_fill(rng, P.R1_HESITATIONS, case, **names)}",
        f"So I'm going with {names['chosen']}.",
    ]


def r1_cot(case: Case, chosen: str, runner: str, rng: random.Random) -> str:
    """A DeepSeek-R1 distill's reply: <think>...</think>, a short summary, the answer."""
    thinking = "\n\n".join(_freeform(case, chosen, runner, rng))
    summary = _fill(rng, P.CONCLUDE, case, chosen=case.label(chosen))
    return f"<think>\n{thinking}\n</think>\n\n{summary}\n\n{conclusion_line(case, chosen, rng)}"


def huatuo_cot(case: Case, chosen: str, runner: str, rng: random.Random) -> str:
    """A HuatuoGPT-o1 reply: '## Thinking' then '## Final Response'."""
    thinking = "\n\n".join(_freeform(case, chosen, runner, rng))
    summary = _fill(rng, P.CONCLUDE, case, chosen=case.label(chosen))
    final = conclusion_line(case, chosen, rng)
    return f"## Thinking\n\n{thinking}\n\n## Final Response\n\n{summary}\n\n{final}"


def generator_cot(family: str, case: Case, chosen: str, rng: random.Random) -> str:
    """A generator reply in the style of the model family ('r1', 'huatuo' or 'plain')."""
    runner = other_letter(case, chosen, rng)
    write = {"r1": r1_cot, "huatuo": huatuo_cot}.get(family, plain_cot)
    return write(case, chosen, runner, rng)


def _fixes(case: Case, reasons: tuple[str, ...], rng: random.Random) -> list[str]:
    picked = [r.rstrip(".") for r in reasons[:3]]
    return [_fill(rng, P.REVIEW_FIXES, case, reason=reason) for reason in picked]


def refined_cot(case: Case, chosen: str, reasons: tuple[str, ...], rng: random.Random) -> str:
    """The refiner's rewrite: six steps that take up the reviewer's points."""
    runner = other_letter(case, chosen, rng)
    body = six_steps(case, chosen, runner, rng, {2: _fixes(case, reasons, rng)})
    return f"{body}\n\n{conclusion_line(case, chosen, rng, strict=True)}"


def regenerated_cot(case: Case, chosen: str, reasons: tuple[str, ...], rng: random.Random) -> str:
    """The difficult-tier rewrite: six steps plus red flags, mechanism and a differential."""
    runner = other_letter(case, chosen, rng)
    names = {"chosen": case.label(chosen), "runner": case.label(runner)}
    differential = [
        f"Differential: {case.label(letter)} differs from {names['chosen']} in that "
        f"{_fill(rng, P.AGAINST, case).lower()}"
        for letter in case.options
        if letter != chosen
    ]
    extra = {
        2: [
            "Red flags: " + _fill(rng, P.RED_FLAGS, case),
            "Mechanism: " + _fill(rng, P.MECHANISMS, case, **names),
            *_fixes(case, reasons, rng),
        ],
        5: differential,
    }
    body = six_steps(case, chosen, runner, rng, extra)
    return f"{body}\n\n{conclusion_line(case, chosen, rng, strict=True)}"


def summary_text(case: Case, letter: str | None, rng: random.Random) -> str:
    """One or two sentences naming the answer and its main reason."""
    if letter is None:
        return "The reasoning does not settle on a single option, so no answer can be summarized."
    reason = _fill(rng, P.SUMMARY_REASONS, case)
    return f"The answer is {letter}. {case.options[letter]}, {reason}."


def examinee_text(case: Case, letter: str, rng: random.Random) -> str:
    """A short exam answer ending with 'Final answer: <letter>'."""
    line = _fill(rng, P.EXAMINEE_LINES, case, chosen=case.label(letter))
    return f"{line}\n\nFinal answer: {letter}"
