"""Injected faults: rate limits, server errors and malformed replies, decided deterministically.

Whether a request fails is drawn from hash(request, k), where k counts how often this server has
already seen that exact request. A client that retries the identical request therefore gets a
fresh draw each time and eventually succeeds (unless the rate is 1.0), while a whole run stays
reproducible from the sequence of requests alone.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from reasonmed.mockserver.scenarios import unit

FAULT_KINDS: tuple[str, ...] = ("429", "500", "malformed")
# Share of each kind among faults: half rate limits, a quarter server errors, a quarter garbage.
FAULT_WEIGHTS: dict[str, float] = {"429": 0.5, "500": 0.25, "malformed": 0.25}
RATE_LIMIT_HEADERS: dict[str, str] = {"Retry-After": "1", "retry-after-ms": "200"}
JSON_ROLES = frozenset({"verifier", "ranker", "judge"})


def parse_fault_kinds(text: str) -> tuple[str, ...]:
    """'429,malformed' -> ('429', 'malformed'); unknown kinds raise ValueError."""
    kinds = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [kind for kind in kinds if kind not in FAULT_KINDS]
    if unknown or not kinds:
        raise ValueError(f"fault kinds must be among {','.join(FAULT_KINDS)}, got {text!r}")
    return kinds


@dataclass(frozen=True)
class FaultConfig:
    """How often requests fail and in which ways."""

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS


class AttemptCounter:
    """How many times each exact request has been seen (kept in memory for the server's life)."""

    def __init__(self) -> None:
        self._seen: Counter[str] = Counter()

    def next(self, digest: str) -> int:
        """The attempt number of this sighting: 0 the first time, then 1, 2, ..."""
        attempt = self._seen[digest]
        self._seen[digest] += 1
        return attempt


def decide_fault(digest: str, attempt: int, config: FaultConfig) -> str | None:
    """The fault kind for this attempt of this request, or None when it succeeds."""
    if config.rate <= 0 or unit(digest, attempt, "fault") >= config.rate:
        return None
    total = sum(FAULT_WEIGHTS[kind] for kind in config.kinds)
    draw = unit(digest, attempt, "fault-kind") * total
    for kind in config.kinds:
        draw -= FAULT_WEIGHTS[kind]
        if draw < 0:
            return kind
    return config.kinds[-1]


def malformed_content(role: str | None, rng: random.Random) -> str:
    """A 200 reply that cannot be used: broken JSON for the JSON roles, empty text otherwise."""
    if role not in JSON_ROLES:
        return ""
    broken = {
        "verifier": ['{"verdict": "Correct", "reason": "The reasoning', "verdict: Error because"],
        "ranker": ['{"score": 4, "justification": "Clear', "{'score': , 'justification'}"],
        "judge": ['{"score": 8, "justification": "Accurate and', "score = eight / ten"],
    }[role]
    return rng.choice(broken)
