"""MinHash signatures of word shingles, computed for many texts at once, and an LSH index of them.

Near duplicates are found the usual way (Broder's MinHash, banded LSH), but built on numpy rather
than ``datasketch``: the signatures of a whole batch of texts come from one vectorised pass (each
permutation is a multiply-shift hash of the shingle hashes, ``np.minimum.reduceat`` takes the
minima per text): on the same 20,000 questions the whole cleaner ran ~8x faster than datasketch's
MinHash + MinHashLSH alone (benchmarks/bench_dedup.py). Stored signatures keep the low 16 bits of
each minimum: two different minima agree there by chance only once in 65,536, so the estimate is
unchanged while the memory per kept question halves.
"""

from __future__ import annotations

import sys

import numpy as np

from reasonmed.sources.sorted_key_index import SortedKeyIndex
from reasonmed.sources.text_normal import gram_hashes, mix64, whole_hash

_U64 = np.uint64
_GRAM_BASE = _U64(0xD6E8FEB86659FD93)
# Fixed, so that signatures, and so every drop, are the same on every run and machine.
_SEED = 20_240_611
# Shingles per slice of the vectorised pass: bounds its temporary (num_perm x this x 8 bytes).
_SLICE_SHINGLES = 8_192
# Stored signatures per block (1 MB each at 128 permutations).
_BLOCK_ROWS = 4096
# Which uint32 half of a uint64 holds its top 32 bits.
_TOP_HALF = 1 if sys.byteorder == "little" else 0


