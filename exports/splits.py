"""Held-out splits: seeded, grouped by question, stratified by (source, tier), stable as runs grow.

Each question gets u = the first 8 bytes of sha256("SEED:QUESTION_ID") read as a fraction of
2**64. Splits take consecutive bands of u in the order given: with validation=0.02 and
test=0.01, u < 0.02 is validation, 0.02 <= u < 0.03 test, the rest train. A question's band
depends on nothing but the seed and its id, so a rerun gives the same splits, both CoTs of a
question share its split, and adding questions never moves an old one; every stratum receives
each split's fraction in expectation.

Where chance matters is a small stratum: one expected to hold round(n * f) >= 1 questions of a
split can draw none. Such a split is topped up to round(n * f) with the stratum's train
questions of lowest u (never its last train question). A top-up is the one assignment that
depends on the other questions of the stratum, so top-ups are the only old questions that can
change split when a stratum grows: one topped up before may return to train (the band filled
the split, or a new question of lower u took its place), and an old train question may be
topped up after. Questions held out or kept in train by their band never move. A stratum
expecting k questions of a split draws none with probability about e**-k, so top-ups, and with
them any moves, are confined to small strata.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

TRAIN = "train"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_RESERVED = {TRAIN, "data"}  # train holds the rest; data/ holds the Parquet shards

Stratum = tuple[str, str]  # (source, tier)
QuestionKey = tuple[str, str, str]  # (question id, source, tier)


@dataclass(frozen=True)
class SplitSpec:
    """One held-out split: its name and the fraction of questions it takes."""

    name: str
    fraction: float


def parse_split(text: str) -> SplitSpec:
    """`validation=0.02` -> SplitSpec("validation", 0.02)."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise ValueError(f"--split {text!r}: expected NAME=FRACTION, e.g. validation=0.02")
    if not _NAME.match(name) or name in _RESERVED:
        raise ValueError(
            f"--split {text!r}: the name must be lowercase letters, digits or _, and not "
            f"{' or '.join(sorted(_RESERVED))} (train holds every question not held out)"
        )
    try:
        fraction = float(value)
    except ValueError:
        raise ValueError(f"--split {text!r}: {value!r} is not a number") from None
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"--split {text!r}: the fraction must be between 0 and 1")
    return SplitSpec(name, fraction)


def check_splits(splits: Iterable[SplitSpec]) -> tuple[SplitSpec, ...]:
    """Distinct names whose fractions leave some questions for train."""
    splits = tuple(splits)
    names = [s.name for s in splits]
    if len(set(names)) != len(names):
        raise ValueError(f"--split names must differ; got {', '.join(names)}")
    if sum(s.fraction for s in splits) >= 1.0:
        raise ValueError("--split fractions must add up to less than 1, leaving some for train")
    return splits


def split_hash(seed: int, question_id: str) -> float:
    """The question's place in [0, 1): what its split is read from."""
    digest = hashlib.sha256(f"{seed}:{question_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def band_split(splits: tuple[SplitSpec, ...], u: float) -> str:
    """The split whose band holds u (train above every band)."""
    edge = 0.0
    for spec in splits:
        edge += spec.fraction
        if u < edge:
            return spec.name
    return TRAIN


def share(n: int, fraction: float) -> int:
    """A stratum's share of a split: n * fraction rounded half up."""
    return math.floor(n * fraction + 0.5)


@dataclass
class SplitPlan:
    """Where every question of an export goes; train unless listed in `held_out`."""

    splits: tuple[SplitSpec, ...]
    seed: int
    held_out: dict[str, str] = field(default_factory=dict)
    top_ups: set[str] = field(default_factory=set)  # held out by top-up, not by their band
    strata: dict[Stratum, Counter[str]] = field(default_factory=dict)  # questions per split

    def split_of(self, question_id: str) -> str:
        """The question's split."""
        return self.held_out.get(question_id, TRAIN)

    @property
    def names(self) -> tuple[str, ...]:
        """Every split of the plan, train first."""
        return (TRAIN, *(s.name for s in self.splits))


def plan_splits(
    questions: Callable[[], Iterable[QuestionKey]], splits: tuple[SplitSpec, ...], seed: int
) -> SplitPlan:
    """Assign the questions that `questions()` yields; it is called a second time only when
    some stratum needs a top-up. Memory is held-out questions plus a counter per stratum."""
    plan = SplitPlan(check_splits(splits), seed)
    for qid, source, tier in questions():
        stratum = (source or "", tier or "")
        name = band_split(plan.splits, split_hash(seed, qid))
        plan.strata.setdefault(stratum, Counter())[name] += 1
        if name != TRAIN:
            plan.held_out[qid] = name
    needs = _top_up_needs(plan)
    if needs:
        _top_up(plan, questions, needs)
    return plan


def _top_up_needs(plan: SplitPlan) -> dict[Stratum, list[tuple[str, int]]]:
    """Per stratum, the splits its band left empty though its share is at least one."""
    needs: dict[Stratum, list[tuple[str, int]]] = {}
    for stratum, counts in plan.strata.items():
        n = sum(counts.values())
        spare = counts[TRAIN] - 1  # the stratum keeps at least one train question
        wanted = []
        for spec in plan.splits:
            want = min(share(n, spec.fraction), spare)
            if counts[spec.name] == 0 and want > 0:
                wanted.append((spec.name, want))
                spare -= want
        if wanted:
            needs[stratum] = wanted
    return needs


def _top_up(
    plan: SplitPlan,
    questions: Callable[[], Iterable[QuestionKey]],
    needs: dict[Stratum, list[tuple[str, int]]],
) -> None:
    sizes = {stratum: sum(n for _, n in wanted) for stratum, wanted in needs.items()}
    lowest: dict[Stratum, list[tuple[float, str]]] = defaultdict(list)  # max-heaps by -u
    for qid, source, tier in questions():
        stratum = (source or "", tier or "")
        if stratum not in sizes or qid in plan.held_out:
            continue
        heap = lowest[stratum]
        item = (-split_hash(plan.seed, qid), qid)
        if len(heap) < sizes[stratum]:
            heapq.heappush(heap, item)
        elif item > heap[0]:
            heapq.heapreplace(heap, item)
    for stratum, wanted in needs.items():
        chosen = [qid for _, qid in sorted(lowest[stratum], reverse=True)]
        for name, n in wanted:
            for qid in chosen[:n]:
                plan.held_out[qid] = name
                plan.top_ups.add(qid)
                plan.strata[stratum][TRAIN] -= 1
                plan.strata[stratum][name] += 1
            chosen = chosen[n:]
