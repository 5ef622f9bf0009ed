"""A compact multimap from 32-bit hash keys to question numbers, grown a batch at a time.

The LSH buckets of ~200,000 kept questions run to millions of entries. In a Python dict each
entry costs ~100 bytes (boxed key, boxed value, slot); here it is one uint64 (key in the top 32
bits, number in the low 32), so memory grows linearly and stays small, and sorting the packed
values orders entries by key, then by number. Each batch becomes a sorted level; levels are merged
the way a log-structured tree merges runs (numpy's stable sort is a timsort, so merging two sorted
runs is linear), so a lookup searches only a few sorted arrays.
"""

from __future__ import annotations

import numpy as np

# A level is merged into the one before it once that one is at most this many times larger.
MERGE_RATIO = 4
_U64 = np.uint64
_LOW = _U64(0xFFFFFFFF)


class SortedKeyIndex:
    """Multimap uint32 key -> non-negative int32 number; lookups list numbers in rising order."""

    def __init__(self) -> None:
        self._levels: list[np.ndarray] = []

    def add(self, keys: np.ndarray, numbers: np.ndarray) -> None:
        """Map ``keys[i]`` to ``numbers[i]`` for every i."""
        if not len(keys):
            return
        packed = (keys.astype(_U64) << _U64(32)) | numbers.astype(_U64)
        packed.sort(kind="stable")
        levels = self._levels
        levels.append(packed)
        while len(levels) > 1 and len(levels[-2]) <= MERGE_RATIO * len(levels[-1]):
            newer = levels.pop()
            merged = np.concatenate([levels.pop(), newer])
            merged.sort(kind="stable")
            levels.append(merged)

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(position in ``keys``, number) of every entry whose key is in ``keys``.

        Sorted by position, then by number.
        """
        # Sorted queries make the binary searches walk each level in one direction; packing the
        # position into the low bits sorts faster than an argsort.
        packed = (keys.astype(_U64) << _U64(32)) | np.arange(len(keys), dtype=_U64)
        packed.sort()
        low = packed & ~_LOW
        query_position = (packed & _LOW).astype(np.int64)
        positions: list[np.ndarray] = []
        numbers: list[np.ndarray] = []
        for level in self._levels:
            left = np.searchsorted(level, low, side="left")
            found = (level[np.minimum(left, len(level) - 1)] & ~_LOW) == low
            hit = np.flatnonzero(found)
            if not hit.size:
                continue
            left = left[hit]
            counts = np.searchsorted(level, low[hit] | _LOW, side="right") - left
            firsts = np.repeat(left, counts)
            steps = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
            positions.append(np.repeat(query_position[hit], counts))
            numbers.append((level[firsts + steps] & _LOW).astype(np.int64))
        if not positions:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        position, number = np.concatenate(positions), np.concatenate(numbers)
        order = np.lexsort((number, position))
        return position[order], number[order]