class MinHasher:
    """Signatures of texts given as word hashes; bands of them as LSH bucket keys."""

    def __init__(self, num_perm: int, shingle: int, bands: int) -> None:
        if num_perm % bands:
            raise ValueError(f"num_perm ({num_perm}) must be a multiple of bands ({bands})")
        rng = np.random.default_rng(_SEED)
        # Multiply-shift hashing: (a * x + b) mod 2^64, top 32 bits; a odd.
        self._mult = rng.integers(0, 2**64, size=num_perm, dtype=_U64) | _U64(1)
        self._add = rng.integers(0, 2**64, size=num_perm, dtype=_U64)
        self._band_salt = rng.integers(0, 2**64, size=bands, dtype=_U64)
        self.num_perm = num_perm
        self.shingle = shingle
        self.bands = bands

    def shingles(self, words: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(shingle hashes, start of each text's shingles) for texts concatenated in ``words``.

        Text i is ``words[offsets[i]:offsets[i + 1]]`` (never empty). A text shorter than the
        shingle size gets one shingle, the hash of all its words.
        """
        lengths = np.diff(offsets)
        count = np.maximum(lengths - self.shingle + 1, 1)
        starts = np.zeros(len(lengths), dtype=np.int64)
        np.cumsum(count[:-1], out=starts[1:])
        out = np.empty(int(count.sum()), dtype=_U64)
        grams = gram_hashes(words, self.shingle)
        if grams.size:
            owner = np.repeat(np.arange(len(lengths)), lengths)[: grams.size]
            position = np.arange(grams.size)
            keep = position + self.shingle <= offsets[owner + 1]
            owner, position = owner[keep], position[keep]
            out[starts[owner] + position - offsets[owner]] = grams[keep]
        for text in np.flatnonzero(lengths < self.shingle).tolist():
            out[starts[text]] = whole_hash(words[offsets[text] : offsets[text + 1]])
        return out, starts

    def signatures(self, words: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """(texts, num_perm) uint32 MinHash signatures of the texts' word shingles."""
        shingles, starts = self.shingles(words, offsets)
        ends = np.append(starts[1:], len(shingles))
        result = np.empty((len(starts), self.num_perm), dtype=np.uint32)
        first = 0
        while first < len(starts):
            last = int(np.searchsorted(ends, ends[first] - 1 + _SLICE_SHINGLES, side="right"))
            last = max(last, first + 1)
            # (num_perm, shingles): each permutation's row is contiguous for reduceat.
            hashed = np.multiply.outer(self._mult, shingles[starts[first] : ends[last - 1]])
            hashed += self._add[:, None]
            top = hashed.view(np.uint32)[:, _TOP_HALF::2]
            minima = np.minimum.reduceat(top, starts[first:last] - starts[first], axis=1)
            result[first:last] = minima.T
            first = last
        return result

    def band_keys(self, signatures: np.ndarray) -> np.ndarray:
        """(texts, bands) uint32 bucket keys: equal keys mean a whole band of minima agrees."""
        rows = signatures.reshape(len(signatures), self.bands, -1).astype(_U64)
        acc = rows[:, :, 0].copy()
        for column in range(1, rows.shape[2]):
            acc = acc * _GRAM_BASE + rows[:, :, column]
        return (mix64(acc ^ self._band_salt) >> _U64(32)).astype(np.uint32)


def estimated_jaccard(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Share of agreeing minima, row by row (low 16 bits compared, as stored)."""
    return (first.astype(np.uint16) == second.astype(np.uint16)).mean(axis=-1)


def shared_bucket_pairs(band_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(earlier, later) row pairs of one batch that share at least one bucket, each pair once."""
    rows = np.repeat(np.arange(len(band_keys), dtype=_U64), band_keys.shape[1])
    packed = (band_keys.reshape(-1).astype(_U64) << _U64(32)) | rows
    packed.sort()
    keys, rows = packed >> _U64(32), (packed & _U64(0xFFFFFFFF)).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    sizes = np.diff(np.append(starts, len(keys)))
    earlier: list[int] = []
    later: list[int] = []
    for start, size in zip(starts[sizes > 1].tolist(), sizes[sizes > 1].tolist(), strict=True):
        members = rows[start : start + size].tolist()
        for position, row in enumerate(members):
            for other in members[:position]:
                if other != row:
                    earlier.append(min(other, row))
                    later.append(max(other, row))
    pairs = np.unique(
        np.array(earlier, dtype=np.int64) * len(band_keys) + np.array(later, dtype=np.int64)
    )
    return pairs // max(len(band_keys), 1), pairs % max(len(band_keys), 1)


class MinHashIndex:
    """Signatures of the texts added so far, and LSH buckets to find the similar ones fast.

    Signatures live in fixed-size blocks: no doubling, so no over-allocation and no copy as the
    index grows.
    """

    def __init__(self, hasher: MinHasher) -> None:
        self._hasher = hasher
        self._blocks: list[np.ndarray] = []
        self._count = 0
        self._buckets = SortedKeyIndex()

    def add(self, signatures: np.ndarray, band_keys: np.ndarray) -> None:
        """Store texts (rows of signatures and their bucket keys), numbered on from ``len``."""
        numbers = np.arange(self._count, self._count + len(signatures))
        self._buckets.add(band_keys.reshape(-1), np.repeat(numbers, self._hasher.bands))
        done = 0
        while done < len(signatures):
            used = self._count % _BLOCK_ROWS
            if not used:
                self._blocks.append(np.empty((_BLOCK_ROWS, self._hasher.num_perm), np.uint16))
            take = min(_BLOCK_ROWS - used, len(signatures) - done)
            self._blocks[-1][used : used + take] = signatures[done : done + take]
            done += take
            self._count += take

    def candidates(self, band_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(query row, stored text) pairs sharing a bucket, each pair once, sorted.

        ``band_keys`` is (queries, bands).
        """
        positions, numbers = self._buckets.lookup(band_keys.reshape(-1))
        stride = self._count + 1
        pairs = np.unique(positions // self._hasher.bands * stride + numbers)
        return pairs // stride, pairs % stride

    def similarity(self, signatures: np.ndarray, numbers: np.ndarray) -> np.ndarray:
        """Estimated Jaccard similarity of stored texts ``numbers`` with ``signatures``.

        ``signatures`` is one signature (compared with every number) or one row per number.
        """
        return estimated_jaccard(self._rows(numbers), signatures)

    def _rows(self, numbers: np.ndarray) -> np.ndarray:
        rows = np.empty((len(numbers), self._hasher.num_perm), dtype=np.uint16)
        blocks = numbers // _BLOCK_ROWS
        for block in np.unique(blocks).tolist():
            chosen = blocks == block
            rows[chosen] = self._blocks[block][numbers[chosen] % _BLOCK_ROWS]
        return rows
