"""The cleaning step's settings (with the reasons for the defaults) and its drop records.

Apart from the cleaner so that the benchmark index and the cleaner share them without importing
each other.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

DropReason = Literal["duplicate", "near_duplicate", "contaminated"]


@dataclass(frozen=True)
class CleaningSettings:
    """Thresholds of the cleaning step, and why the defaults are what they are.

    The figures come from tests/unit/test_source_cleaning_calibration.py (hand-written pairs) and
    benchmarks/bench_dedup.py (195,000 made-up questions).

    - ``near_duplicate_threshold``: estimated Jaccard similarity of word ``shingle``-grams (stem,
      then options, stopwords left out) from which two questions are near duplicates. Copies
      with a few words changed scored 0.58-0.88, different questions sharing boilerplate or a
      template 0.06-0.44; 0.5 sits in the gap. Also the MinHash rule of contamination.
    - ``shingle``: 2. With word 3-grams the shortest copy scored 0.40 (different questions up to
      0.26): the threshold would sit near 0.33, where 128 minima in bands find pairs poorly
      unless the bands shrink to 3 rows, which floods LSH with template-mates as candidates.
    - ``ngram``: words per n-gram for contamination: 8, as MCQ stems are short (a 13-gram rule
      misses most of them) yet 8 words of clinical text rarely repeat by chance.
    - ``contamination_threshold``: share of a benchmark question's countable n-grams that a
      question must hold to be contaminated. Verbatim copies hold 1.0, reworded copies at most
      0.58 (those are MinHash's to catch); 0.6 needs 2 of 2 or 2 of 3 grams of a short stem, so
      one shared template gram cannot condemn a question.
    - ``boilerplate_cutoff``: an n-gram (or a whole stem) in more than this many benchmark
      questions is boilerplate and ignored; a copied question appears in a benchmark a few times
      at most, while stock phrases appear in hundreds.
    - ``num_perm``, ``bands``: 128 minima in 32 bands of 4 rows: a pair at Jaccard 0.5 becomes a
      candidate with probability 0.87, at 0.6 with 0.99, at 0.3 with 0.23. Measured on 6,000
      made-up reworded pairs: 80% of those at 0.5-0.6 dropped, 99.6% at 0.6-0.7, all above.
    """

    near_duplicate_threshold: float = 0.5
    ngram: int = 8
    contamination_threshold: float = 0.6
    boilerplate_cutoff: int = 5
    num_perm: int = 128
    bands: int = 32
    shingle: int = 2

    def __post_init__(self) -> None:
        for name in ("near_duplicate_threshold", "contamination_threshold"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        for name in ("ngram", "boilerplate_cutoff", "num_perm", "bands", "shingle"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.num_perm % self.bands:
            raise ValueError(f"num_perm ({self.num_perm}) must be a multiple of bands")


@dataclass(frozen=True)
class Drop:
    """Why one input question was left out; ``of`` is the kept id or "<benchmark file>:<line>"."""

    id: str
    file: str
    line: int
    reason: DropReason
    of: str
    score: float
    how: str

    def as_json(self) -> dict[str, Any]:
        """The record as a JSON-ready dict, in field order."""
        return asdict(self)
