"""Turn `paths.3.correct=false` into a state update LangGraph's `update_state` can apply.

Used by `reasonmed step` (key `e`). Records in `paths` and `scores` are addressed by their
`index`, kept chains of thought by their `slot`, exactly the keys the state's reducers merge
on, so an edit sends only the changed record and the reducer folds it in; every other field is
replaced whole. The value is JSON when it parses as JSON (`false`, `3`, `"B"`, `{...}`), else
the text as typed.
"""

from __future__ import annotations

import copy
import json
from typing import Any, get_type_hints

from reasonmed.core.state import QuestionState

KEYED = {"paths": "index", "scores": "index", "kept": "slot"}


class EditError(ValueError):
    """An edit that names no existing value, or cannot be applied."""


def parse_value(text: str) -> Any:
    """JSON if it parses, else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def state_update(values: dict[str, Any], assignment: str) -> dict[str, Any]:
    """The update that sets the dotted path on the left of `=` to the value on its right."""
    target, sep, raw = assignment.partition("=")
    parts = [p for p in target.strip().split(".") if p]
    if not sep or not parts:
        raise EditError(
            f"expected FIELD.PATH=VALUE (e.g. paths.3.correct=false), got {assignment!r}"
        )
    value = parse_value(raw.strip())
    channel, rest = parts[0], parts[1:]
    fields = get_type_hints(QuestionState)
    if channel not in fields:
        raise EditError(f"no state field {channel!r}; fields: {', '.join(fields)}")
    if channel in KEYED:
        return {channel: [_keyed_record(values, channel, rest, value)]}
    if not rest:
        return {channel: value}
    current = copy.deepcopy(values.get(channel))
    if not isinstance(current, dict | list):
        raise EditError(f"{channel} is {type(current).__name__}, it has no field {rest[0]!r}")
    _assign(current, rest, value, channel)
    return {channel: current}


def _keyed_record(values: dict[str, Any], channel: str, rest: list[str], value: Any) -> dict:
    key_name = KEYED[channel]
    if len(rest) < 2:
        raise EditError(
            f"{channel} records are edited one field at a time: "
            f"{channel}.<{key_name}>.<field>=VALUE"
        )
    try:
        key = int(rest[0])
    except ValueError:
        raise EditError(f"{channel}.{rest[0]}: {key_name} must be a number") from None
    records = {r.get(key_name): r for r in values.get(channel) or []}
    if key not in records:
        known = ", ".join(str(k) for k in sorted(records)) or "none yet"
        raise EditError(f"{channel} has no record with {key_name} {key} (there are: {known})")
    field = rest[1]
    if field == key_name:
        raise EditError(f"{channel}.{key}.{key_name} is the record's key and cannot be edited")
    if len(rest) == 2:
        return {key_name: key, field: value}
    nested = copy.deepcopy(records[key].get(field))
    if not isinstance(nested, dict | list):
        raise EditError(f"{channel}.{key}.{field} has no field {rest[2]!r}")
    _assign(nested, rest[2:], value, f"{channel}.{key}.{field}")
    return {key_name: key, field: nested}


def _assign(container: dict | list, path: list[str], value: Any, where: str) -> None:
    """Set `container[path...] = value` in place; the parents must exist."""
    for i, part in enumerate(path):
        last = i == len(path) - 1
        if isinstance(container, list):
            index = int(part) if part.lstrip("-").isdigit() else None
            if index is None or not -len(container) <= index < len(container):
                raise EditError(f"{where}: no item {part!r}")
            if last:
                container[index] = value
            else:
                container = container[index]
        elif isinstance(container, dict):
            if last:
                container[part] = value
            elif isinstance(container.get(part), dict | list):
                container = container[part]
            else:
                raise EditError(f"{where}.{part} has no nested fields")
        where = f"{where}.{part}"
