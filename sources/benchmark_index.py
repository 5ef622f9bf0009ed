"""The benchmark (test split) questions that no training question may copy, and the checks.

Kept apart from the cleaner because contamination is a fixed index built once, before the first
import question, and checked for a whole batch at once; duplicates among imports are found in
order instead, as kept questions accumulate.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reasonmed.core.question import Question
from reasonmed.sources.cleaning_batch import PreparedBatch, content_signatures
from reasonmed.sources.cleaning_records import CleaningSettings, Drop
from reasonmed.sources.minhash_index import MinHasher, MinHashIndex
from reasonmed.sources.ngram_index import BenchmarkNgrams
from reasonmed.sources.text_normal import exact_key, question_words, stem_key, word_hashes

# Benchmark texts hashed per numpy pass when the index is frozen.
_FREEZE_BATCH = 2048


def _is_pubmedqa(question: Question) -> bool:
    return question.source.strip().casefold() == "pubmedqa" and bool(question.source_id.strip())


class BenchmarkIndex:
    """Benchmark questions by PMID, exact key, n-grams and MinHash; frozen at the first check."""

    def __init__(self, settings: CleaningSettings, hasher: MinHasher) -> None:
        self._settings = settings
        self._hasher = hasher
        self._refs: list[str] = []
        self._exact: dict[int, int] = {}
        self._pmids: dict[str, int] = {}
        # Stem key -> (first benchmark with that stem, how many share it).
        self._stems: dict[int, tuple[int, int]] = {}
        self._ngrams = BenchmarkNgrams(settings.ngram, settings.boilerplate_cutoff)
        self._minhash = MinHashIndex(hasher)
        self._pending: list[np.ndarray] = []

    def add(self, question: Question, ref: str) -> None:
        """Register one benchmark question, known in drops as ``ref`` ("file:line")."""
        if self._ngrams.frozen:
            raise RuntimeError("add every benchmark question before checking any question")
        number = len(self._refs)
        self._refs.append(ref)
        stem, options = question_words(question)
        self._exact.setdefault(exact_key(stem, options), number)
        first, shared = self._stems.get(stem_key(stem), (number, 0))
        self._stems[stem_key(stem)] = (first, shared + 1)
        if _is_pubmedqa(question):
            self._pmids.setdefault(question.source_id.strip(), number)
        words = word_hashes(stem + options)
        self._ngrams.add(words, len(stem))
        self._pending.append(words)

    def freeze(self) -> None:
        """Build the n-gram and MinHash indexes; no benchmark can be added after this."""
        if self._ngrams.frozen:
            return
        self._ngrams.freeze()
        cutoff = self._settings.boilerplate_cutoff
        self._stems = {key: hit for key, hit in self._stems.items() if hit[1] <= cutoff}
        for first in range(0, len(self._pending), _FREEZE_BATCH):
            parts = self._pending[first : first + _FREEZE_BATCH]
            offsets = np.zeros(len(parts) + 1, dtype=np.int64)
            np.cumsum([len(part) for part in parts], out=offsets[1:])
            signatures = content_signatures(np.concatenate(parts), offsets, self._hasher)
            self._minhash.add(signatures, self._hasher.band_keys(signatures))
        self._pending = []

    def report(self) -> dict[str, int]:
        """How many benchmark questions, boilerplate n-grams, and questions left with no countable
        n-gram (all boilerplate: only exact, same-stem and MinHash checks can find their copies)."""
        self.freeze()
        return {
            "benchmarks": len(self._refs),
            "boilerplate_ngrams": self._ngrams.boilerplate,
            "ngram_uncheckable": self._ngrams.uncheckable(),
        }

    def contamination(
        self, batch: Sequence[tuple[Question, str, int]], prepared: PreparedBatch
    ) -> list[Drop | None]:
        """A ``contaminated`` drop, or None, for each question of the batch."""
        settings = self._settings
        ngram_best, ngram_share, ngram_length = self._ngrams.best_overlap(
            prepared.words, prepared.offsets
        )
        near_best, near_score = self._best_near(prepared)
        drops: list[Drop | None] = []
        for index, (question, file, line) in enumerate(batch):
            match: tuple[int, float, str] | None = None
            if _is_pubmedqa(question) and question.source_id.strip() in self._pmids:
                match = (self._pmids[question.source_id.strip()], 1.0, "pmid")
            elif (number := self._exact.get(int(prepared.exact[index]))) is not None:
                match = (number, 1.0, "exact")
            elif (stem := self._stems.get(int(prepared.stems[index]))) is not None:
                match = (stem[0], 1.0, "same stem")
            elif ngram_best[index] >= 0 and ngram_share[index] >= settings.contamination_threshold:
                share = float(ngram_share[index])
                how = f"{ngram_length[index]}-gram overlap {share:.2f}"
                match = (int(ngram_best[index]), share, how)
            elif near_best[index] >= 0 and near_score[index] >= settings.near_duplicate_threshold:
                score = float(near_score[index])
                match = (int(near_best[index]), score, f"minhash {score:.2f}")
            if match is None:
                drops.append(None)
                continue
            number, score, how = match
            drops.append(
                Drop(question.id, file, line, "contaminated", self._refs[number], score, how)
            )
        return drops

    def _best_near(self, prepared: PreparedBatch) -> tuple[np.ndarray, np.ndarray]:
        """Per question: the most similar benchmark question by MinHash (-1: none) and score."""
        count = len(prepared.exact)
        best = np.full(count, -1, dtype=np.int64)
        score = np.zeros(count)
        rows, numbers = self._minhash.candidates(prepared.band_keys)
        if not rows.size:
            return best, score
        scores = self._minhash.similarity(prepared.signatures[rows], numbers)
        order = np.lexsort((numbers, -scores, rows))
        first = order[np.r_[True, rows[order][1:] != rows[order][:-1]]]
        best[rows[first]] = numbers[first]
        score[rows[first]] = scores[first]
        return best, score
