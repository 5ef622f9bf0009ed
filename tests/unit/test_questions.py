"""Question files: normalization, whole-file checks with line numbers, streaming, sample data."""

from __future__ import annotations

import hashlib
import inspect
import json
import re
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from reasonmed.core.question import parse_record, question_fingerprint
from reasonmed.sources.question_files import (
    LineError,
    Question,
    QuestionFileError,
    iter_questions,
    load_questions,
    validate_question_file,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

VALID: dict[str, Any] = {
    "id": "v1",
    "question": "Which change is a decrease in the size of cells?",
    "options": ["Hypertrophy", "Atrophy", "Hyperplasia", "Metaplasia"],
    "answer": "B",
}


def record(**changes: Any) -> dict[str, Any]:
    """VALID with some fields replaced; a value of ... removes the field."""
    out = {**VALID, **changes}
    return {key: value for key, value in out.items() if value is not ...}


def write_jsonl(path: Path, lines: list[Any]) -> Path:
    """Write one line per item: dicts and lists as JSON, str as raw text, bytes as raw bytes."""
    parts = []
    for item in lines:
        if isinstance(item, bytes):
            parts.append(item)
        elif isinstance(item, str):
            parts.append(item.encode("utf-8"))
        else:
            parts.append(json.dumps(item).encode("utf-8"))
    path.write_bytes(b"\n".join(parts) + b"\n")
    return path


def errors_of(path: Path) -> list[LineError]:
    with pytest.raises(QuestionFileError) as caught:
        validate_question_file(path)
    return caught.value.errors


def only_question(tmp_path: Path, rec: dict[str, Any]) -> Question:
    questions = load_questions(write_jsonl(tmp_path / "q.jsonl", [rec]))
    assert len(questions) == 1
    return questions[0]


# ---------------------------------------------------------------- normalization


@pytest.mark.parametrize("answer", ["B", "b", "(B)", "B.", "B) ", " b ", "[B]", "B:"])
def test_letter_answer_forms_normalize_to_the_letter(tmp_path: Path, answer: str) -> None:
    assert only_question(tmp_path, record(answer=answer)).answer == "B"


@pytest.mark.parametrize(
    "answer", ["Atrophy", "  atrophy ", "ATROPHY", "B. Atrophy", "(b) atrophy"]
)
def test_answer_as_option_text_normalizes_to_the_letter(tmp_path: Path, answer: str) -> None:
    assert only_question(tmp_path, record(answer=answer)).answer == "B"


def test_list_options_are_lettered_in_input_order_and_stripped(tmp_path: Path) -> None:
    q = only_question(tmp_path, record(options=[" Hypertrophy ", "Atrophy", "Hyperplasia"]))
    assert q.options == {"A": "Hypertrophy", "B": "Atrophy", "C": "Hyperplasia"}


def test_letter_keyed_options_accept_any_case(tmp_path: Path) -> None:
    q = only_question(tmp_path, record(options={"a": "Hypertrophy", "b": "Atrophy"}, answer="b"))
    assert q.options == {"A": "Hypertrophy", "B": "Atrophy"}
    assert q.answer == "B"


def test_context_list_is_joined_with_blank_lines_and_extras_ignored(tmp_path: Path) -> None:
    rec = record(
        context=["Background: x.", "Results: y."], source="abstract-qa", meta_info={"k": 1}
    )
    q = only_question(tmp_path, rec)
    assert q.context == "Background: x.\n\nResults: y."
    assert q.source == "abstract-qa"


def test_lettered_options_and_gold_text(tmp_path: Path) -> None:
    q = only_question(tmp_path, record())
    assert q.lettered_options() == "A. Hypertrophy\nB. Atrophy\nC. Hyperplasia\nD. Metaplasia"
    assert q.gold_text() == "B. Atrophy"


def test_integer_id_becomes_a_string(tmp_path: Path) -> None:
    assert only_question(tmp_path, record(id=17)).id == "17"


def test_question_model_enforces_its_invariants() -> None:
    fields = {"id": "x", "question": "q?", "options": {"A": "a", "B": "b"}, "answer": "B"}
    q = Question(**fields)
    with pytest.raises(ValidationError):
        Question(**{**fields, "answer": "C"})
    with pytest.raises(ValidationError):
        Question(**{**fields, "options": {"A": "a", "C": "c"}, "answer": "A"})
    with pytest.raises(ValidationError):
        q.answer = "A"  # type: ignore[misc]


# ---------------------------------------------------------------- stable ids and fingerprints


def test_missing_id_gets_a_stable_content_id(tmp_path: Path) -> None:
    first = only_question(tmp_path, record(id=...))
    again = only_question(tmp_path, record(id=...))
    # same content written differently: options as an object, answer as text
    same = record(
        id=..., options=dict(zip("ABCD", VALID["options"], strict=True)), answer="atrophy"
    )
    rewritten = only_question(tmp_path, same)
    assert re.fullmatch(r"q-[0-9a-f]{12}", first.id)
    assert first.id == again.id == rewritten.id


@pytest.mark.parametrize(
    "change",
    [
        {"question": "Which change is an increase in the size of cells?"},
        {"options": ["Hypertrophy", "Atrophy", "Hyperplasia", "Dysplasia"]},
        {"answer": "A"},
    ],
)
def test_content_id_differs_when_content_differs(tmp_path: Path, change: dict[str, Any]) -> None:
    base = only_question(tmp_path, record(id=...))
    assert only_question(tmp_path, record(id=..., **change)).id != base.id


def test_fingerprint_tracks_every_field(tmp_path: Path) -> None:
    base = only_question(tmp_path, record(context="c"))
    assert re.fullmatch(r"[0-9a-f]{64}", question_fingerprint(base))
    assert question_fingerprint(only_question(tmp_path, record(context="c"))) == (
        question_fingerprint(base)
    )
    for change in ({"context": "d"}, {"source": "s"}, {"id": "v2"}, {"answer": "A"}):
        changed = only_question(tmp_path, record(**{"context": "c", **change}))
        assert question_fingerprint(changed) != question_fingerprint(base)


# ---------------------------------------------------------------- one error of each kind

# (bad line, field, text the reason must contain); the bad line is written as line 3 after a valid
# record and a blank line.
ERROR_CASES: list[tuple[Any, str, str]] = [
    ('{"question": "x", "options": ["a", "b"], "answer": "A"', "", "not valid JSON"),
    (["a", "b"], "", "record is an array, expected a JSON object"),
    ("42", "", "record is a number"),
    (record(id="m1", question=...), "question", "missing required field"),
    (record(id="m2", options=...), "options", "missing required field"),
    (record(id="m3", answer=...), "answer", "missing required field"),
    (record(id="e1", question="  \t "), "question", "question is empty"),
    (record(id="e2", question=7), "question", "must be a string"),
    (record(id="o1", options=["Only one"]), "options", "needs at least 2 options, got 1"),
    (record(id="o2", options="A or B"), "options", "must be a list of strings or an object"),
    (record(id="o3", options=["a", " ", "c"]), "options", "option B is empty"),
    (record(id="o4", options=["a", 3]), "options", "option B must be a string"),
    (record(id="o5", options=["Atrophy", "b", "ATROPHY "]), "options", "option C repeats"),
    (record(id="k1", options={"A": "a", "C": "c"}, answer="A"), "options", "got A, C"),
    (record(id="k2", options={"B": "b", "A": "a"}, answer="A"), "options", "in order"),
    (record(id="k3", options={"A": "a", "1": "b"}, answer="A"), "options", "'1' is not a single"),
    (record(id="k4", options={"A": "a", "a": "b"}, answer="A"), "options", "repeats 'A'"),
    (
        '{"id": "k5", "question": "q", "options": {"A": "a", "A": "b", "B": "c"}, "answer": "A"}',
        "options",
        "option key 'A' is given more than once",
    ),
    (record(id="a1", answer="E"), "answer", "'E' is not among the options A-D"),
    (record(id="a2", answer="Necrosis"), "answer", "'Necrosis' is not among the options A-D"),
    (record(id="a3", answer=2), "answer", "must be a letter or the text of an option"),
    (record(id="a4", answer=" "), "answer", "answer is empty"),
    (record(id=""), "id", "id is empty"),
    (record(id="c1", context={"x": 1}), "context", "must be a string or a list of strings"),
    (record(id="s1", source=5), "source", "must be a string"),
    (record(id="v1"), "id", "duplicate id 'v1'; first used on line 1"),
]


@pytest.mark.parametrize(("bad", "field", "reason"), ERROR_CASES)
def test_each_problem_gives_line_field_and_reason(
    tmp_path: Path, bad: Any, field: str, reason: str
) -> None:
    path = write_jsonl(tmp_path / "q.jsonl", [VALID, "", bad])
    errors = errors_of(path)
    assert len(errors) == 1, errors
    assert (errors[0].line, errors[0].field) == (3, field)
    assert reason in errors[0].reason


def test_not_utf8_names_the_line_of_the_first_bad_byte(tmp_path: Path) -> None:
    bad = (
        json.dumps(record(id="u1", question="Meniere disease?")).encode().replace(b"e d", b"\xe9 d")
    )
    path = write_jsonl(tmp_path / "q.jsonl", [VALID, "", "", bad])
    [error] = errors_of(path)
    assert (error.line, error.field) == (4, "")
    assert "not valid UTF-8" in error.reason and "0xE9" in error.reason


def test_duplicate_derived_id_names_the_first_line(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "q.jsonl", [record(id=...), record(id="x"), record(id=...)])
    [error] = errors_of(path)
    assert (error.line, error.field) == (3, "id")
    assert "first used on line 1" in error.reason and "derived" in error.reason


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "q.jsonl", ["", "  "])
    [error] = errors_of(path)
    assert "no questions" in error.reason


