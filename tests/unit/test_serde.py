"""The checkpoint serializer rebuilds only allowlisted types and never unpickles.

Payloads that would run code create a file when (and only when) they are executed; each such
test first shows that a permissive reader does run them, so the strict one is what stops them.
"""

from __future__ import annotations

import enum
import json
import logging
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ormsgpack
import pytest
from langgraph.checkpoint.conformance.test_utils import (
    generate_checkpoint,
    generate_config,
    generate_metadata,
)
from langgraph.checkpoint.serde.event_hooks import SerdeEvent, register_serde_event_listener
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.types import Send
from sqlalchemy import update

from reasonmed.agents.outputs import Verdict
from reasonmed.core.config import load_config
from reasonmed.core.question import LineError, Question
from reasonmed.graph import routing as r
from reasonmed.replies.reply_types import ParseFailure
from reasonmed.storage import SQLAlchemySaver
from reasonmed.storage.codec import pack
from reasonmed.storage.schema import checkpoint_blobs
from reasonmed.storage.serde import (
    CHECKPOINT_TYPES,
    RefusedPayloadError,
    StrictSerializer,
    checkpoint_serde,
)
from tests.support.pipeline import MOCK_CONFIG

QUESTION = Question(
    id="q-1",
    question="Which nerve is injured? (ünïcode, \x00 and a very long line " + "x" * 300 + ")",
    options={"A": "Radial", "B": "Ulnar", "C": "Median"},
    answer="B",
    context="A 40-year-old fell on an outstretched hand.",
).model_dump()
PATH = {
    "index": 4,
    "model": "huatuo70b",
    "temperature": 0.9,
    "cot": "Step 1 ... Final answer: B",
    "answer": "B",
    "answer_method": "final_answer_line",
    "answer_ok": True,
    "verdict": None,
    "reason": "",
    "verify_failure": "schema: missing verdict",
    "correct": False,
    "generate_call": 17,
    "verify_call": None,
}
KEPT = {
    "slot": 0,
    "source_index": 4,
    "origin": "refined",
    "cot": "refined text",
    "score": 5,
    "verdict": "Correct",
    "reason": "ok",
    "candidate": None,
    "attempts": 1,
    "status": "ready",
    "note": "",
    "summary": "",
    "calls": [1, 2, 3],
}
STATE = {
    "question": QUESTION,
    "paths": [PATH],
    "errors": 6,
    "tier": "medium",
    "tier_reason": "6 of 9 judged Error: medium",
    "scores": [{"index": 4, "score": None, "justification": "", "failure": "no_json: x"}],
    "kept": [KEPT],
    "outcome": {"status": "done", "reason": "6 of 9 judged Error: medium", "examples": 2},
}

# One sample per allowlisted type; a type added to CHECKPOINT_TYPES needs one here.
SAMPLES: dict[type, Any] = {
    Send: Send(
        r.REFINE, {"question": QUESTION, "tier": "medium", "kept": KEPT, "error_reasons": []}
    ),
}


class Colour(enum.Enum):
    RED = "red"


@dataclass
class Marker:
    """Used only by the logging test, so LangGraph's once-per-type warning is still due."""

    value: int


def touch(path: str, *_: Any, **__: Any) -> None:
    """What a hostile payload would call: leaves a file behind if it ran."""
    Path(path).touch()


class Toucher:
    make = staticmethod(touch)

    def __init__(self, path: str) -> None:
        touch(path)


class PickleBomb:
    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[Callable[..., None], tuple[str]]:
        return touch, (self.path,)


@pytest.fixture
def blocked() -> Iterator[list[tuple[str, str]]]:
    """(module, name) of every type the serializer refused to rebuild during the test."""
    events: list[tuple[str, str]] = []

    def listen(event: SerdeEvent) -> None:
        if event["kind"].startswith("msgpack_") and event["kind"].endswith("blocked"):
            events.append((event["module"], event["name"]))

    unregister = register_serde_event_listener(listen)
    yield events
    unregister()


def round_trip(serde: JsonPlusSerializer, value: Any) -> Any:
    return serde.loads_typed(serde.dumps_typed(value))


