"""What the cleaner needs of a batch of questions, computed together: keys, words, signatures.

Hashing words is per question (Python), but shingles, signatures and bucket keys of the whole
batch come from a few numpy passes; that is where batching pays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reasonmed.core.question import Question
from reasonmed.sources.minhash_index import MinHasher
from reasonmed.sources.text_normal import (
    content_mask,
    exact_key,
    question_words,
    stem_key,
    word_hashes,
)


@dataclass(frozen=True)
class PreparedBatch:
    """Per question i: ``exact[i]``; words ``words[offsets[i]:offsets[i + 1]]``, stem first."""

    exact: np.ndarray  # uint64 key of the normalized stem + options
    stems: np.ndarray  # uint64 key of the normalized stem alone
    words: np.ndarray  # uint64 word hashes of every question, concatenated
    offsets: np.ndarray  # int64, len = questions + 1
    signatures: np.ndarray  # (questions, num_perm) uint32, of the words less stopwords
    band_keys: np.ndarray  # (questions, bands) uint32


def prepare_batch(questions: Sequence[Question], hasher: MinHasher) -> PreparedBatch:
    """Normalize and hash every question of the batch."""
    exact = np.empty(len(questions), dtype=np.uint64)
    stem_keys = np.empty(len(questions), dtype=np.uint64)
    parts: list[np.ndarray] = []
    for index, question in enumerate(questions):
        stem, options = question_words(question)
        exact[index] = exact_key(stem, options)
        stem_keys[index] = stem_key(stem)
        parts.append(word_hashes(stem + options))
    offsets = np.zeros(len(questions) + 1, dtype=np.int64)
    np.cumsum([len(part) for part in parts], out=offsets[1:])
    words = np.concatenate(parts) if parts else np.empty(0, dtype=np.uint64)
    signatures = content_signatures(words, offsets, hasher)
    return PreparedBatch(
        exact=exact,
        stems=stem_keys,
        words=words,
        offsets=offsets,
        signatures=signatures,
        band_keys=hasher.band_keys(signatures),
    )


def content_signatures(words: np.ndarray, offsets: np.ndarray, hasher: MinHasher) -> np.ndarray:
    """Signatures of each text's words less stopwords (all its words if that leaves none)."""
    keep = content_mask(words)
    lengths = np.diff(offsets)
    owner = np.repeat(np.arange(len(lengths)), lengths)
    kept = np.bincount(owner, weights=keep, minlength=len(lengths)).astype(np.int64)
    keep |= (kept == 0)[owner]
    content_offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(np.where(kept == 0, lengths, kept), out=content_offsets[1:])
    return hasher.signatures(words[keep], content_offsets)