def test_all_problems_are_reported_at_once_from_the_bad_example() -> None:
    errors = errors_of(EXAMPLES / "bad_questions.jsonl")
    located = [(e.line, e.field) for e in errors]
    assert located == [
        (3, ""),  # not JSON
        (4, ""),  # not an object
        (5, "answer"),  # missing field
        (6, "question"),  # empty question
        (7, "options"),  # fewer than 2 options
        (8, "options"),  # empty option text
        (9, "options"),  # duplicate option text
        (10, "answer"),  # answer not among options
        (11, "id"),  # duplicate id
        (12, "options"),  # bad option keys
        (13, ""),  # not UTF-8
    ]


def test_error_message_is_readable_and_capped(tmp_path: Path) -> None:
    lines = [record(id=f"x{i}", answer="Z") for i in range(60)]
    path = write_jsonl(tmp_path / "questions.jsonl", lines)
    with pytest.raises(QuestionFileError) as caught:
        validate_question_file(path)
    text = str(caught.value)
    listed = text.splitlines()
    assert listed[0] == f"{path}: 60 problems"
    assert listed[1] == "  line 1, field 'answer': 'Z' is not among the options A-D"
    assert listed[-1] == "  ... and 10 more"
    assert len(listed) == 1 + 50 + 1
    assert caught.value.path == path and len(caught.value.errors) == 60
    assert str(LineError(4, "", "record is an array")) == "line 4: record is an array"


