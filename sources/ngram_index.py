"""Word n-grams of benchmark questions, to find their text copied into a training question.

A benchmark question counts as copied when a training question holds at least a set share of the
benchmark question's n-grams. Which n-grams a benchmark question contributes:

- its stem's n-grams, when the stem has at least n words: a copied stem is found whatever options
  the copy carries, in any order;
- else the n-grams of stem + options, since MCQ stems are often shorter than n words ("Antidote
  for methanol poisoning:") and a 13-gram rule never sees them;
- else, when even stem + options is shorter than n, the whole text as one gram of its own length.

An n-gram found in more than ``max_shared`` benchmark questions is boilerplate ("which of the
following is the most likely diagnosis") and counts for none of them: otherwise every vignette
that ends the usual way would share grams with hundreds of benchmark questions.
"""

from __future__ import annotations

import numpy as np

from reasonmed.sources.text_normal import gram_hashes, whole_hash

_U64 = np.uint64


class BenchmarkNgrams:
    """Add every benchmark question, ``freeze``, then ask for the best overlap of many texts."""

    def __init__(self, n: int, max_shared: int) -> None:
        self.n = n
        self.max_shared = max_shared
        self._pending: list[np.ndarray] = []
        self._lengths: list[int] = []
        self._keys = np.empty(0, dtype=_U64)
        self._owners = np.empty(0, dtype=np.int64)
        self._countable = np.empty(0, dtype=np.int64)
        self._gram_length = np.empty(0, dtype=np.int64)
        self._short_lengths: list[int] = []
        self.boilerplate = 0
        self.frozen = False

    def add(self, words: np.ndarray, stem_length: int) -> int:
        """Register one benchmark text (word hashes, the stem first); return its number."""
        if self.frozen:
            raise RuntimeError("benchmark n-grams are frozen: add every benchmark first")
        stem = words[:stem_length]
        if len(stem) >= self.n:
            grams, length = gram_hashes(stem, self.n), self.n
        elif len(words) >= self.n:
            grams, length = gram_hashes(words, self.n), self.n
        else:
            grams, length = np.array([whole_hash(words)], dtype=_U64), len(words)
        self._pending.append(np.unique(grams))
        self._lengths.append(length)
        return len(self._pending) - 1

    def freeze(self) -> None:
        """Drop boilerplate n-grams and sort the rest for lookups; no ``add`` after this."""
        if self.frozen:
            return
        self.frozen = True
        count = len(self._pending)
        self._gram_length = np.array(self._lengths, dtype=np.int64)
        self._short_lengths = sorted({m for m in self._lengths if m < self.n})
        if not count:
            return
        sizes = np.fromiter(map(len, self._pending), dtype=np.int64, count=count)
        keys = np.concatenate(self._pending)
        owners = np.repeat(np.arange(count, dtype=np.int32), sizes)
        self._pending = []
        _, inverse, shared = np.unique(keys, return_inverse=True, return_counts=True)
        common = shared[inverse] > self.max_shared
        self.boilerplate = int((shared > self.max_shared).sum())
        keys, owners = keys[~common], owners[~common]
        order = np.argsort(keys, kind="stable")
        self._keys, self._owners = keys[order], owners[order].astype(np.int64)
        self._countable = np.bincount(self._owners, minlength=count)

    def uncheckable(self) -> int:
        """Benchmark questions all of whose n-grams are boilerplate (left to exact and MinHash)."""
        return int((self._countable == 0).sum())

    def best_overlap(
        self, words: np.ndarray, offsets: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per text: (benchmark number or -1, share of its countable grams found, gram length).

        Texts are concatenated in ``words``, text i being ``words[offsets[i]:offsets[i + 1]]``.
        The best is the highest share; a tie goes to the lower benchmark number.
        """
        texts = len(offsets) - 1
        best = np.full(texts, -1, dtype=np.int64)
        share = np.zeros(texts)
        none = np.zeros(texts, dtype=np.int64)
        if not self._keys.size:
            return best, share, none
        grams, owners = self._text_grams(words, offsets)
        left = np.searchsorted(self._keys, grams, side="left")
        hit = np.flatnonzero(self._keys[np.minimum(left, len(self._keys) - 1)] == grams)
        if not hit.size:
            return best, share, none
        counts = np.searchsorted(self._keys, grams[hit], side="right") - left[hit]
        steps = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        text = np.repeat(owners[hit], counts)
        bench = self._owners[np.repeat(left[hit], counts) + steps]
        pair, matched = np.unique(text * len(self._countable) + bench, return_counts=True)
        text, bench = pair // len(self._countable), pair % len(self._countable)
        pair_share = matched / self._countable[bench]
        order = np.lexsort((bench, -pair_share, text))
        first = order[np.r_[True, text[order][1:] != text[order][:-1]]]
        best[text[first]] = bench[first]
        share[text[first]] = pair_share[first]
        return best, share, self._gram_length[np.maximum(best, 0)]

    def _text_grams(self, words: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distinct (gram, text) pairs of every text, for n and every short benchmark length."""
        lengths = np.diff(offsets)
        owner_of_word = np.repeat(np.arange(len(lengths)), lengths)
        all_grams: list[np.ndarray] = []
        all_owners: list[np.ndarray] = []
        for size in [*self._short_lengths, self.n]:
            grams = gram_hashes(words, size)
            owner = owner_of_word[: grams.size]
            keep = np.arange(grams.size) + size <= offsets[owner + 1]
            all_grams.append(grams[keep])
            all_owners.append(owner[keep])
        grams, owners = np.concatenate(all_grams), np.concatenate(all_owners)
        if not grams.size:
            return grams, owners
        order = np.lexsort((owners, grams))  # by gram: cache-friendly searches later
        grams, owners = grams[order], owners[order]
        distinct = np.r_[True, (grams[1:] != grams[:-1]) | (owners[1:] != owners[:-1])]
        return grams[distinct], owners[distinct]
