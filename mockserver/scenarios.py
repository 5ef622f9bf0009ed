"""Deterministic choices of the mock: which scenario a question plays and which paths go wrong.

Everything here is a pure function of its arguments (sha256 based), so a run against the mock is
reproducible and a test can compute in advance what the mock will do.

A question plays one of five scenarios. Questions listed in the answer key are ranked by a hash of
their normalized text and dealt scenarios from ``SCENARIO_CYCLE`` (exactly the proportions in
``SCENARIO_PROPORTIONS`` per 20 questions, and every scenario present once the key holds 5 or more
questions, so a small sample file still exercises every tier). Questions outside the key get a
scenario by hashing alone, with the same proportions as probabilities.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from enum import StrEnum


class Scenario(StrEnum):
    """The route a question is meant to take through the EMD pipeline."""

    EASY = "easy"
    REFINE_PASS = "medium-refine-pass"
    REFINE_FAIL = "medium-refine-fail"
    REGENERATE_PASS = "difficult-regenerate-pass"
    REJECT = "difficult-reject"


SCENARIO_PROPORTIONS: dict[Scenario, float] = {
    Scenario.EASY: 0.45,
    Scenario.REFINE_PASS: 0.20,
    Scenario.REFINE_FAIL: 0.10,
    Scenario.REGENERATE_PASS: 0.15,
    Scenario.REJECT: 0.10,
}

_E, _RP, _RF, _GP, _RJ = (
    Scenario.EASY,
    Scenario.REFINE_PASS,
    Scenario.REFINE_FAIL,
    Scenario.REGENERATE_PASS,
    Scenario.REJECT,
)
# 9 easy, 4 refine-pass, 2 refine-fail, 3 regenerate-pass, 2 reject; the first 5 cover all five.
SCENARIO_CYCLE: tuple[Scenario, ...] = (
    _E, _RP, _GP, _RF, _RJ, _E, _E, _RP, _E, _GP,
    _E, _RP, _RF, _E, _RJ, _E, _GP, _RP, _E, _E,
)  # fmt: skip

# How many of the 9 generator paths conclude wrongly, as an inclusive range per scenario.
WRONG_PATHS: dict[Scenario, tuple[int, int]] = {
    Scenario.EASY: (1, 3),
    Scenario.REFINE_PASS: (5, 7),
    Scenario.REFINE_FAIL: (5, 7),
    Scenario.REGENERATE_PASS: (8, 9),
    Scenario.REJECT: (8, 9),
}
PATH_COUNT = 9
DEFAULT_TEMPERATURES: tuple[float, ...] = (0.7, 0.9, 1.0)


def stable_hash(*parts: object) -> int:
    """A 64-bit hash of the parts that is the same in every process (unlike ``hash``)."""
    text = "\x1f".join(str(part) for part in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def unit(*parts: object) -> float:
    """A deterministic number in [0, 1) drawn from the parts."""
    return stable_hash(*parts) / 2**64


def hashed_scenario(question: str) -> Scenario:
    """Scenario for a question outside the answer key, by hash with the fixed proportions."""
    draw = unit(question, "scenario")
    cumulative = 0.0
    for scenario, share in SCENARIO_PROPORTIONS.items():
        cumulative += share
        if draw < cumulative:
            return scenario
    return Scenario.EASY


def assign_scenarios(questions: Iterable[str]) -> dict[str, Scenario]:
    """Deal scenarios to the (normalized) questions of an answer key in hash order."""
    ranked = sorted(set(questions), key=lambda q: (stable_hash(q, "scenario-rank"), q))
    return {q: SCENARIO_CYCLE[i % len(SCENARIO_CYCLE)] for i, q in enumerate(ranked)}


def wrong_path_count(question: str, scenario: Scenario) -> int:
    """How many of the question's 9 generator paths conclude with a wrong option."""
    low, high = WRONG_PATHS[scenario]
    return low + stable_hash(question, "wrong-count") % (high - low + 1)


def model_family(model: str) -> str:
    """Reply style of a generator model: 'r1' (<think>), 'huatuo' (## Thinking) or 'plain'."""
    name = model.lower()
    if "r1" in name or "deepseek" in name:
        return "r1"
    if "huatuo" in name:
        return "huatuo"
    return "plain"


_FAMILY_SLOT = {"plain": 0, "r1": 1, "huatuo": 2}


def path_slot(
    model: str,
    temperature: float | None,
    models: tuple[str, ...] = (),
    temperatures: tuple[float, ...] = DEFAULT_TEMPERATURES,
) -> int:
    """Map a (model, temperature) pair onto one of the 9 path slots.

    The model's slot is its position in ``models`` when listed there (``--generator-models``),
    otherwise its family (plain 0, r1 1, huatuo 2); the temperature's slot is the nearest of
    ``temperatures``. A pipeline using one model per family at 0.7/0.9/1.0 fills all 9 slots, which
    is what makes the wrong-path counts exact.
    """
    lowered = [m.lower() for m in models]
    if model.lower() in lowered:
        model_slot = lowered.index(model.lower()) % 3
    else:
        model_slot = _FAMILY_SLOT[model_family(model)]
    temp = 1.0 if temperature is None else temperature
    temps = temperatures or DEFAULT_TEMPERATURES
    temp_slot = min(range(len(temps)), key=lambda i: (abs(temps[i] - temp), i)) % 3
    return model_slot * 3 + temp_slot


def wrong_slots(question: str, scenario: Scenario) -> frozenset[int]:
    """The slots whose paths go wrong: the ``wrong_path_count`` lowest by hash of the question."""
    count = wrong_path_count(question, scenario)
    order = sorted(range(PATH_COUNT), key=lambda slot: stable_hash(question, "path", slot))
    return frozenset(order[:count])


def pick(options: list[str], *parts: object) -> str:
    """Choose one element deterministically."""
    if not options:
        raise ValueError("nothing to pick from")
    return options[stable_hash(*parts) % len(options)]


def rank_fraction_below(items: Iterable[str], fraction: float, salt: str) -> frozenset[str]:
    """The items whose hash rank lies in the lowest ``fraction``: exactly round(fraction * n)."""
    ranked = sorted(set(items), key=lambda item: (stable_hash(item, salt), item))
    n = len(ranked)
    return frozenset(item for i, item in enumerate(ranked) if (i + 0.5) / n < fraction)
