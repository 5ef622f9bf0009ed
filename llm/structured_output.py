"""Asking an endpoint for JSON shaped like an agent's output, and stepping down when it refuses.

vLLM, SGLang, llama.cpp's server and OpenAI accept a JSON schema as ``response_format`` and
constrain decoding to it; a small model that writes prose around its verdict then writes the
verdict alone. Parsing and JSON repair stay as the safety net: a reply that still fails is a
typed failure, as without a schema. A server that does not know a ``response_format`` refuses
it: most with a 400, llama-cpp-python's server with a 500 that names the field. With
``structured_output: auto`` the alias then steps down (json_schema -> json_object_schema ->
json_object -> none), once per process, and keeps the mode that worked. ``json_object_schema`` is
llama-cpp-python's own form, ``{"type": "json_object", "schema": ...}``, which it turns into a
grammar; OpenAI refuses the extra key, so it comes after json_schema.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel

# The order `auto` tries them in.
MODES = ("json_schema", "json_object_schema", "json_object", "none")
_REFUSAL_STATUSES = (400, 415, 422)


@cache
def output_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON schema as strict structured outputs want it: every property required,
    no other properties, no titles (noise in a grammar). Ranges stay: guided decoders use them."""
    schema = model.model_json_schema()
    properties = {
        name: {key: value for key, value in spec.items() if key != "title"}
        for name, spec in schema["properties"].items()
    }
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def response_format(model: type[BaseModel] | None, mode: str) -> dict[str, Any] | None:
    """The ``response_format`` to send for ``model`` in ``mode``; None sends none."""
    if model is None or mode == "none":
        return None
    if mode == "json_object":
        return {"type": "json_object"}
    if mode == "json_object_schema":
        return {"type": "json_object", "schema": output_schema(model)}
    if mode == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": model.__name__, "schema": output_schema(model), "strict": True},
        }
    raise ValueError(f"unknown structured output mode {mode!r}; expected one of {MODES}")


def is_refusal(exc: BaseException) -> bool:
    """A client error (400, 415, 422), or a server error that names ``response_format``: the
    server refusing the format asked for (retrying it would not help)."""
    status = getattr(exc, "status_code", None)
    if status in _REFUSAL_STATUSES:
        return True
    return isinstance(status, int) and status >= 500 and "response_format" in str(exc)


class FormatModes:
    """The structured-output mode in force per alias, for one run in one process.

    A configured mode is used as it is; ``auto`` starts at json_schema and steps down each time
    the server refuses, so only the first refused call per alias and process is wasted.
    """

    def __init__(self) -> None:
        self._auto: dict[str, str] = {}

    def mode(self, alias: str, configured: str) -> str:
        """The mode to send with now."""
        return self._auto.get(alias, MODES[0]) if configured == "auto" else configured

    def step_down(self, alias: str, configured: str, refused: str) -> str | None:
        """After a refusal of ``refused``: the next mode to try, or None (no fallback)."""
        if configured != "auto" or refused == "none":
            return None
        following = MODES[MODES.index(refused) + 1]
        self._auto[alias] = following
        return following

    def in_force(self) -> dict[str, str]:
        """The modes `auto` settled on so far, per alias (for the run's summary and traces)."""
        return dict(self._auto)