def ext(code: int, payload: Any) -> bytes:
    return ormsgpack.packb(ormsgpack.Ext(code, ormsgpack.packb(payload)))


def test_every_allowlisted_type_has_a_round_trip_sample() -> None:
    assert set(SAMPLES) == set(CHECKPOINT_TYPES)


@pytest.mark.parametrize("kind", CHECKPOINT_TYPES, ids=lambda t: t.__name__)
def test_allowlisted_types_round_trip(kind: type, blocked: list) -> None:
    value = round_trip(checkpoint_serde(), SAMPLES[kind])
    assert type(value) is kind and value == SAMPLES[kind]
    assert blocked == []


def test_pipeline_state_and_its_fan_out_tasks_round_trip(blocked: list) -> None:
    serde = checkpoint_serde()
    config = load_config(MOCK_CONFIG)
    sends = [Send(r.GENERATE, task) for task in r.generation_tasks(QUESTION, config)]
    sends += [Send(r.VERIFY, task) for task in r.verification_tasks({**STATE, "paths": [{}]})]
    pending = {**STATE, "kept": [{**KEPT, "status": "pending", "candidate": "new text"}]}
    work = r.next_work(pending, config)
    assert isinstance(work, list) and work
    for value in (STATE, sends, work, [r.after_classify({**STATE, "tier": "difficult"})]):
        assert round_trip(serde, value) == value
    assert blocked == []


def test_the_fan_out_fast_path_writes_langgraphs_own_bytes() -> None:
    """`Send` is encoded without LangGraph's slow type search, to the very same bytes."""
    config = load_config(MOCK_CONFIG)
    sends = [Send(r.GENERATE, task) for task in r.generation_tasks(QUESTION, config)]
    values = [sends, {"tasks": sends, "state": STATE}, Send("x", Send("y", [1, "two"])), STATE]
    values += [Verdict(verdict="Correct", reason="fine"), LineError(3, "answer", "bad")]
    for value in values:
        assert checkpoint_serde().dumps_typed(value) == JsonPlusSerializer().dumps_typed(value)
    for value in (None, b"raw", bytearray(b"raw")):
        assert checkpoint_serde().dumps_typed(value) == JsonPlusSerializer().dumps_typed(value)


@pytest.mark.parametrize(
    ("value", "raw"),
    [
        (Verdict(verdict="Correct", reason="fine"), {"verdict": "Correct", "reason": "fine"}),
        (ParseFailure(kind="schema", detail="d"), {"kind": "schema", "detail": "d", "excerpt": ""}),
        (LineError(3, "answer", "bad"), {"line": 3, "field": "answer", "reason": "bad"}),
        (Colour.RED, "red"),
    ],
    ids=["pydantic", "pydantic-failure", "dataclass", "enum"],
)
def test_types_not_on_the_list_come_back_raw(value: Any, raw: Any, blocked: list) -> None:
    kind = type(value)
    permissive = JsonPlusSerializer(allowed_msgpack_modules=True)
    assert type(round_trip(permissive, value)) is kind  # what the list prevents
    blocked.clear()

    loaded = round_trip(checkpoint_serde(), value)
    assert not isinstance(loaded, kind)
    assert loaded == raw
    assert blocked == [(kind.__module__, kind.__name__)]


def test_a_refused_type_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="langgraph.checkpoint.serde.jsonplus"):
        assert round_trip(checkpoint_serde(), Marker(7)) == {"value": 7}
    assert f"Blocked deserialization of {__name__}.Marker" in caplog.text


