"""Compression of stored values.

Chains of thought are long, repetitive English: zstd shrinks them 3-4x for microseconds of CPU,
which is what lets a question's whole checkpoint history fit in less than its final state's size.
Level 1: on checkpoint data levels 1 to 19 differ by a few percent in size, not in CPU.
The codec is recorded in the row's `type` column (`z:` prefix), so old rows stay readable.
"""

from __future__ import annotations

import threading

import zstandard

COMPRESS_MIN_BYTES = 200
_PREFIX = "z:"
_local = threading.local()


def _compressor() -> zstandard.ZstdCompressor:
    # zstd contexts are not thread-safe; one per thread is reused across calls.
    comp = getattr(_local, "comp", None)
    if comp is None:
        comp = _local.comp = zstandard.ZstdCompressor(level=1)
    return comp


def _decompressor() -> zstandard.ZstdDecompressor:
    dec = getattr(_local, "dec", None)
    if dec is None:
        dec = _local.dec = zstandard.ZstdDecompressor()
    return dec


def pack(type_: str, data: bytes) -> tuple[str, bytes]:
    """Compress `data` when that saves at least a tenth of it."""
    if len(data) < COMPRESS_MIN_BYTES:
        return type_, data
    packed = _compressor().compress(data)
    if len(packed) * 10 > len(data) * 9:
        return type_, data
    return _PREFIX + type_, packed


def unpack(type_: str, data: bytes | None) -> tuple[str, bytes]:
    """Undo `pack`; rows written without compression pass through."""
    if data is None:
        return type_, b""
    if type_.startswith(_PREFIX):
        return type_[len(_PREFIX) :], _decompressor().decompress(data)
    return type_, bytes(data)
