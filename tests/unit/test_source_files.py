"""The containers benchmarks ship in: JSON read in chunks, JSONL, CSV with and without a header,
and the awkward bytes (BOM, CRLF, blank lines, quotes, line breaks inside fields, bad UTF-8)."""

from __future__ import annotations

import io
import json
import tracemalloc
from pathlib import Path

import pytest

from reasonmed.core.question import LineError, QuestionFileError
from reasonmed.sources.json_stream import JsonSyntaxError, iter_array, iter_members
from reasonmed.sources.question_files import load_questions
from reasonmed.sources.source_reader import QuestionSource, open_source

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sources"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# Multi-byte characters, escapes, a surrogate pair, numbers and literals, spread over lines,
# so that a small chunk size cuts through every kind of token.
ARRAY_TEXT = """\ufeff[
  {"question": "Caf\u00e9 au lait spots \u4e2d \\ud83d\\ude00?", "n": 12345.5e3,
   "ok": true, "none": null, "list": [false, -0.25, "a\\"b"]},
  {"question": "second \u00e9\u00e9\u00e9\u00e9", "n": 7},

  {"question": "third", "n": -1}
]
"""


def problems(source: QuestionSource) -> list[LineError]:
    with pytest.raises(QuestionFileError) as caught:
        source.validate()
    return caught.value.errors


def where(errors: list[LineError]) -> list[tuple[int, str]]:
    return [(error.line, error.field) for error in errors]


# ------------------------------------------------------------------------- JSON in chunks


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 5, 7, 64, 1 << 20])
def test_json_array_in_any_chunk_size_decodes_like_json_loads(chunk_size: int) -> None:
    data = ARRAY_TEXT.encode("utf-8")
    rows = list(iter_array(io.BytesIO(data), chunk_size))
    assert [value for _, value in rows] == json.loads(ARRAY_TEXT.removeprefix("\ufeff"))
    assert [line for line, _ in rows] == [2, 4, 6]


@pytest.mark.parametrize("chunk_size", [1, 3, 64])
def test_keyed_object_in_any_chunk_size_gives_keys_and_their_lines(chunk_size: int) -> None:
    data = (FIXTURES / "pubmedqa_ori_pqal.json").read_bytes()
    members = list(iter_members(io.BytesIO(data), chunk_size))
    assert [key for _, key, _ in members] == ["90000001", "90000002", "90000003"]
    assert [value for _, _, value in members] == list(json.loads(data).values())
    lines = data.decode().splitlines()
    assert [lines[line - 1].strip()[:11] for line, _, _ in members] == [
        '"90000001":',
        '"90000002":',
        '"90000003":',
    ]


@pytest.mark.parametrize("chunk_size", [1, 4, 1 << 20])
def test_json_syntax_error_has_the_same_line_and_column_in_any_chunk_size(chunk_size: int) -> None:
    text = '[\n {"a": 1},\n {"a": 2,, "b": 3}\n]'
    stream = iter_array(io.BytesIO(text.encode()), chunk_size)
    assert next(stream)[1] == {"a": 1}
    with pytest.raises(JsonSyntaxError) as caught:
        next(stream)
    assert caught.value.line == 3
    assert caught.value.reason.startswith("not valid JSON") and "(column 10)" in caught.value.reason


def test_json_array_keeps_the_rows_before_a_syntax_error(tmp_path: Path) -> None:
    first, second = (FIXTURES / "mmlu_hub_rows.jsonl").read_text().splitlines()[:2]
    text = f"[\n{first},\n{second},\n{{oops}}\n]\n"
    path = tmp_path / "test.json"
    path.write_text(text)
    source = open_source(path)
    assert source.container == "json_array"
    assert where(problems(source)) == [(4, "")]
    assert len(list(source.questions())) == 2


def test_bad_utf8_inside_a_json_array_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "questions.json"
    path.write_bytes(
        b'[\n{"question": "ok", "options": ["a", "b"], "answer": "A"},\n{"q": "\xe9"}]'
    )
    errors = problems(open_source(path))  # the project's own layout: `run`'s own reader
    assert [(e.line, e.reason) for e in errors] == [
        (3, "not valid UTF-8: byte 0xE9 at byte 8 of the line")
    ]


def test_pretty_printed_json_array_of_project_records_reads_like_today(tmp_path: Path) -> None:
    records = [json.loads(line) for line in (EXAMPLES / "questions.jsonl").open()][:5]
    path = tmp_path / "questions.json"
    path.write_text(json.dumps(records, indent=2))
    source = open_source(path)
    assert (source.container, source.layout) == ("json_array", "reasonmed")
    assert list(source.questions()) == load_questions(path)
    assert [row.line for row in source.rows()][:2] == [
        2,
        2 + len(json.dumps(records[0], indent=2).splitlines()),
    ]


def test_a_json_file_of_records_starting_with_an_object_field_is_jsonl(tmp_path: Path) -> None:
    record = {"options": {"A": "Cortisol", "B": "Insulin"}, "question": "Stress hormone?"}
    path = tmp_path / "q.json"
    path.write_text(json.dumps({**record, "answer": "A"}) + "\n")
    source = open_source(path)
    assert (source.container, source.layout, source.validate()) == ("jsonl", "reasonmed", 1)


# ------------------------------------------------------------------------------------ JSONL


