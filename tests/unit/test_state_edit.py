"""`reasonmed step`'s edits: a dotted path and a value become an update the reducers merge."""

from __future__ import annotations

import pytest

from reasonmed.core.state import merge_kept, merge_paths
from reasonmed.graph.state_edit import EditError, parse_value, state_update

STATE = {
    "question": {"id": "q1", "answer": "B", "options": {"A": "x", "B": "y"}},
    "paths": [{"index": i, "verdict": "Correct", "correct": True} for i in range(3)],
    "kept": [{"slot": 0, "cot": "old", "calls": [4, 5]}],
    "tier": "easy",
}


def test_a_path_field_is_sent_as_that_record_alone_and_merges_in() -> None:
    update = state_update(STATE, "paths.2.correct=false")
    assert update == {"paths": [{"index": 2, "correct": False}]}
    merged = merge_paths(STATE["paths"], update["paths"])
    assert [p["correct"] for p in merged] == [True, True, False]
    assert merged[2]["verdict"] == "Correct"  # the other fields of the record stay


def test_kept_records_are_addressed_by_slot_and_text_needs_no_quotes() -> None:
    update = state_update(STATE, "kept.0.cot=A better chain: B is right")
    assert update == {"kept": [{"slot": 0, "cot": "A better chain: B is right"}]}
    assert merge_kept(STATE["kept"], update["kept"])[0]["calls"] == [4, 5]


def test_nested_list_item_inside_a_record() -> None:
    update = state_update(STATE, "kept.0.calls.1=9")
    assert update == {"kept": [{"slot": 0, "calls": [4, 9]}]}
    assert STATE["kept"][0]["calls"] == [4, 5]  # the state itself is not mutated


def test_plain_and_nested_fields_are_replaced_whole() -> None:
    assert state_update(STATE, "tier=difficult") == {"tier": "difficult"}
    update = state_update(STATE, "question.answer=A")
    assert update["question"]["answer"] == "A" and update["question"]["options"]["B"] == "y"
    assert STATE["question"]["answer"] == "B"


def test_values_are_json_when_they_parse() -> None:
    assert parse_value("3") == 3
    assert parse_value('"3"') == "3"
    assert parse_value("null") is None
    assert parse_value('{"a": [1]}') == {"a": [1]}
    assert parse_value("Correct") == "Correct"


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("paths.3.correct", "expected FIELD.PATH=VALUE"),
        ("bogus=1", "no state field 'bogus'"),
        ("paths.9.correct=false", "no record with index 9 (there are: 0, 1, 2)"),
        ("paths.x.correct=false", "index must be a number"),
        ("paths.1=false", "one field at a time"),
        ("paths.1.index=7", "is the record's key"),
        ("tier.name=x", "has no field 'name'"),
        ("kept.0.calls.7=1", "no item '7'"),
        ("scores.0.score=1", "there are: none yet"),
    ],
)
def test_bad_edits_say_what_is_wrong(assignment: str, message: str) -> None:
    with pytest.raises(EditError, match=message.replace("(", r"\(").replace(")", r"\)")):
        state_update(STATE, assignment)
