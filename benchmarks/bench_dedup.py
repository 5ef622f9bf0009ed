"""Dedup + decontamination benchmark: ``QuestionCleaner`` against datasketch on the same input.

Run: `.venv/bin/python benchmarks/bench_dedup.py [--rows 182822] [--benchmark-rows 12000]
[--datasketch-rows 20000] [--single-rows 20000]`.

Input (made up, deterministic): MedMCQA-sized rows from templates over a Zipf-weighted
vocabulary of invented words: short one-liner stems ("most common site of ..."), "all of the
following ... except", and one row in ten a long vignette ending in stock phrasing ("which of the
following is the most likely diagnosis"). Planted among them: exact copies of earlier rows (case
and punctuation changed), reworded copies (3 words replaced), copies of benchmark questions
(verbatim, reworded, stem with options shuffled) and PubMedQA rows reusing a benchmark PMID.

Reported: the cleaner's time and questions/s through ``check_batch`` (1,024 a call) and through
``check`` (one a call), its memory (RSS growth and the process's peak), what it dropped against
what was planted, and datasketch's MinHash + MinHashLSH (same shingles: word bigrams less
stopwords; 128 permutations, threshold 0.5) insert + query speed on the first rows, for comparison.
"""

from __future__ import annotations

import argparse
import itertools
import random
import resource
import time
from collections.abc import Iterator

from reasonmed.core.question import Question
from reasonmed.sources.question_cleaning import QuestionCleaner
from reasonmed.sources.text_normal import STOPWORDS, question_words

_SYLLABLES = ["ka", "lo", "mi", "ter", "von", "sul", "pra", "dex", "ni", "ro", "zan", "tho", "em"]
_ONE_LINERS = [
    "Most common site of {a} {b}:",
    "Drug of choice for {a} {b} is",
    "All of the following are true about {a} {b} except",
    "Which of the following is not a feature of {a} {b}?",
    "{a} {b} is caused by deficiency of:",
    "Investigation of choice for {a} {b} in a {c} patient:",
    "Which nerve supplies the {a} {b} muscle?",
]
_VIGNETTE_END = [
    "Which of the following is the most likely diagnosis?",
    "Which of the following is the most appropriate next step in management?",
    "Which of the following is the most likely cause of this patient's condition?",
]


