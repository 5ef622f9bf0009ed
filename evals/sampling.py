"""Which items an eval looks at: a seeded sample, the same for the same seed on any machine.

The paper's Score Evaluator averaged over 3,000 random examples; a seed makes that sample
reproducible, and a fingerprint of the population lets a rerun notice that the population
changed (a run that gained examples) instead of silently mixing two samples.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence


def sample_indices(population: int, size: int | None, seed: int) -> list[int]:
    """Indices of a seeded simple random sample, in input order; everything when size covers it.

    random.Random(seed).sample is stable across Python versions for int seeds, so the same
    (population, size, seed) always gives the same items.
    """
    if population < 0:
        raise ValueError("population must not be negative")
    if size is not None and size < 1:
        raise ValueError("sample size must be at least 1")
    if size is None or size >= population:
        return list(range(population))
    return sorted(random.Random(seed).sample(range(population), size))


def population_fingerprint(keys: Sequence[str]) -> str:
    """sha256 of the ordered item keys: equal only for the same population in the same order."""
    return hashlib.sha256(json.dumps(list(keys)).encode("utf-8")).hexdigest()