@pytest.mark.parametrize(
    ("code", "payload"),
    [
        (0, [__name__, "touch", "{path}"]),  # constructor with one argument
        (1, [__name__, "touch", ["{path}"]]),  # positional arguments
        (2, [__name__, "touch", {"path": "{path}"}]),  # keyword arguments
        (3, [__name__, "Toucher", "{path}", "make"]),  # a method call
        (4, [__name__, "touch", {"path": "{path}"}]),  # pydantic v1
        (5, [__name__, "touch", {"path": "{path}"}, "model_validate_json"]),  # pydantic v2
    ],
)
def test_crafted_msgpack_never_calls_what_it_names(tmp_path: Path, code: int, payload: list):
    target = tmp_path / "ran"
    data = ext(code, json.loads(json.dumps(payload).replace("{path}", str(target))))
    checkpoint_serde().loads_typed(("msgpack", data))
    assert not target.exists()
    if code != 3:  # LangGraph allows no method calls but datetime's, even when permissive
        JsonPlusSerializer(allowed_msgpack_modules=True).loads_typed(("msgpack", data))
        assert target.exists()  # the payload is live: only the allowlist stopped it


def test_pickle_payloads_are_refused_unread(tmp_path: Path) -> None:
    target = tmp_path / "unpickled"
    bomb = pickle.dumps(PickleBomb(target))
    with pytest.raises(RefusedPayloadError, match="pickle"):
        checkpoint_serde().loads_typed(("pickle", bomb))
    assert not target.exists()
    pickle.loads(bomb)
    assert target.exists()  # the payload is live


def test_langchain_json_payloads_are_refused() -> None:
    message = {
        "lc": 1,
        "type": "constructor",
        "id": ["langchain", "schema", "messages", "AIMessage"],
        "kwargs": {"content": "hi"},
    }
    data = json.dumps(message).encode()
    assert JsonPlusSerializer().loads_typed(("json", data)).content == "hi"
    with pytest.raises(RefusedPayloadError, match="json"):
        checkpoint_serde().loads_typed(("json", data))


def test_values_msgpack_cannot_encode_are_not_pickled() -> None:
    with pytest.raises(TypeError):
        checkpoint_serde().dumps_typed(object())


@pytest.fixture
def saver(tmp_path: Path) -> Iterator[SQLAlchemySaver]:
    with SQLAlchemySaver.from_url(f"sqlite:///{tmp_path / 'serde.db'}") as saver:
        yield saver


def _put(saver: SQLAlchemySaver, value: Any) -> dict:
    cp = generate_checkpoint(channel_values={"value": value})
    cp["channel_versions"] = {"value": 1.5}
    return saver.put(generate_config("t"), cp, generate_metadata(), {"value": 1.5})


def test_the_saver_reads_strictly_by_default(saver: SQLAlchemySaver, tmp_path: Path) -> None:
    assert isinstance(saver.serde, StrictSerializer)
    stored = _put(saver, Verdict(verdict="Error", reason="no"))
    assert saver.get_tuple(stored).checkpoint["channel_values"]["value"] == {
        "verdict": "Error",
        "reason": "no",
    }

    target = tmp_path / "unpickled"
    bomb = pickle.dumps(PickleBomb(target)) + b"." * 400  # pickle ignores what follows STOP
    compressed = pack("pickle", bomb)
    assert compressed[0] == "z:pickle"
    for type_, blob in (("pickle", bomb), compressed):
        with saver.engines.sync.begin() as conn:
            conn.execute(update(checkpoint_blobs).values(type=type_, blob=blob))
        with pytest.raises(RefusedPayloadError):
            saver.get_tuple(stored)
    assert not target.exists()


def test_an_extended_allowlist_stays_strict(saver: SQLAlchemySaver, tmp_path: Path) -> None:
    clone = saver.with_allowlist([(Verdict.__module__, "Verdict")])
    assert isinstance(clone.serde, StrictSerializer) and clone.engines is saver.engines
    stored = _put(clone, Verdict(verdict="Correct", reason="yes"))
    assert clone.get_tuple(stored).checkpoint["channel_values"]["value"] == Verdict(
        verdict="Correct", reason="yes"
    )
    assert saver.get_tuple(stored).checkpoint["channel_values"]["value"] == {
        "verdict": "Correct",
        "reason": "yes",
    }
    with pytest.raises(RefusedPayloadError):
        clone.serde.loads_typed(("pickle", pickle.dumps(PickleBomb(tmp_path / "x"))))
    assert not (tmp_path / "x").exists()