def test_byte_order_mark_and_crlf_line_endings_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    body = json.dumps(VALID) + "\r\n\r\n" + json.dumps(record(id="v2", answer="E")) + "\r\n"
    path.write_bytes(b"\xef\xbb\xbf" + body.encode())
    [error] = errors_of(path)
    assert (error.line, error.field) == (3, "answer")
    path.write_bytes(b"\xef\xbb\xbf" + (json.dumps(VALID) + "\r\n").encode())
    assert [q.id for q in load_questions(path)] == ["v1"]


# ---------------------------------------------------------------- JSON array files


def test_json_array_reports_the_line_where_each_element_starts(tmp_path: Path) -> None:
    good = json.dumps(VALID, indent=2)
    bad = json.dumps(record(id="v2", answer="E"), indent=2)
    assert good.count("\n") == bad.count("\n") == 10  # 11 lines each
    path = tmp_path / "q.json"
    path.write_text(f"\n  [\n{good},\n\n{bad}, {json.dumps(record(id='v3', options=[]))}\n]\n")
    errors = errors_of(path)
    # "[" on line 2, good on 3-13, blank 14, bad on 15-25, the third element on 25 after bad's "}"
    assert [(e.line, e.field) for e in errors] == [(15, "answer"), (25, "options")]


def test_json_array_loads_like_jsonl(tmp_path: Path) -> None:
    records = [record(id="v1"), record(id="v2", answer="Atrophy")]
    path = tmp_path / "q.json"
    path.write_text(json.dumps(records, indent=1))
    jsonl = write_jsonl(tmp_path / "q.jsonl", records)
    assert load_questions(path) == load_questions(jsonl)
    assert validate_question_file(path) == 2


def test_json_array_syntax_error_gives_the_decoder_line(tmp_path: Path) -> None:
    path = tmp_path / "q.json"
    path.write_text(f'[\n{json.dumps(VALID)},\n{{"question": oops}}\n]')
    [error] = errors_of(path)
    assert error.line == 3 and "not valid JSON" in error.reason


def test_json_array_missing_bracket_and_bad_utf8(tmp_path: Path) -> None:
    path = tmp_path / "q.json"
    path.write_text(f"[\n{json.dumps(VALID)}\n")
    [error] = errors_of(path)
    assert "expected ',' or ']'" in error.reason
    path.write_bytes(b"[\n" + json.dumps(VALID).encode() + b",\n\n" + b'{"question": "\xff"}]')
    [error] = errors_of(path)
    assert error.line == 4 and "not valid UTF-8" in error.reason


