"""`dumps_bytes`: orjson's speed, `json`'s acceptance."""

from __future__ import annotations

import json

from reasonmed.core.fast_json import dumps_bytes


def test_it_reads_back_as_json_did() -> None:
    value = [{"role": "user", "content": "Fièvre 38.5 °C — which nerve? 🙂"}, {"n": 1.5}]
    assert json.loads(dumps_bytes(value)) == value


def test_what_orjson_refuses_falls_back_to_json() -> None:
    lone = {"content": "half an emoji: \ud83d"}  # json.loads accepts "\\ud83d" in a file
    assert json.loads(dumps_bytes(lone)) == lone
    int_keys = {1: "a"}
    assert json.loads(dumps_bytes(int_keys)) == {"1": "a"}
