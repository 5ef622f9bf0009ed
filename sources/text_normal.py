"""Question text as the duplicate and contamination checks compare it, and its stable hashes.

Two copies of a question rarely differ only in bytes: case, Unicode forms ("ﬁ", full-width
digits), punctuation ("45-year-old", "84/50") and spacing vary between sources. Comparing words
of a normalized text makes those copies equal. Punctuation becomes a space rather than vanishing,
so "84/50" stays two numbers instead of turning into "8450".

Every hash here is xxh3 with fixed constants, never Python's ``hash()``: what is dropped must not
change with PYTHONHASHSEED or between runs.
"""

from __future__ import annotations

import re
import string
import unicodedata

import numpy as np
import xxhash

from reasonmed.core.question import Question

_PUNCTUATION = re.compile(r"[^\w\s]|_")
_ASCII_PUNCTUATION = str.maketrans(string.punctuation, " " * len(string.punctuation))
_U64 = np.uint64
# Multipliers of the polynomial that folds word hashes into a gram hash; odd 64-bit constants.
_GRAM_BASE = _U64(0x9E3779B97F4A7C15)
_MIX_1 = _U64(0xBF58476D1CE4E5B9)
_MIX_2 = _U64(0x94D049BB133111EB)
# The word list of a text with no word at all still needs one shingle to hash.
_EMPTY_WORD = xxhash.xxh3_64_intdigest(b"\x00empty")
# Function words left out of MinHash shingles. MCQ stems are short and templated ("which of the
# following is ...", "most common site of ..."): with these words in, two different questions of
# one template shared so many shingles that LSH candidates grew with the corpus (125 per question
# on a 20,000-row templated corpus, 0.4 without), and reworded copies separated worse from
# different questions (see CleaningSettings). Negations, "most", "least", "except" stay: they
# change what a question asks.
STOPWORDS = frozenset(
    b"a an and are as at be been being by for from following he her his in is it its of on or "
    b"she that the their these they this those to was were what which who whom whose with".split()
)
_STOP_HASHES = np.array(sorted(xxhash.xxh3_64_intdigest(word) for word in STOPWORDS), dtype=_U64)


def normalize_text(text: str) -> str:
    """NFKC, casefolded, punctuation turned to spaces, whitespace collapsed."""
    return " ".join(_normal_words(text))


def _normal_words(text: str) -> list[str]:
    if text.isascii():  # the common case, without the regex: ~3x faster
        return text.lower().translate(_ASCII_PUNCTUATION).split()
    text = _PUNCTUATION.sub(" ", unicodedata.normalize("NFKC", text).casefold())
    return unicodedata.normalize("NFKC", text).split()


def question_words(question: Question) -> tuple[list[bytes], list[bytes]]:
    """(stem words, option words in letter order) of the normalized question, as UTF-8."""
    stem = " ".join(_normal_words(question.question)).encode().split()
    options = " ".join(question.options[letter] for letter in sorted(question.options))
    return stem, " ".join(_normal_words(options)).encode().split()


def exact_key(stem: list[bytes], options: list[bytes]) -> int:
    """64-bit key of a normalized question: equal iff stem and options normalize alike.

    A separator between the two keeps "a b" + ["c"] apart from "a" + ["b c"]. Two different
    texts share a key with odds ~1e-9 across 200,000 questions.
    """
    return xxhash.xxh3_64_intdigest(b" ".join(stem) + b"\x1f" + b" ".join(options))


def stem_key(stem: list[bytes]) -> int:
    """64-bit key of a normalized stem alone (options ignored)."""
    return xxhash.xxh3_64_intdigest(b"\x1e" + b" ".join(stem))


def word_hashes(words: list[bytes]) -> np.ndarray:
    """One uint64 per word; the empty list gets one fixed hash, so every text has a shingle."""
    if not words:
        return np.array([_EMPTY_WORD], dtype=_U64)
    return np.fromiter(map(xxhash.xxh3_64_intdigest, words), dtype=_U64, count=len(words))


def content_mask(hashes: np.ndarray) -> np.ndarray:
    """True where a word hash is not a stopword's (works on concatenated texts too)."""
    found = np.searchsorted(_STOP_HASHES, hashes)  # np.isin costs ~150 us on one question
    return _STOP_HASHES[np.minimum(found, len(_STOP_HASHES) - 1)] != hashes


def mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: spreads every input bit over the output (wrapping uint64)."""
    values = values ^ (values >> _U64(30))
    values = values * _MIX_1
    values = values ^ (values >> _U64(27))
    values = values * _MIX_2
    return values ^ (values >> _U64(31))


def gram_hashes(hashes: np.ndarray, n: int) -> np.ndarray:
    """Hash of every run of n consecutive words (an empty array when there are fewer than n).

    Works on a concatenation of many texts too: runs that cross a text's end are for the caller
    to drop. The same words give the same hash wherever they occur, so grams can be looked up.
    """
    count = len(hashes) - n + 1
    if count <= 0:
        return np.empty(0, dtype=_U64)
    acc = hashes[:count].copy()
    for offset in range(1, n):
        acc = acc * _GRAM_BASE + hashes[offset : offset + count]
    return mix64(acc ^ _U64(n))


def whole_hash(hashes: np.ndarray) -> int:
    """The gram hash of the whole word sequence (one gram as long as the text)."""
    return int(gram_hashes(hashes, len(hashes))[0])
