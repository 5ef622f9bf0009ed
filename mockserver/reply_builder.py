"""What the mock answers, role by role: the one place that decides correctness.

A reply is a pure function of the request (its digest seeds the text) and of the server's
configuration (answer key, examinee accuracy, generator slots). Correctness never depends on the
seed: the seed only changes the wording, so re-asking cannot move a question between tiers.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from reasonmed.mockserver.answer_key import AnswerKey
from reasonmed.mockserver.protocol import ChatRequest
from reasonmed.mockserver.reader import read_conclusion
from reasonmed.mockserver.roles import ParsedPrompt
from reasonmed.mockserver.scenarios import (
    DEFAULT_TEMPERATURES,
    Scenario,
    model_family,
    path_slot,
    pick,
    wrong_slots,
)
from reasonmed.mockserver.writer import (
    Case,
    examinee_text,
    generator_cot,
    refined_cot,
    regenerated_cot,
    summary_text,
)

UNKNOWN_PROMPT_REPLY = (
    "This is the ReasonMed mock server; it answers the project's own prompt templates only."
)


@dataclass(frozen=True)
class ReplyConfig:
    """The server options that shape replies."""

    answer_key: AnswerKey = field(default_factory=AnswerKey)
    examinee_accuracy: float = 0.7
    generator_models: tuple[str, ...] = ()
    generator_temperatures: tuple[float, ...] = DEFAULT_TEMPERATURES


Handler = Callable[[ChatRequest, ParsedPrompt, ReplyConfig, random.Random], str]


def _wrong(p: ParsedPrompt, gold: str, *salt: object) -> str:
    """A wrong option, chosen by hash (the gold one if it is the only option)."""
    others = [letter for letter in sorted(p.options) if letter != gold]
    return pick(others, p.normalized_question, *salt) if others else gold


def _gold(p: ParsedPrompt, config: ReplyConfig) -> str | None:
    """The gold letter: from the prompt when it carries one, else from the answer key."""
    return p.gold_letter or config.answer_key.gold_letter(p.question, p.options)


def json_reply(payload: dict[str, object], rng: random.Random) -> str:
    """Valid JSON in the varied wrappings real models use: bare, fenced, or after a sentence."""
    draw = rng.random()
    if draw < 0.5:
        return json.dumps(payload)
    if draw < 0.8:
        return f"```json\n{json.dumps(payload, indent=2)}\n```"
    return f"Here is my assessment.\n\n{json.dumps(payload)}"


def _generator(req: ChatRequest, p: ParsedPrompt, cfg: ReplyConfig, rng: random.Random) -> str:
    case = Case(p.question, p.options, p.context)
    q = p.normalized_question
    slot = path_slot(req.model, req.temperature, cfg.generator_models, cfg.generator_temperatures)
    gold = cfg.answer_key.gold_letter(p.question, p.options)
    if gold is None:
        chosen = pick(sorted(p.options), q, "guess", slot)
    elif slot in wrong_slots(q, cfg.answer_key.scenario(p.question)):
        chosen = _wrong(p, gold, "wrong-path", slot)
    else:
        chosen = gold
    return generator_cot(model_family(req.model), case, chosen, rng)


def _verifier(req: ChatRequest, p: ParsedPrompt, cfg: ReplyConfig, rng: random.Random) -> str:
    case = Case(p.question, p.options, p.context)
    t1, t2 = case.terms()
    gold = _gold(p, cfg)
    concluded = read_conclusion(p.cot or "", p.options)
    if gold is None:
        verdict, reason = "Error", "The stated correct answer does not match any of the options."
    elif concluded == gold:
        verdict = "Correct"
        reason = rng.choice(
            [
                f"The reasoning identifies the key findings, weighs every option and correctly "
                f"concludes {case.label(gold)}.",
                f"It reaches {case.label(gold)} through sound reasoning about {t1}, with no "
                f"factual errors.",
            ]
        )
    elif concluded is None:
        verdict = "Error"
        reason = f"The reasoning never commits to a single option, so it does not reach {gold}."
    else:
        verdict = "Error"
        wrong, right = case.label(concluded), case.label(gold)
        reason = rng.choice(
            [
                f"The reasoning concludes {wrong}, but the correct answer is {right}; it dismisses "
                f"{p.options[gold]} without accounting for {t1}.",
                f"It settles on {wrong} after misreading the significance of {t1}, and so misses "
                f"the correct answer {right}.",
                f"The final answer {wrong} is wrong: {t2} points to {right}, which the reasoning "
                f"rules out too early.",
            ]
        )
    return json_reply({"verdict": verdict, "reason": reason}, rng)


def _ranker(req: ChatRequest, p: ParsedPrompt, cfg: ReplyConfig, rng: random.Random) -> str:
    score = rng.choices(range(6), weights=[1, 1, 2, 4, 5, 3])[0]
    justification = {
        5: "Clear, complete and accurate, with every option addressed.",
        4: "Sound and well organised, though one option is treated briefly.",
        3: "Reaches the answer with sound reasoning but leaves some gaps.",
        2: "Reaches the answer, but several options are skipped or vaguely argued.",
        1: "Reaches the answer with confused or partly wrong reasoning.",
        0: "Not usable as teaching material.",
    }[score]
    return json_reply({"score": score, "justification": justification}, rng)


def _rewrite(p: ParsedPrompt, cfg: ReplyConfig, fail_in: Scenario, salt: str) -> str | None:
    """The option a rewrite concludes with: wrong when the question plays ``fail_in``."""
    gold = _gold(p, cfg)
    if gold is None:
        return read_conclusion(p.cot or "", p.options) or min(p.options)
    if cfg.answer_key.scenario(p.question) == fail_in:
        return _wrong(p, gold, salt)
    return gold


def _refiner(req: ChatRequest, p: ParsedPrompt, cfg: ReplyConfig, rng: random.Random) -> str:
    chosen = _rewrite(p, cfg, Scenario.REFINE_FAIL, "refine-fail")
    return refined_cot(Case(p.question, p.options, p.context), chosen, p.error_reasons, rng)


def _regenerator(req: ChatRequest, p: ParsedPrompt, cfg: ReplyConfig, rng: random.Random) -> str:
    chosen = _rewrite(p, cfg, Scenario.REJECT, "reject")
    return regenerated_cot(Case(p.question, p.options, p.context), chosen, p.error_reasons, rng)


def _summarizer(req: ChatRequest, p: ParsedPrompt, cfg: ReplyConfig, rng: random.Random) -> str:
    letter = read_conclusion(p.cot or "", p.options)
    return summary_text(Case(p.question, p.options, p.context), letter, rng)


def _judge(req: ChatRequest, p: ParsedPrompt, cfg: ReplyConfig, rng: random.Random) -> str:
    score = rng.choices(range(1, 11), weights=[1, 1, 1, 2, 3, 4, 5, 5, 3, 2])[0]
    quality = "strong" if score >= 8 else "adequate" if score >= 5 else "weak"
    justification = (
        f"Clinical accuracy and factual correctness are {quality}; the reasoning is "
        f"{'logical and complete' if score >= 7 else 'partly logical but incomplete'}."
    )
    return json_reply({"score": score, "justification": justification}, rng)


def _examinee(req: ChatRequest, p: ParsedPrompt, cfg: ReplyConfig, rng: random.Random) -> str:
    gold = cfg.answer_key.gold_letter(p.question, p.options)
    if gold is None:
        chosen = pick(sorted(p.options), p.normalized_question, "examinee-guess")
    elif cfg.answer_key.examinee_knows(p.question, cfg.examinee_accuracy):
        chosen = gold
    else:
        chosen = _wrong(p, gold, "examinee-wrong")
    return examinee_text(Case(p.question, p.options, p.context), chosen, rng)


HANDLERS: dict[str, Handler] = {
    "generator": _generator,
    "verifier": _verifier,
    "ranker": _ranker,
    "refiner": _refiner,
    "regenerator": _regenerator,
    "summarizer": _summarizer,
    "judge": _judge,
    "examinee": _examinee,
}
NEEDS_OPTIONS = frozenset(HANDLERS) - {"ranker", "judge"}


def reply_text(request: ChatRequest, parsed: ParsedPrompt, config: ReplyConfig) -> str:
    """The full reply content for a request (before any max_tokens cut or injected fault)."""
    rng = random.Random(request.digest)
    role = parsed.role
    if role is None and parsed.options:
        role = "examinee"
    if role is None or (role in NEEDS_OPTIONS and not parsed.options):
        return UNKNOWN_PROMPT_REPLY
    return HANDLERS[role](request, parsed, config, rng)