# ---------------------------------------------------------------- streaming and memory


def test_iter_questions_streams_and_stops_at_the_first_bad_record(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "q.jsonl", [VALID, record(id="v2", answer="Z"), record(id="v3")])
    stream = iter_questions(path)
    assert inspect.isgenerator(stream)
    assert next(stream).id == "v1"  # yielded before the bad line 2 is read
    with pytest.raises(QuestionFileError) as caught:
        next(stream)
    assert [(e.line, e.field) for e in caught.value.errors] == [(2, "answer")]


def test_iter_questions_reads_lazily_while_the_file_grows(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "q.jsonl", [VALID])
    stream = iter_questions(path)
    assert next(stream).id == "v1"
    with path.open("a") as more:  # written after the first question was handed out
        more.write(json.dumps(record(id="v2")) + "\n")
    assert next(stream).id == "v2"
    assert next(stream, None) is None


def test_iter_questions_rejects_duplicate_ids(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "q.jsonl", [VALID, VALID])
    with pytest.raises(QuestionFileError):
        list(iter_questions(path))


def test_validating_or_streaming_10000_questions_holds_no_records(tmp_path: Path) -> None:
    filler = "A detailed clinical vignette sentence. " * 30
    lines = [record(id=f"q{i}", question=f"{i}: {filler}", context=filler) for i in range(10_000)]
    path = write_jsonl(tmp_path / "big.jsonl", lines)
    del lines

    tracemalloc.start()
    try:
        assert validate_question_file(path) == 10_000
        validate_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        assert sum(1 for _ in iter_questions(path)) == 10_000
        stream_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        held = load_questions(path)
        load_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(held) == 10_000
    assert validate_peak < load_peak / 10, (validate_peak, load_peak)
    assert validate_peak < 4_000_000
    assert stream_peak < load_peak / 10, (stream_peak, load_peak)


# ---------------------------------------------------------------- the bundled sample


def test_sample_questions_load_cleanly() -> None:
    path = EXAMPLES / "questions.jsonl"
    questions = load_questions(path)
    assert validate_question_file(path) == len(questions) >= 36
    assert len({q.id for q in questions}) == len(questions)
    for q in questions:
        assert q.answer in q.options and len(q.options) >= 2 and q.source
    sources = {q.source for q in questions}
    assert {"clinical-vignette", "one-liner", "abstract-qa", "basic-science"} <= sources
    assert all(q.context for q in questions if q.source == "abstract-qa")


def test_sample_questions_exercise_every_input_form() -> None:
    raw = [json.loads(line) for line in (EXAMPLES / "questions.jsonl").read_text().splitlines()]
    assert sum("id" not in r for r in raw) >= 3
    assert sum(isinstance(r["options"], dict) for r in raw) >= 3
    assert sum(isinstance(r.get("context"), list) for r in raw) >= 1
    assert sum(len(r["answer"].strip()) > 3 for r in raw) >= 5  # answer given as option text
    assert sum(r["answer"] not in "ABCDE" for r in raw) >= 10  # lowercase, "(B)", "B.", text...


def test_provenance_fields_are_read_and_checked() -> None:
    record = {"question": "q?", "options": ["a", "b"], "answer": "A", "source": "medmcqa"}
    record |= {"source_id": 17, "subject": "Anatomy", "metadata": {"exp": "because"}}
    question, errors = parse_record(record, 3)
    assert errors == [] and question is not None
    assert (question.source_id, question.subject) == ("17", "Anatomy")
    assert question.metadata == {"exp": "because"}
    _, errors = parse_record({**record, "metadata": ["not", "an", "object"]}, 4)
    assert [(e.line, e.field) for e in errors] == [(4, "metadata")]


def test_fingerprint_of_a_question_without_provenance_is_the_one_stored_before() -> None:
    """Runs stored before source_id / subject / metadata existed must not see every question as
    edited: empty provenance fields stay out of the fingerprint."""
    question = Question(id="x", question="q?", options={"A": "a", "B": "b"}, answer="B")
    before = {"id": "x", "question": "q?", "options": {"A": "a", "B": "b"}, "answer": "B"}
    before |= {"context": "", "source": ""}
    payload = json.dumps(before, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert question_fingerprint(question) == hashlib.sha256(payload.encode()).hexdigest()
    with_metadata = question.model_copy(update={"metadata": {"exp": "e"}})
    assert question_fingerprint(with_metadata) != question_fingerprint(question)
