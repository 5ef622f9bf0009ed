"""Record shapes of every export format, built from hand-made rows, and their declared schema."""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reasonmed.exports.jsonl_files import json_dumps_bytes, line_encoder
from reasonmed.exports.record_formats import (
    FORMATS,
    RecordStyle,
    read_system_prompt,
    record_builder,
    user_text,
)
from reasonmed.exports.record_schema import METADATA, record_spec, yaml_features
from reasonmed.storage.export_reads import ExportRow

PROVENANCE = {
    "model": "qwen72b", "temperature": 0.7, "source_index": 3, "origin": "refined",
    "verdict": "Correct", "reason": "sound", "score": 4, "note": "refined once",
}  # fmt: skip
ROW = ExportRow(
    question_id="q-1", slot=1, tier="medium", origin="refined", cot="Step 1. Reason.",
    summary="The answer is B.", instruction="Which?\n\nA. x\nB. y", input="A 40-year-old...",
    provenance=PROVENANCE, source="medqa", source_id="1234", subject="cardiology", answer="B",
)  # fmt: skip
USER = "A 40-year-old...\n\nWhich?\n\nA. x\nB. y"
META = {
    "question_id": "q-1", "source": "medqa", "source_id": "1234", "subject": "cardiology",
    "answer": "B", "tier": "medium", "slot": 1, "model": "qwen72b", "temperature": 0.7,
    "origin": "refined", "verdict": "Correct", "score": 4.0,
}  # fmt: skip


def build(**style: Any) -> dict[str, Any]:
    return record_builder(RecordStyle(**style))(ROW)


def test_alpaca_is_the_original_record() -> None:
    assert build() == {
        "id": "q-1", "slot": 1, "tier": "medium", "instruction": ROW.instruction,
        "input": ROW.input, "output": "Step 1. Reason.\n\nThe answer is B.",
        "provenance": PROVENANCE,
    }  # fmt: skip
    assert list(build()) == ["id", "slot", "tier", "instruction", "input", "output", "provenance"]
    assert build(metadata=False, variant="cotmed") == {
        "instruction": ROW.instruction, "input": ROW.input, "output": "Step 1. Reason."
    }  # fmt: skip
    assert build(system_prompt="Be brief.")["system"] == "Be brief."


def test_alpaca_lines_are_json_dumps_bytes() -> None:
    record = build()
    line = line_encoder("alpaca")(record)
    assert line == (json.dumps(record, ensure_ascii=False) + "\n").encode()


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(st.characters(exclude_categories=())),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_fast_alpaca_encoding_is_json_dumps_byte_for_byte(value: Any) -> None:
    """Any text (controls, quotes, non-BMP, lone surrogates), any float (nan, 1e-07, -0.0)."""
    try:
        expected = json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: the original export fails on it too
        with pytest.raises(UnicodeEncodeError):
            json_dumps_bytes(value)
        return
    assert json_dumps_bytes(value) == expected


def test_user_turn_puts_the_context_first() -> None:
    assert user_text(ROW) == USER
    assert user_text(dataclasses.replace(ROW, input="")) == ROW.instruction


def test_messages() -> None:
    assert build(format="messages", variant="responsemed") == {
        "messages": [
            {"role": "user", "content": USER},
            {"role": "assistant", "content": "The answer is B."},
        ],
        "metadata": META,
    }
    turns = build(format="messages", system_prompt="You are a physician.")["messages"]
    assert [t["role"] for t in turns] == ["system", "user", "assistant"]
    assert turns[0]["content"] == "You are a physician."
    assert turns[2]["content"] == "Step 1. Reason.\n\nThe answer is B."


def test_reasoning_field_splits_cot_from_summary() -> None:
    turns = build(format="messages", reasoning_field=True, system_prompt="S")["messages"]
    assert turns[-1] == {
        "role": "assistant", "content": "The answer is B.", "reasoning_content": "Step 1. Reason."
    }  # fmt: skip
    # Every turn has the key, so Arrow reads the list as one struct type.
    assert [t["reasoning_content"] for t in turns[:-1]] == [None, None]


def test_sharegpt_o1_think() -> None:
    assert build(format="sharegpt", system_prompt="S", metadata=False) == {
        "conversations": [
            {"from": "system", "value": "S"},
            {"from": "human", "value": USER},
            {"from": "gpt", "value": "Step 1. Reason.\n\nThe answer is B."},
        ]
    }
    assert build(format="o1") == {
        "Question": USER, "Complex_CoT": "Step 1. Reason.", "Response": "The answer is B.",
        "metadata": META,
    }  # fmt: skip
    think = build(format="think")["messages"][-1]["content"]
    assert think == "<think>\nStep 1. Reason.\n</think>\n\nThe answer is B."


@pytest.mark.parametrize(
    ("style", "message"),
    [
        ({"format": "yaml"}, "unknown format"),
        ({"variant": "short"}, "unknown variant"),
        ({"format": "sharegpt", "reasoning_field": True}, "--format messages only"),
        ({"format": "messages", "reasoning_field": True, "variant": "cotmed"}, "reasonmed"),
        ({"format": "o1", "variant": "responsemed"}, "--variant reasonmed"),
        ({"format": "think", "variant": "cotmed"}, "--variant reasonmed"),
        ({"format": "o1", "system_prompt": "S"}, "no system prompt"),
    ],
)  # fmt: skip
def test_combinations_that_would_lose_text_are_refused(style: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        record_builder(RecordStyle(**style))


def test_system_prompt_from_a_file_or_as_text(tmp_path: Path) -> None:
    prompt = tmp_path / "system.txt"
    prompt.write_text("You are a careful physician.\n", encoding="utf-8")
    assert read_system_prompt(str(prompt)) == "You are a careful physician."
    assert read_system_prompt("Answer briefly.") == "Answer briefly."
    assert read_system_prompt(None) == ""


def _keys(spec: Any) -> Any:
    if isinstance(spec, dict):
        return {k: _keys(v) for k, v in spec.items()}
    if isinstance(spec, list):
        return [_keys(spec[0])]
    return None


def _record_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _record_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        shapes = [_record_keys(v) for v in value]
        assert all(s == shapes[0] for s in shapes), "every element of a list has one shape"
        return shapes[:1]
    return None


STYLES = [
    RecordStyle(format=f, metadata=m, system_prompt=s)
    for f, m, s in itertools.product(FORMATS, (True, False), ("", "S"))
    if not (f == "o1" and s)
] + [RecordStyle(format="messages", reasoning_field=True, system_prompt="S")]


@pytest.mark.parametrize(
    "style", STYLES, ids=lambda s: f"{s.format}-{s.metadata}-{s.system_prompt}"
)
def test_declared_schema_matches_the_records(style: RecordStyle) -> None:
    """The schema the HF dataset and the card declare is the shape every record has."""
    record = record_builder(style)(ROW)
    provenance = record.get("provenance")
    if provenance is not None:  # alpaca's provenance is passed through as stored
        record = {**record, "provenance": dict.fromkeys(provenance)}
    assert _record_keys(record) == _keys(record_spec(style))


def test_yaml_features_layout() -> None:
    spec = record_spec(RecordStyle(format="sharegpt"))
    assert yaml_features(spec)[0] == {
        "name": "conversations",
        "list": [{"name": "from", "dtype": "string"}, {"name": "value", "dtype": "string"}],
    }
    assert yaml_features(spec)[1]["struct"][0] == {"name": "question_id", "dtype": "string"}
    assert [f["name"] for f in yaml_features(spec)[1]["struct"]] == list(METADATA)