class Corpus:
    """Deterministic made-up questions, with what was planted in them."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        words = {
            "".join(self.rng.choices(_SYLLABLES, k=self.rng.randint(2, 4))) for _ in range(40_000)
        }
        self.vocabulary = sorted(words)
        weights = itertools.accumulate(1.0 / (rank + 50) for rank in range(len(self.vocabulary)))
        self.cumulative = list(weights)

    def words(self, count: int) -> list[str]:
        return self.rng.choices(self.vocabulary, cum_weights=self.cumulative, k=count)

    def question(self, qid: str) -> Question:
        rng = self.rng
        if rng.random() < 0.1:
            age, sex = rng.randint(18, 80), rng.choice(["man", "woman"])
            sentences = [
                " ".join(self.words(rng.randint(6, 14))) + "." for _ in range(rng.randint(5, 9))
            ]
            stem = f"A {age}-year-old {sex} comes to the physician because of " + " ".join(
                sentences
            )
            stem += " " + rng.choice(_VIGNETTE_END)
        else:
            template = rng.choice(_ONE_LINERS)
            a, b, c = rng.sample(self.vocabulary, 3)  # topic words: uniform, so stems rarely repeat
            stem = template.format(a=a, b=b, c=c).capitalize()
        options: list[str] = []
        while len(options) < 4:
            option = " ".join(self.words(rng.randint(1, 4)))
            options += [] if option in options else [option]
        return Question(
            id=qid,
            question=stem,
            options=dict(zip("ABCD", options, strict=True)),
            answer=rng.choice("ABCD"),
        )

    def reworded(self, question: Question, qid: str) -> Question:
        words = question.question.split()
        for _ in range(3):
            words[self.rng.randrange(len(words))] = self.words(1)[0]
        return question.model_copy(update={"id": qid, "question": " ".join(words)})


def benchmark_rows(corpus: Corpus, count: int) -> list[Question]:
    """The made-up test split: one in 24 a PubMedQA question with a PMID."""
    rows = [corpus.question(f"bench-{index}") for index in range(count)]
    for index in range(0, count, 24):
        rows[index] = rows[index].model_copy(
            update={"source": "pubmedqa", "source_id": str(30_000_000 + index)}
        )
    return rows


def training_rows(
    corpus: Corpus, count: int, bench: list[Question]
) -> Iterator[tuple[Question, str]]:
    """(question, what was planted: "" for an original) in input order."""
    rng = corpus.rng
    recent: list[Question] = []
    for index in range(count):
        qid, roll = f"q-{index}", rng.random()
        if roll < 0.03 and recent:
            source = rng.choice(recent)
            text = source.question.upper().replace(".", " . ")
            yield source.model_copy(update={"id": qid, "question": text}), "duplicate"
        elif roll < 0.05 and recent:
            yield corpus.reworded(rng.choice(recent), qid), "near_duplicate"
        elif roll < 0.056:
            source, kind = rng.choice(bench), rng.choice(["verbatim", "reworded", "shuffled"])
            if kind == "reworded":
                yield corpus.reworded(source, qid), "contaminated"
            else:
                texts = list(source.options.values())
                if kind == "shuffled":
                    rng.shuffle(texts)
                options = dict(zip("ABCD", texts, strict=True))
                yield source.model_copy(update={"id": qid, "options": options}), "contaminated"
        else:
            question = corpus.question(qid)
            recent = [*recent[-999:], question]
            yield question, ""


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def run_cleaner(rows: int, bench_rows: int, batch: int) -> None:
    """Index the benchmarks, check every row (``check_batch`` or ``check``), print the figures."""
    corpus = Corpus(seed=7)
    bench = benchmark_rows(corpus, bench_rows)
    before = rss_mb()
    cleaner = QuestionCleaner()
    started = time.perf_counter()
    for line, question in enumerate(bench, start=1):
        cleaner.add_benchmark(question, "test.jsonl", line)
    report = cleaner.benchmark_report()  # builds the benchmark index
    indexing = time.perf_counter() - started
    spent = 0.0
    planted: dict[str, str] = {}
    hits: dict[tuple[str, str], int] = {}
    buffer: list[tuple[Question, str, int]] = []

    def flush() -> None:
        """Check the buffered questions, timing only the cleaner, and tally against the plan."""
        nonlocal spent
        started = time.perf_counter()
        drops = cleaner.check_batch(buffer) if batch > 1 else [cleaner.check(*buffer[0])]
        spent += time.perf_counter() - started
        for (question, _, _), drop in zip(buffer, drops, strict=True):
            truth = planted[question.id]
            got = drop.reason if drop else ""
            hits[(truth, got)] = hits.get((truth, got), 0) + 1
        buffer.clear()

    for line, (question, truth) in enumerate(training_rows(corpus, rows, bench), start=1):
        planted[question.id] = truth
        buffer.append((question, "train.jsonl", line))
        if len(buffer) >= batch:
            flush()
    if buffer:
        flush()
    total, took = rows + bench_rows, indexing + spent
    print(f"cleaner, batch {batch}: {total} questions in {took:.1f} s = {total / took:,.0f}/s")
    print(f"  benchmark index: {bench_rows} in {indexing:.1f} s ({report})")
    print(f"  checks: {rows} in {spent:.1f} s = {rows / spent:,.0f}/s")
    print(f"  RSS growth {rss_mb() - before:.0f} MB, process peak {peak_mb():.0f} MB")
    print(f"  counts {cleaner.counts}")
    for (truth, got), count in sorted(hits.items()):
        print(f"  planted {truth or 'original':15} -> {got or 'kept':15} {count}")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_datasketch(rows: int) -> None:
    """datasketch's MinHash + MinHashLSH, query then insert if new, on the same rows."""
    try:
        from datasketch import MinHash, MinHashLSH
    except ImportError:  # a comparison only: not a dependency of the project
        print("datasketch is not installed (pip install datasketch): comparison skipped")
        return

    corpus = Corpus(seed=7)
    bench = benchmark_rows(corpus, 10)
    texts = []
    for question, _ in training_rows(corpus, rows, bench):
        stem, options = question_words(question)
        words = [word for word in stem + options if word not in STOPWORDS] or stem + options
        texts.append([b" ".join(pair) for pair in itertools.pairwise(words)] or words)
    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    started = time.perf_counter()
    for index, shingles in enumerate(texts):
        signature = MinHash(num_perm=128)
        signature.update_batch(shingles)
        if not lsh.query(signature):
            lsh.insert(str(index), signature)
    spent = time.perf_counter() - started
    print(f"datasketch MinHash+LSH: {rows} questions in {spent:.1f} s = {rows / spent:,.0f}/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=182_822)
    parser.add_argument("--benchmark-rows", type=int, default=12_000)
    parser.add_argument("--datasketch-rows", type=int, default=20_000)
    parser.add_argument("--single-rows", type=int, default=20_000)
    parser.add_argument("--only", choices=["batch", "single", "datasketch"])
    args = parser.parse_args()
    if args.only in (None, "batch"):
        run_cleaner(args.rows, args.benchmark_rows, batch=1024)
    if args.only in (None, "single"):
        run_cleaner(args.single_rows, args.benchmark_rows, batch=1)
    if args.only in (None, "datasketch"):
        run_datasketch(args.datasketch_rows)


if __name__ == "__main__":
    main()
