"""Export of finished questions as JSONL, and the status summary, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reasonmed.core.call_record import CallRecord
from reasonmed.core.question import Question
from reasonmed.exports import jsonl_export as export_module
from reasonmed.exports.jsonl_export import export_examples
from reasonmed.graph.run_status import run_status
from reasonmed.storage.call_log import CallLog
from reasonmed.storage.db import Database
from reasonmed.storage.examples import examples_from_state
from reasonmed.storage.runs import RunStore

RUN = "run-x"
FIELDS = {"id", "slot", "tier", "instruction", "input", "output", "provenance"}
EASY = Question(
    id="easy-1",
    question="Which vitamin deficiency causes scurvy?",
    options={"A": "Vitamin C", "B": "Vitamin D", "C": "Vitamin K"},
    answer="A",
    context="A sailor with bleeding gums.",
)
HARD = Question(
    id="hard-1", question="Rare case?", options={"A": "x", "B": "y"}, answer="B", source="s"
)
REJECTED = Question(id="rej-1", question="Unclear?", options={"A": "p", "B": "q"}, answer="A")
PENDING = Question(id="pend-1", question="Later?", options={"A": "p", "B": "q"}, answer="B")


def paths(n: int) -> list[dict[str, Any]]:
    models = ["qwen", "huatuo", "hermes"]
    temps = [0.7, 0.9, 1.0]
    return [{"index": i, "model": models[i // 3], "temperature": temps[i % 3]} for i in range(n)]


EASY_STATE = {
    "tier": "easy",
    "paths": paths(9),
    "scores": [{"index": 4, "score": 5}, {"index": 7, "score": 4}],
    "kept": [
        # Slot 1 listed first: slots, not list order, decide the order of examples.
        {"slot": 1, "source_index": 7, "origin": "generated", "cot": "CoT seven",
         "summary": "Summary seven", "verdict": "Correct", "reason": "fine", "status": "ready"},
        {"slot": 0, "source_index": 4, "origin": "generated", "cot": "CoT four",
         "summary": "Summary four", "verdict": "Correct", "reason": "sound", "score": 5,
         "status": "ready", "note": ""},
    ],
    "outcome": {"status": "done", "reason": "", "examples": 2},
}  # fmt: skip
HARD_STATE = {
    "tier": "difficult",
    "paths": paths(9),
    "kept": [
        {"slot": 0, "source_index": 2, "origin": "regenerated", "cot": "New CoT",
         "summary": "New summary", "verdict": "Correct", "reason": "re-verified",
         "status": "ready", "note": "regenerated from path 2"},
    ],
    "outcome": {"status": "done", "reason": "", "examples": 1},
}  # fmt: skip


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database.from_url(db_url)
    store = RunStore(database)
    store.create_run(RUN, "in.jsonl", {}, "h", {})
    store.register_questions(RUN, [HARD, REJECTED, EASY, PENDING])  # HARD comes first
    for question, state, errors in ((EASY, EASY_STATE, 2), (HARD, HARD_STATE, 9)):
        store.finish_question(
            RUN,
            question.id,
            status="done",
            tier=state["tier"],
            errors=errors,
            reason="",
            examples=examples_from_state(RUN, question, state),
        )
    store.finish_question(
        RUN, REJECTED.id, status="rejected", tier="medium", errors=6,
        reason="refined CoT failed re-verification twice", examples=[],
    )  # fmt: skip
    yield database
    database.close()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_examples_from_state_builds_rows() -> None:
    rows = examples_from_state(RUN, EASY, EASY_STATE)
    assert [r.slot for r in rows] == [0, 1]
    first = rows[0]
    assert first.instruction == (
        "Which vitamin deficiency causes scurvy?\n\nA. Vitamin C\nB. Vitamin D\nC. Vitamin K"
    )
    assert first.input == "A sailor with bleeding gums."
    assert first.provenance == {
        "model": "huatuo", "temperature": 0.9, "source_index": 4, "origin": "generated",
        "verdict": "Correct", "reason": "sound", "score": 5, "note": "",
    }  # fmt: skip
    # The score falls back to the ranker's record when the kept record lacks one.
    assert rows[1].provenance["score"] == 4 and rows[1].provenance["model"] == "hermes"
    rejected = {**EASY_STATE, "outcome": {"status": "rejected", "reason": "x"}}
    assert examples_from_state(RUN, EASY, rejected) == []
    failed = {**HARD_STATE, "kept": [{**HARD_STATE["kept"][0], "status": "failed"}]}
    assert examples_from_state(RUN, HARD, failed) == []


@pytest.mark.parametrize(
    ("variant", "outputs"),
    [
        ("reasonmed", ["New CoT\n\nNew summary", "CoT four\n\nSummary four",
                       "CoT seven\n\nSummary seven"]),
        ("cotmed", ["New CoT", "CoT four", "CoT seven"]),
        ("responsemed", ["New summary", "Summary four", "Summary seven"]),
    ],
)  # fmt: skip
def test_export_variants(db: Database, tmp_path: Path, variant: str, outputs: list[str]) -> None:
    out = tmp_path / "out" / f"{variant}.jsonl"
    assert export_examples(db, RUN, variant, out) == 3  # type: ignore[arg-type]
    lines = read_jsonl(out)
    assert all(set(line) == FIELDS for line in lines)
    assert [(line["id"], line["slot"]) for line in lines] == [
        ("hard-1", 0), ("easy-1", 0), ("easy-1", 1)
    ]  # fmt: skip
    assert [line["output"] for line in lines] == outputs
    assert [line["tier"] for line in lines] == ["difficult", "easy", "easy"]
    assert lines[0]["instruction"] == "Rare case?\n\nA. x\nB. y" and lines[0]["input"] == ""
    assert lines[0]["provenance"]["origin"] == "regenerated"
    assert lines[0]["provenance"]["model"] == "qwen"
    assert lines[1]["input"] == EASY.context
    assert list(out.parent.iterdir()) == [out]  # no temp file left behind


def test_export_unknown_run_names_it(db: Database, tmp_path: Path) -> None:
    with pytest.raises(LookupError, match="no-such-run"):
        export_examples(db, "no-such-run", "reasonmed", tmp_path / "x.jsonl")
    assert not (tmp_path / "x.jsonl").exists()


def test_interrupted_export_leaves_the_old_file(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "exports" / "data.jsonl"
    out.parent.mkdir()
    out.write_text("previous export\n", encoding="utf-8")
    calls = {"n": 0}
    real = export_module.output_text

    def failing(variant: Any, cot: str, summary: str) -> str:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(variant, cot, summary)

    monkeypatch.setattr(export_module, "output_text", failing)
    with pytest.raises(KeyboardInterrupt):
        export_examples(db, RUN, "cotmed", out)
    assert out.read_text(encoding="utf-8") == "previous export\n"
    assert list(out.parent.iterdir()) == [out]


def test_run_status(db: Database) -> None:
    log = CallLog(db)
    for agent, alias, error in (("generator", "qwen", None), ("verifier", "judge", "HTTP 429")):
        log.record(
            CallRecord(
                run_id=RUN, question_id=EASY.id, thread_id=f"{RUN}:{EASY.id}", node=agent[:3],
                agent=agent, alias=alias, model=f"org/{alias}", messages=[], template_hash="t",
                sampling={}, error=error, prompt_tokens=10, completion_tokens=5,
            )
        )  # fmt: skip
    status = run_status(db, RUN)
    assert status["questions"] == {
        "pending": 1, "running": 0, "done": 2, "rejected": 1, "failed": 0
    }  # fmt: skip
    assert status["tiers"] == {"easy": 1, "medium": 1, "difficult": 1}
    assert status["examples"] == 3
    assert status["calls"]["total"]["calls"] == 2
    assert status["calls"]["total"]["prompt_tokens"] == 20
    by_model = {(m["alias"], m["model"]): m for m in status["calls"]["by_model"]}
    assert by_model[("judge", "org/judge")]["errors"] == 1
    assert [a["agent"] for a in status["calls"]["by_agent"]] == ["generator", "verifier"]
    json.dumps(status)  # ready for `reasonmed status --json`
    with pytest.raises(LookupError, match="ghost"):
        run_status(db, "ghost")
