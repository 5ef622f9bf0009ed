"""Properties of the cleaner over generated inputs: batching, order, determinism, estimates."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from reasonmed.core.question import Question
from reasonmed.sources.minhash_index import MinHasher, estimated_jaccard
from reasonmed.sources.question_cleaning import Drop, QuestionCleaner
from reasonmed.sources.text_normal import normalize_text, word_hashes

# A small vocabulary, so that generated questions often share words, grams and whole stems.
WORDS = ["renal", "acute", "nerve", "dose", "first", "sign", "cause", "drug", "most", "common"]
WORDS += ["of", "the", "which", "in", "lesion", "artery", "child", "fever", "rash", "type"]

stems = st.lists(st.sampled_from(WORDS), min_size=1, max_size=14).map(" ".join)
option_sets = st.lists(st.sampled_from(WORDS), min_size=2, max_size=4, unique=True)


@st.composite
def question_lists(draw: st.DrawFn) -> list[Question]:
    """Questions where many are copies of earlier ones: exact, recased, or one word changed."""
    questions: list[Question] = []
    for index in range(draw(st.integers(1, 30))):
        kind = draw(st.sampled_from(["new", "copy", "recased", "edited"])) if questions else "new"
        if kind == "new":
            stem, options = draw(stems), draw(option_sets)
        else:
            source = draw(st.sampled_from(questions))
            stem, options = source.question, list(source.options.values())
            if kind == "recased":
                stem = stem.upper() + " ?"
            elif kind == "edited":
                words = stem.split()
                words[draw(st.integers(0, len(words) - 1))] = draw(st.sampled_from(WORDS))
                stem = " ".join(words)
        lettered = dict(zip("ABCD", options, strict=False))
        questions.append(Question(id=f"q{index}", question=stem, options=lettered, answer="A"))
    return questions


def _normalized(question: Question) -> tuple[str, str]:
    return normalize_text(question.question), normalize_text(" ".join(question.options.values()))


def _checked_one_by_one(benchmarks: list[Question], questions: list[Question]) -> list[Drop | None]:
    cleaner = QuestionCleaner()
    for line, question in enumerate(benchmarks, start=1):
        cleaner.add_benchmark(question, "test.jsonl", line)
    return [cleaner.check(question, "train.jsonl", line) for line, question in enumerate(questions)]


@settings(max_examples=60, deadline=None)
@given(questions_=question_lists(), cuts=st.lists(st.integers(1, 29), max_size=4))
def test_batches_give_the_same_drops_as_one_at_a_time(
    questions_: list[Question], cuts: list[int]
) -> None:
    benchmarks, questions = questions_[::5], questions_
    expected = _checked_one_by_one(benchmarks, questions)
    cleaner = QuestionCleaner()
    for line, question in enumerate(benchmarks, start=1):
        cleaner.add_benchmark(question, "test.jsonl", line)
    items = [(question, "train.jsonl", line) for line, question in enumerate(questions)]
    bounds = [0, *sorted(cut for cut in cuts if cut < len(items)), len(items)]
    got = [
        drop
        for start, end in itertools.pairwise(bounds)
        for drop in cleaner.check_batch(items[start:end])
    ]
    assert got == expected


@settings(max_examples=30, deadline=None)
@given(questions=question_lists(), batch_size=st.integers(1, 8))
def test_the_stream_gives_the_same_drops_lazily(questions: list[Question], batch_size: int) -> None:
    expected = _checked_one_by_one(questions[::4], questions)
    cleaner = QuestionCleaner()
    for line, question in enumerate(questions[::4], start=1):
        cleaner.add_benchmark(question, "test.jsonl", line)
    pulled: list[int] = []

    def items() -> Iterator[tuple[Question, str, int]]:
        for line, question in enumerate(questions):
            pulled.append(line)
            yield question, "train.jsonl", line

    stream = cleaner.check_stream(items(), batch_size=batch_size)
    first = next(stream)
    assert len(pulled) == min(batch_size, len(questions))  # no more read than one batch
    results = [first, *stream]
    assert [(q.id, line) for q, _, line, _ in results] == [
        (q.id, n) for n, q in enumerate(questions)
    ]
    assert [drop for *_, drop in results] == expected


@settings(max_examples=60, deadline=None)
@given(questions=question_lists())
def test_drops_point_at_earlier_kept_questions_and_exact_copies_never_survive(
    questions: list[Question],
) -> None:
    drops = _checked_one_by_one([], questions)
    kept: dict[str, Question] = {}
    for question, drop in zip(questions, drops, strict=True):
        if drop is None:
            assert _normalized(question) not in {_normalized(k) for k in kept.values()}
            kept[question.id] = question
            continue
        assert drop.reason in ("duplicate", "near_duplicate") and drop.of in kept
        assert drop.id == question.id
        if drop.reason == "duplicate":
            assert (drop.score, drop.how) == (1.0, "exact")
            assert _normalized(kept[drop.of]) == _normalized(question)
        else:
            assert 0.5 <= drop.score <= 1.0 and drop.how == f"minhash {drop.score:.2f}"


@settings(max_examples=40, deadline=None)
@given(questions=question_lists())
def test_a_copy_of_a_benchmark_question_is_never_kept(questions: list[Question]) -> None:
    benchmarks = questions[::3]
    drops = _checked_one_by_one(benchmarks, questions)
    benchmark_texts = {_normalized(question) for question in benchmarks}
    for question, drop in zip(questions, drops, strict=True):
        if _normalized(question) in benchmark_texts:
            assert drop is not None and drop.reason == "contaminated" and drop.score == 1.0


@settings(max_examples=80, deadline=None)
@given(shared=st.integers(0, 60), only_first=st.integers(0, 60), only_second=st.integers(0, 60))
def test_the_minhash_estimate_is_close_to_the_true_jaccard(
    shared: int, only_first: int, only_second: int
) -> None:
    """Texts of distinct tokens, so each bigram is distinct and the true Jaccard is known."""
    if shared + only_first < 2 or shared + only_second < 2:
        return
    common = [f"c{index}" for index in range(shared)]
    first = [*common, *(f"a{index}" for index in range(only_first))]
    second = [*common, *(f"b{index}" for index in range(only_second))]
    hasher = MinHasher(num_perm=128, shingle=2, bands=32)
    hashes = [word_hashes([word.encode() for word in text]) for text in (first, second)]
    offsets = np.array([0, len(hashes[0]), len(hashes[0]) + len(hashes[1])])
    signatures = hasher.signatures(np.concatenate(hashes), offsets)
    bigrams = [set(itertools.pairwise(text)) for text in (first, second)]
    true = len(bigrams[0] & bigrams[1]) / len(bigrams[0] | bigrams[1])
    assert abs(float(estimated_jaccard(signatures[0], signatures[1])) - true) <= 0.2


_DETERMINISM_SCRIPT = """
import json, sys
from tests.unit.test_source_cleaning import VIGNETTE, VIGNETTE_REWORDED, OTHER_VIGNETTE, ONE_LINER
from reasonmed.sources.question_cleaning import QuestionCleaner
cleaner = QuestionCleaner()
cleaner.add_benchmark(OTHER_VIGNETTE, "test.jsonl", 1)
items = [VIGNETTE, ONE_LINER, VIGNETTE_REWORDED, OTHER_VIGNETTE, VIGNETTE]
drops = [cleaner.check(q, "train.jsonl", n) for n, q in enumerate(items, 1)]
print(json.dumps([d.as_json() if d else None for d in drops]))
"""


def test_drops_do_not_depend_on_the_hash_seed() -> None:
    root = Path(__file__).resolve().parents[2]
    runs = []
    for seed in ("1", "2024"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", _DETERMINISM_SCRIPT],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(done.stdout))
    assert runs[0] == runs[1]
    assert [drop["reason"] if drop else None for drop in runs[0]] == [
        None,
        None,
        "near_duplicate",
        "contaminated",
        "duplicate",
    ]