def test_jsonl_with_bom_crlf_and_blank_lines(tmp_path: Path) -> None:
    lines = (FIXTURES / "medqa_us_sample.jsonl").read_text().splitlines()
    path = tmp_path / "train.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n\r\n".join(lines).encode() + b"\r\n\r\n")
    source = open_source(path)
    assert source.layout == "medqa"
    assert [row.line for row in source.rows()] == [1, 3, 5]
    plain = list(open_source(FIXTURES / "medqa_us_sample.jsonl").questions())
    assert list(source.questions()) == plain


# -------------------------------------------------------------------------------------- CSV


def test_headerless_csv_with_bom_crlf_and_blank_lines(tmp_path: Path) -> None:
    text = (FIXTURES / "clinical_knowledge_dev.csv").read_text()
    path = tmp_path / "clinical_knowledge_dev.csv"
    path.write_bytes(b"\xef\xbb\xbf\r\n" + text.replace("\n", "\r\n").encode())
    source = open_source(path)
    assert source.layout == "mmlu"
    assert [row.line for row in source.rows()] == [2, 3, 4, 6]
    plain = list(open_source(FIXTURES / "clinical_knowledge_dev.csv").questions())
    assert list(source.questions()) == plain
    assert "symptoms,\r\nsupports" not in plain[2].question  # the line end inside stays "\n"


def test_csv_rows_are_located_where_they_start_past_multiline_fields(tmp_path: Path) -> None:
    text = (FIXTURES / "clinical_knowledge_dev.csv").read_text()
    text += '"A second\nmulti-line\nquestion",one,two,three,four,Z\nLast?,a,b,c,d,A\n'
    path = tmp_path / "anatomy_test.csv"
    path.write_text(text)
    errors = problems(open_source(path))
    assert where(errors) == [(6, "answer")]
    assert [row.line for row in open_source(path).rows()][-2:] == [6, 9]


def test_csv_with_a_header_is_read_by_its_column_names(tmp_path: Path) -> None:
    path = tmp_path / "medmcqa_train.csv"
    path.write_text(
        "id,question,opa,opb,opc,opd,cop,choice_type,exp,subject_name,topic_name\r\n"
        'm1,"Antidote for heparin, in overdose?",Protamine,Vitamin K,Naloxone,Atropine,1,'
        "single,,Pharmacology,Anticoagulants\r\n"
        "m2,Largest salivary gland?,Parotid,Submandibular,Sublingual,Minor glands,4,single,"
        '"Made up, for the test.",Anatomy,\r\n'
    )
    source = open_source(path)
    assert (source.layout, source.cop_base) == ("medmcqa", 1)
    first, second = source.questions()
    assert (first.answer, second.answer) == ("A", "D")
    assert first.question == "Antidote for heparin, in overdose?"
    assert second.metadata == {"choice_type": "single", "exp": "Made up, for the test."}


@pytest.mark.parametrize(
    ("content", "line", "found"),
    [
        (b"Q1?,a,b,c,d,A\nQ2 \xff?,a,b,c,d,B\nQ3?,a,b,c,d,C\n", 2, "not valid UTF-8: byte 0xFF"),
        (b'Q1?,a,b,c,d,A\n"Q2 never closed,a,b,c,d,B\n', 2, "expected 6 columns"),
    ],
)
def test_csv_that_breaks_off_is_reported_at_its_line(
    tmp_path: Path, content: bytes, line: int, found: str
) -> None:
    path = tmp_path / "virology_dev.csv"
    path.write_bytes(content)
    errors = problems(open_source(path))
    assert errors[0].line == line and found in errors[0].reason


def test_csv_row_with_a_cell_too_many_and_a_repeated_header_column(tmp_path: Path) -> None:
    path = tmp_path / "hub.csv"
    path.write_text("question,A,B,C,D,answer\nQ1?,a,b,c,d,A\nQ2?,a,b,c,d,B,extra\n")
    assert [(e.line, e.reason) for e in problems(open_source(path))] == [
        (3, "has 7 cells but the header has 6 columns")
    ]
    path.write_text("question,A,B,C,D,answer,A\nQ1?,a,b,c,d,A,x\n")
    assert "repeats the column(s) ['A']" in problems(open_source(path, layout="mmlu"))[0].reason


# ------------------------------------------------------------------------------- memory


def write_big_array(path: Path, count: int) -> Path:
    """A JSON array of `count` MedQA rows of about 4 kB each."""
    row = json.loads((FIXTURES / "medqa_us_sample.jsonl").read_text().split("\n")[0])
    with path.open("w") as out:
        out.write("[\n")
        for n in range(count):
            big = {**row, "question": f"{n}: {row['question']}", "meta_info": "x" * 4000}
            out.write(("," if n else "") + json.dumps(big) + "\n")
        out.write("]\n")
    return path


def validation_peak(path: Path, count: int) -> int:
    tracemalloc.start()
    try:
        assert open_source(path).validate() == count
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_large_json_array_is_validated_in_flat_memory(tmp_path: Path) -> None:
    small = validation_peak(write_big_array(tmp_path / "small.json", 1500), 1500)
    path = write_big_array(tmp_path / "large.json", 3000)
    large = validation_peak(path, 3000)
    assert large < path.stat().st_size / 2  # a chunk of text at a time, never the rows
    assert large - small < 1500 * 500  # what grows is the ids seen, not the rows
