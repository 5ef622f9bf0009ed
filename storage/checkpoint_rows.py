"""Turning checkpoints, blobs and writes into rows and back.

Kept apart from the SQL so the encoding rules are in one place: small scalar channel values stay
inside the checkpoint row (no extra row for `None` branch markers), everything else becomes a
blob keyed by (thread, namespace, channel, version) and is written only when its version is new.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    Checkpoint,
    CheckpointMetadata,
    PendingWrite,
    writes_sort_key,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from reasonmed.storage.codec import pack, unpack
from reasonmed.storage.schema import INDEXED_METADATA_KEYS

# Strings up to this many characters are stored inline in the checkpoint row.
INLINE_MAX_CHARS = 64


def version_key(version: Any) -> str:
    """The text form of a channel version used as part of a blob's key."""
    return version if isinstance(version, str) else repr(version)


def is_inline(value: Any) -> bool:
    """Whether a channel value is small enough to live in the checkpoint row."""
    if value is None or isinstance(value, bool | int | float):
        return True
    return isinstance(value, str) and len(value) <= INLINE_MAX_CHARS


def dump(serde: SerializerProtocol, value: Any) -> tuple[str, bytes]:
    """Serialize through the saver's serde, then compress when it pays."""
    return pack(*serde.dumps_typed(value))


def load(serde: SerializerProtocol, type_: str, data: bytes | None) -> Any:
    """Inverse of `dump`."""
    return serde.loads_typed(unpack(type_, data))


def strip_nul(value: Any) -> Any:
    """`value` with NUL characters removed from every string, keys included.

    PostgreSQL's text and JSONB columns reject NUL, which model output can contain.
    """
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, Mapping):
        return {strip_nul(k): strip_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strip_nul(v) for v in value]
    return value


def metadata_json(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata as JSON-able data: NULs removed (JSONB rejects them), odd types as text."""
    data = metadata if _plain(metadata) else json.loads(json.dumps(metadata, default=str))
    return strip_nul(data)


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, str | bool | int | float):
        return True
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return False


def checkpoint_row(
    serde: SerializerProtocol,
    thread_id: str,
    checkpoint_ns: str,
    parent_id: str | None,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    new_versions: Mapping[str, Any],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The checkpoint row and the blob rows for channels whose version is new."""
    inline: dict[str, Any] = {}
    blobs: list[dict[str, Any]] = []
    for channel, value in checkpoint["channel_values"].items():
        if is_inline(value):
            inline[channel] = value
        elif channel in new_versions:
            type_, blob = dump(serde, value)
            blobs.append(
                {
                    "thread_id": thread_id,
                    "checkpoint_ns": checkpoint_ns,
                    "channel": channel,
                    "version": version_key(new_versions[channel]),
                    "type": type_,
                    "blob": blob,
                }
            )
    stored = dict(checkpoint)
    stored["channel_values"] = inline
    type_, data = dump(serde, stored)
    md = metadata_json(metadata)
    row = {
        "thread_id": thread_id,
        "checkpoint_ns": checkpoint_ns,
        "checkpoint_id": checkpoint["id"],
        "parent_checkpoint_id": parent_id,
        "type": type_,
        "checkpoint": data,
        "metadata": json.dumps(md),
    }
    for key in INDEXED_METADATA_KEYS:
        value = md.get(key)
        row[key] = None if value is None else str(value)
    return row, blobs


def blob_refs(checkpoint: Checkpoint) -> list[tuple[str, str]]:
    """(channel, version key) of every channel value not stored inline."""
    inline = checkpoint["channel_values"]
    return [
        (channel, version_key(version))
        for channel, version in checkpoint["channel_versions"].items()
        if channel not in inline
    ]


def write_rows(
    serde: SerializerProtocol,
    thread_id: str,
    checkpoint_ns: str,
    checkpoint_id: str,
    task_id: str,
    task_path: str,
    writes: Sequence[tuple[str, Any]],
) -> list[dict[str, Any]]:
    """Rows for one task's pending writes; special channels get their fixed negative index."""
    rows = []
    for idx, (channel, value) in enumerate(writes):
        type_, blob = dump(serde, value)
        rows.append(
            {
                "thread_id": thread_id,
                "checkpoint_ns": checkpoint_ns,
                "checkpoint_id": checkpoint_id,
                "task_id": task_id,
                "task_path": task_path,
                "idx": WRITES_IDX_MAP.get(channel, idx),
                "channel": channel,
                "type": type_,
                "blob": blob,
            }
        )
    return rows


def pending_writes(serde: SerializerProtocol, rows: Iterable[Sequence[Any]]) -> list[PendingWrite]:
    """Decode (task_id, task_path, idx, channel, type, blob) rows in `writes_sort_key` order.

    Sorted here rather than in SQL: PostgreSQL's collation need not order text the way Python
    does, and LangGraph replays writes in Python's order.
    """
    ordered = sorted(rows, key=lambda r: writes_sort_key(r[1], r[0], r[2]))
    return [(r[0], r[3], load(serde, r[4], r[5])) for r in ordered]
