"""JSON bytes for the hot path: orjson, about 20x faster than `json.dumps` on a prompt.

Every model call serializes its messages twice (the request body, the call log's row); with the
standard library that was about 1.5% of a run's CPU. orjson refuses what `json` accepts in two
cases: lone surrogates in strings (a question file can hold an escaped one) and non-string keys;
those values fall back to `json.dumps`, so nothing that worked before fails now.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps_bytes(value: Any) -> bytes:
    """UTF-8 JSON for ``value``; readable by `json.loads`."""
    try:
        return orjson.dumps(value)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value).encode("utf-8")
