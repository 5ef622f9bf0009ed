"""Split assignment: seeded, stratified by (source, tier), and stable as questions are added."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reasonmed.exports.splits import (
    TRAIN,
    SplitSpec,
    band_split,
    check_splits,
    parse_split,
    plan_splits,
    share,
    split_hash,
)

VAL_TEST = (SplitSpec("validation", 0.02), SplitSpec("test", 0.01))
STRATA = [(s, t) for s in ("medqa", "medmcqa", "pubmedqa", "mmlu") for t in ("easy", "medium")]


def questions(n: int, seed: int = 0, strata: list[tuple[str, str]] = STRATA) -> list[tuple]:
    rng = random.Random(seed)
    return [(f"q-{seed}-{i}", *rng.choice(strata)) for i in range(n)]


def plan_of(keys: list[tuple], splits=VAL_TEST, seed: int = 7):
    return plan_splits(lambda: iter(keys), splits, seed)


def assignment(keys: list[tuple], **kw) -> dict[str, str]:
    plan = plan_of(keys, **kw)
    return {qid: plan.split_of(qid) for qid, *_ in keys}


def test_parse_split() -> None:
    assert parse_split("validation=0.02") == SplitSpec("validation", 0.02)
    for bad, message in (
        ("validation", "NAME=FRACTION"),
        ("train=0.1", "not data or train"),
        ("Val=0.1", "lowercase"),
        ("test=abc", "not a number"),
        ("test=1.5", "between 0 and 1"),
        ("test=0", "between 0 and 1"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_split(bad)
    with pytest.raises(ValueError, match="must differ"):
        check_splits([SplitSpec("test", 0.1), SplitSpec("test", 0.2)])
    with pytest.raises(ValueError, match="less than 1"):
        check_splits([SplitSpec("a", 0.6), SplitSpec("b", 0.4)])


def test_bands_in_the_order_given() -> None:
    assert band_split(VAL_TEST, 0.0) == "validation"
    assert band_split(VAL_TEST, 0.0199) == "validation"
    assert band_split(VAL_TEST, 0.02) == "test"
    assert band_split(VAL_TEST, 0.0299) == "test"
    assert band_split(VAL_TEST, 0.03) == TRAIN
    assert 0.0 <= split_hash(3, "q-1") < 1.0 and split_hash(3, "q-1") != split_hash(4, "q-1")
    assert share(40, 0.02) == 1 and share(24, 0.02) == 0 and share(75, 0.02) == 2


def test_same_seed_same_splits_other_seed_other_splits() -> None:
    keys = questions(5000)
    assert assignment(keys) == assignment(list(reversed(keys)))
    assert assignment(keys) != assignment(keys, seed=8)


def test_each_large_stratum_gets_its_fraction() -> None:
    """Bands hold every stratum to its fraction within sampling noise (3.5 sigma here)."""
    keys = questions(80_000)
    plan = plan_of(keys)
    for stratum, counts in plan.strata.items():
        n = sum(counts.values())
        for spec in VAL_TEST:
            sigma = (spec.fraction * (1 - spec.fraction) / n) ** 0.5
            assert abs(counts[spec.name] / n - spec.fraction) < 3.5 * sigma, (stratum, spec)


def test_small_strata_get_their_share_when_they_can() -> None:
    # 60 questions of one stratum: share 1 of validation (0.02) and 1 of test (0.01 -> 0.6).
    # Whatever the seed, neither split is left empty, and train is never emptied.
    for seed in range(40):
        keys = questions(60, seed=seed, strata=[("rare", "difficult")])
        plan = plan_of(keys, seed=seed)
        counts = plan.strata["rare", "difficult"]
        assert counts["validation"] >= 1 and counts["test"] >= 1, seed
        assert counts[TRAIN] == 60 - counts["validation"] - counts["test"] >= 1
        assert plan.top_ups <= set(plan.held_out)
    # A top-up never takes a stratum's last train question (here its only one, above the band).
    alone = next(f"q-{i}" for i in range(100) if split_hash(7, f"q-{i}") >= 0.5)
    tiny = plan_of([(alone, "x", "easy")], splits=(SplitSpec("validation", 0.5),))
    assert tiny.split_of(alone) == TRAIN and not tiny.top_ups


def test_top_ups_take_the_lowest_hashes_above_the_bands() -> None:
    keys = questions(60, seed=3, strata=[("rare", "easy")])
    plan = plan_of(keys, seed=3)
    by_hash = sorted((split_hash(3, qid), qid) for qid, *_ in keys)
    in_bands = {qid for u, qid in by_hash if u < 0.03}
    above = [qid for u, qid in by_hash if u >= 0.03]
    assert set(plan.held_out) - plan.top_ups == in_bands
    assert set(above[: len(plan.top_ups)]) == plan.top_ups


@given(
    st.integers(0, 2**32),
    st.integers(50, 400),
    st.integers(1, 400),
    st.floats(0.01, 0.3),
)
def test_adding_questions_moves_only_new_ones_and_top_ups(
    seed: int, before: int, added: int, fraction: float
) -> None:
    """The guarantee the README states: an old question keeps its split unless it is a
    top-up (of a stratum whose split its band left empty) before or after; everything assigned
    by its band stays put."""
    splits = (SplitSpec("validation", fraction),)
    strata = [("a", "easy"), ("b", "easy"), ("c", "hard")]
    old = questions(before, seed=seed, strata=strata)
    grown = old + [(f"new-{i}", *random.Random(i).choice(strata)) for i in range(added)]
    first = plan_of(old, splits=splits, seed=seed)
    second = plan_of(grown, splits=splits, seed=seed)
    moved = {qid for qid, *_ in old if first.split_of(qid) != second.split_of(qid)}
    assert moved <= first.top_ups | second.top_ups


def test_large_strata_do_not_move_at_all() -> None:
    """With enough questions per stratum no split is ever empty, so nothing old moves."""
    old = questions(20_000, seed=1)
    grown = old + questions(5_000, seed=2)
    first, second = assignment(old), assignment(grown)
    assert all(second[qid] == split for qid, split in first.items())
    assert Counter(first.values())["validation"] > 0
