"""The checkpoint serializer: msgpack only, strict, with an explicit allowlist; never pickle.

Whoever can write to the checkpoint tables must not be able to run code in the process that reads
them. LangGraph's default `JsonPlusSerializer` imports and calls any class named in a msgpack
payload (unless `LANGGRAPH_STRICT_MSGPACK` is set) and can revive LangChain objects from "json"
payloads; with `pickle_fallback` it would also unpickle. `checkpoint_serde()` closes all three:

- writing: msgpack only. A value msgpack cannot encode raises at `put` time; it is never pickled.
- reading: the tags this serializer writes (`msgpack`, `null`, `bytes`, `bytearray`). A row
  tagged `pickle` or `json` raises `RefusedPayloadError` and is never decoded.
- types: inside msgpack, only LangGraph's built-in safe set (datetime, uuid, messages, `Send` ...)
  and `CHECKPOINT_TYPES` are rebuilt as objects. Any other type comes back in its raw serialized
  form (a pydantic model or dataclass as its field dict, an enum as its value), never as an
  instance: LangGraph logs "Blocked deserialization of module.Name" once per type and process on
  the `langgraph.checkpoint.serde.jsonplus` logger and emits a `msgpack_blocked` serde event.

The explicit allowlist is short on purpose. The pipeline's state (`core.state`) is plain typed
dicts: a question is stored as `Question.model_dump()`, and agents' pydantic results are turned
into record fields before they reach the state, so none of them is in a checkpoint. What the
pipeline does checkpoint as an object is the fan-out task, a `Send` (its payload is again a plain
dict): recording every type serialized while the sample questions ran, faults included, found
`Send` and nothing else (node errors are stored as their repr, a string).
`SQLAlchemySaver.with_allowlist` (which LangGraph's `compile` calls under strict msgpack) extends
the list for graphs with other state types.
"""

from __future__ import annotations

from typing import Any

import ormsgpack
from langgraph.checkpoint.serde import jsonplus
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.types import Send

__all__ = ["CHECKPOINT_TYPES", "RefusedPayloadError", "StrictSerializer", "checkpoint_serde"]

CHECKPOINT_TYPES: tuple[type, ...] = (Send,)
"""Classes the pipeline's checkpoints hold as objects; everything else in them is plain data."""

READABLE_TAGS = frozenset({"null", "bytes", "bytearray", "msgpack"})


class RefusedPayloadError(ValueError):
    """A stored value is in a format this serializer never writes (pickle, LangChain json)."""


def _encode(value: Any) -> bytes:
    return ormsgpack.packb(value, default=_default, option=jsonplus._option)


def _default(obj: Any) -> Any:
    """LangGraph's msgpack hook, with `Send` (every fan-out task) recognised first.

    LangGraph tries a dozen types before `Send`, the last through a runtime Protocol
    isinstance that costs ~20 us on Python 3.11 (2% of a pipeline run's CPU); the bytes written
    are the same as LangGraph's, so either reader decodes them.
    """
    if type(obj) is Send:
        timeout = getattr(obj, "timeout", None)
        args = (obj.node, obj.arg) if timeout is None else (obj.node, obj.arg, timeout)
        payload = (obj.__class__.__module__, obj.__class__.__name__, args)
        return ormsgpack.Ext(jsonplus.EXT_CONSTRUCTOR_POS_ARGS, _encode(payload))
    return jsonplus._msgpack_default(obj)


class StrictSerializer(JsonPlusSerializer):
    """`JsonPlusSerializer` that reads back only the formats it writes."""

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        if obj is None or isinstance(obj, bytes | bytearray):
            return super().dumps_typed(obj)
        return "msgpack", _encode(obj)  # never pickled: an unencodable value raises

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        type_ = data[0]
        if type_ not in READABLE_TAGS:
            raise RefusedPayloadError(
                f"refused to decode a checkpoint value tagged {type_!r}: only "
                f"{', '.join(sorted(READABLE_TAGS))} are read (no pickle, no LangChain json)"
            )
        return super().loads_typed(data)


def checkpoint_serde() -> StrictSerializer:
    """The serializer `SQLAlchemySaver` uses when none is given (see the module docstring)."""
    return StrictSerializer(
        pickle_fallback=False,
        allowed_json_modules=None,
        allowed_msgpack_modules=CHECKPOINT_TYPES,
    )
