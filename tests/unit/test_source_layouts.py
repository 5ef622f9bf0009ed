"""Benchmark files as published, read into validated questions: one layout at a time, then auto
detection, ids, and how errors are named. Containers (CSV, JSON, BOM, CRLF) are in
test_source_files.py, Parquet and the `datasets` library in test_source_parquet.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from reasonmed.core.question import LineError, QuestionFileError
from reasonmed.sources.question_files import load_questions
from reasonmed.sources.source_reader import (
    LAYOUTS,
    QuestionSource,
    SourceFormatError,
    open_source,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sources"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def fixture_rows(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines() if line]


def problems(source: QuestionSource) -> list[LineError]:
    with pytest.raises(QuestionFileError) as caught:
        source.validate()
    return caught.value.errors


def where(errors: list[LineError]) -> list[tuple[int, str]]:
    return [(error.line, error.field) for error in errors]


def medmcqa_row(n: int, cop: Any, **changes: Any) -> dict[str, Any]:
    row = {
        "id": f"mcq-{n}",
        "question": f"Made-up question number {n} about the cranial nerves?",
        "opa": f"Olfactory {n}",
        "opb": f"Optic {n}",
        "opc": f"Oculomotor {n}",
        "opd": f"Trochlear {n}",
        "cop": cop,
        "choice_type": "single",
        "exp": f"Explanation {n}.",
        "subject_name": "Anatomy",
        "topic_name": "Neuroanatomy",
    }
    return {**row, **changes}


# ------------------------------------------------------------------------------------ MedQA


def test_medqa_five_options_with_meta_info_as_metadata_never_in_the_prompt() -> None:
    source = open_source(FIXTURES / "medqa_us_sample.jsonl")
    assert source.layout == "medqa"
    assert source.validate() == 3
    first, second, third = source.questions()
    assert list(first.options) == ["A", "B", "C", "D", "E"]
    assert first.answer == "C" and first.options["C"] == "Cobalamin"
    assert second.answer == "A"  # "low c3 " agrees with "Low C3" ignoring case and space
    assert list(third.options) == ["A", "B", "C", "D"]
    assert first.source == "medqa" and first.subject == "" and first.source_id == ""
    assert first.metadata == {"meta_info": "step1"}
    assert third.metadata["metamap_phrases"] == ["70-year-old man", "resting tremor", "right hand"]
    prompt = third.question + third.lettered_options() + third.context
    assert "step1" not in prompt and "metamap" not in prompt


def test_medqa_answer_that_contradicts_answer_idx_is_an_error(tmp_path: Path) -> None:
    rows = fixture_rows("medqa_us_sample.jsonl")
    rows[1]["answer"] = "High IgE"  # answer_idx still says A (Low C3)
    source = open_source(write_jsonl(tmp_path / "test.jsonl", rows))
    errors = problems(source)
    assert where(errors) == [(2, "answer")]
    assert "'High IgE'" in errors[0].reason and "option A" in errors[0].reason
    assert [q.answer for q in source.questions()] == ["C", "D"]  # the bad row is skipped


def test_medqa_letter_not_among_the_options_is_an_error(tmp_path: Path) -> None:
    rows = fixture_rows("medqa_us_sample.jsonl")
    rows[2]["answer_idx"] = "E"  # this row has options A-D only
    rows[0]["answer_idx"] = "C."
    errors = problems(open_source(write_jsonl(tmp_path / "test.jsonl", rows)))
    assert where(errors) == [(1, "answer_idx"), (3, "answer_idx")]
    assert "'E' is not among the options A, B, C, D" in errors[1].reason


def test_medqa_bigbio_key_value_options_read_like_the_object(tmp_path: Path) -> None:
    rows = fixture_rows("medqa_us_sample.jsonl")
    for row in rows:
        row["options"] = [{"key": k, "value": v} for k, v in row["options"].items()]
    bigbio = list(open_source(write_jsonl(tmp_path / "bigbio.jsonl", rows)).questions())
    assert bigbio == list(open_source(FIXTURES / "medqa_us_sample.jsonl").questions())


# ---------------------------------------------------------------------------------- MedMCQA


def test_medmcqa_original_release_counts_cop_from_one() -> None:
    source = open_source(FIXTURES / "medmcqa_dev.json")  # JSONL, as the release names it
    assert (source.layout, source.cop_base) == ("medmcqa", 1)
    assert "cop base 1 (read from the data)" in source.describe()
    first, second, third = source.questions()
    assert [q.answer for q in (first, second, third)] == ["C", "D", "A"]
    assert first.options["C"] == "Facial nerve" and second.options["D"] == "Ethosuximide"
    assert first.id == "medmcqa-a1f0c2d4-0001-4000-8000-00000000aa01"
    assert first.source_id == "a1f0c2d4-0001-4000-8000-00000000aa01"
    assert (first.source, first.subject) == ("medmcqa", "Anatomy")
    assert set(first.metadata) == {"exp", "choice_type", "topic_name"}
    assert second.metadata == {"choice_type": "single"}  # null exp and topic_name left out
    assert "second pharyngeal arch" not in first.question + first.lettered_options()


def test_medmcqa_hub_copy_counts_cop_from_zero(tmp_path: Path) -> None:
    rows = [medmcqa_row(1, 2), medmcqa_row(2, 0), medmcqa_row(3, 3)]
    source = open_source(write_jsonl(tmp_path / "validation.jsonl", rows))
    assert source.cop_base == 0
    assert [q.answer for q in source.questions()] == ["C", "A", "D"]


def test_medmcqa_base_not_shown_is_refused_until_given(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "dev.jsonl", [medmcqa_row(1, 1), medmcqa_row(2, 3)])
    with pytest.raises(SourceFormatError) as caught:
        open_source(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert "cop_base=0" in message and "cop_base=1" in message and "--cop-base 0|1" in message
    one = open_source(path, cop_base=1)
    assert "cop base 1 (given)" in one.describe()
    assert [q.answer for q in one.questions()] == ["A", "C"]
    assert [q.answer for q in open_source(path, cop_base=0).questions()] == ["B", "D"]


def test_medmcqa_zero_and_four_in_one_file_is_refused(tmp_path: Path) -> None:
    rows = [medmcqa_row(1, 2), medmcqa_row(2, 0), medmcqa_row(3, 4)]
    with pytest.raises(SourceFormatError, match=r"cop is 0 on line 2 and 4 on line 3"):
        open_source(write_jsonl(tmp_path / "mixed.jsonl", rows))


@pytest.mark.parametrize(("cop_base", "bad_cop"), [(0, 4), (1, 0)])
def test_medmcqa_given_base_that_the_data_contradict_is_an_error(
    tmp_path: Path, cop_base: int, bad_cop: int
) -> None:
    rows = [medmcqa_row(1, 2), medmcqa_row(2, bad_cop), medmcqa_row(3, 3)]
    source = open_source(write_jsonl(tmp_path / "dev.jsonl", rows), cop_base=cop_base)
    errors = problems(source)
    assert where(errors) == [(2, "cop")]
    assert f"cop_base={1 - cop_base}" in errors[0].reason


def test_medmcqa_cop_minus_one_has_no_gold_answer_and_is_reported(tmp_path: Path) -> None:
    rows = [medmcqa_row(1, 0), medmcqa_row(2, -1), medmcqa_row(3, "two")]
    source = open_source(write_jsonl(tmp_path / "test.jsonl", rows))
    errors = problems(source)
    assert where(errors) == [(2, "cop"), (3, "cop")]
    assert "no gold answer" in errors[0].reason
    assert [q.source_id for q in source.questions()] == ["mcq-1"]


def test_medmcqa_split_without_any_answer_reports_every_row(tmp_path: Path) -> None:
    rows = [medmcqa_row(1, -1), medmcqa_row(2, -1)]
    errors = problems(open_source(write_jsonl(tmp_path / "test.jsonl", rows)))
    assert [e.reason.startswith("no gold answer") for e in errors] == [True, True]


def test_medmcqa_option_errors_name_the_option_field(tmp_path: Path) -> None:
    rows = [medmcqa_row(1, 1, opc="  "), medmcqa_row(2, 4)]
    del rows[1]["opb"]
    errors = problems(open_source(write_jsonl(tmp_path / "dev.jsonl", rows)))
    assert where(errors) == [(1, "opc"), (2, "opb")]
    assert errors[1].reason == "missing required field"


def test_cop_base_for_a_file_of_another_layout_is_refused() -> None:
    with pytest.raises(SourceFormatError, match="cop_base is for MedMCQA files"):
        open_source(FIXTURES / "medqa_us_sample.jsonl", cop_base=0)
    with pytest.raises(ValueError, match="cop_base must be 0 or 1"):
        open_source(FIXTURES / "medmcqa_dev.json", cop_base=2)


# --------------------------------------------------------------------------------- PubMedQA


def test_pubmedqa_original_keyed_by_pmid_with_maybe() -> None:
    source = open_source(FIXTURES / "pubmedqa_ori_pqal.json")
    assert source.layout == "pubmedqa" and source.container == "json_keyed"
    assert source.validate() == 3
    yes, maybe, no = source.questions()
    assert [q.answer for q in (yes, maybe, no)] == ["A", "C", "B"]
    assert maybe.options == {"A": "yes", "B": "no", "C": "maybe"}
    assert (maybe.id, maybe.source_id, maybe.source) == (
        "pubmedqa-90000002",
        "90000002",
        "pubmedqa",
    )
    assert maybe.context.count("\n\n") == 2 and maybe.context.endswith("between operators.")
    assert maybe.metadata["long_answer"].startswith("The evidence is mixed")
    assert maybe.metadata["meshes"] == ["Pneumothorax", "Ultrasonography"]
    assert maybe.metadata["year"] == "2018" and "year" not in no.metadata
    assert {"labels", "reasoning_required_pred", "reasoning_free_pred"} <= set(maybe.metadata)
    assert "operator experience" not in maybe.question + maybe.context + maybe.lettered_options()


def test_pubmedqa_hub_rows_give_the_same_questions_as_the_original() -> None:
    hub = list(open_source(FIXTURES / "pubmedqa_labeled.jsonl").questions())
    original = list(open_source(FIXTURES / "pubmedqa_ori_pqal.json").questions())
    assert [q.answer for q in hub] == ["A", "C", "B"]

    def prompt_part(q: Any) -> tuple[Any, ...]:
        return (q.id, q.question, q.options, q.answer, q.context, q.source_id)

    assert [prompt_part(q) for q in hub] == [prompt_part(q) for q in original]
    assert hub[1].metadata["long_answer"] == original[1].metadata["long_answer"]
    assert hub[1].metadata["meshes"] == original[1].metadata["meshes"]


def test_pubmedqa_final_decision_other_than_yes_no_maybe_is_an_error(tmp_path: Path) -> None:
    rows = fixture_rows("pubmedqa_labeled.jsonl")
    rows[0]["final_decision"] = "probably"
    del rows[2]["final_decision"]
    rows[1]["final_decision"] = " Maybe "
    errors = problems(open_source(write_jsonl(tmp_path / "pqa.jsonl", rows)))
    assert where(errors) == [(1, "final_decision"), (3, "final_decision")]
    assert "'probably'" in errors[0].reason


def test_pubmedqa_pmid_given_twice_in_the_keyed_object_is_an_error(tmp_path: Path) -> None:
    text = (FIXTURES / "pubmedqa_ori_pqal.json").read_text()
    first_value = json.dumps(json.loads(text)["90000001"])
    duplicated = text.replace('"90000003":', f'"90000001": {first_value},\n    "90000003":', 1)
    path = tmp_path / "ori_pqal.json"
    path.write_text(duplicated)
    errors = problems(open_source(path))
    assert len(errors) == 1 and errors[0].field == "id"
    assert "'pubmedqa-90000001'" in errors[0].reason and "first used on line 2" in errors[0].reason


# ------------------------------------------------------------------------------------- MMLU


def test_mmlu_headerless_csv_with_quotes_commas_and_a_multiline_question() -> None:
    source = open_source(FIXTURES / "clinical_knowledge_dev.csv")
    assert (source.layout, source.container) == ("mmlu", "csv")
    questions = list(source.questions())
    assert [q.answer for q in questions] == ["B", "A", "C", "B"]
    assert {q.subject for q in questions} == {"clinical_knowledge"}
    assert questions[1].question.startswith('A patient says "I cannot lift my arm, doctor."')
    assert questions[1].options["B"] == "Radial nerve, in the spiral groove"
    assert "symptoms,\nsupports" in questions[2].question
    assert [row.line for row in source.rows()] == [1, 2, 3, 5]
    assert questions[0].source == "mmlu" and questions[0].id.startswith("mmlu-")


@pytest.mark.parametrize(
    ("name", "subject"),
    [
        ("anatomy_dev.csv", "anatomy"),
        ("clinical_knowledge_test.csv", "clinical_knowledge"),
        ("college_medicine_val.csv", "college_medicine"),
        ("medical_genetics_train.csv", "medical_genetics"),
    ],
)
def test_mmlu_subject_is_the_file_name_less_its_split(
    tmp_path: Path, name: str, subject: str
) -> None:
    path = tmp_path / name
    shutil.copy(FIXTURES / "clinical_knowledge_dev.csv", path)
    assert {q.subject for q in open_source(path).questions()} == {subject}


def test_mmlu_headerless_row_with_the_wrong_number_of_cells(tmp_path: Path) -> None:
    path = tmp_path / "anatomy_test.csv"
    text = (FIXTURES / "clinical_knowledge_dev.csv").read_text()
    path.write_text(text + "Too short,A,B\n")
    errors = problems(open_source(path))
    assert where(errors) == [(6, "")]
    assert "expected 6 columns" in errors[0].reason


def test_mmlu_hub_rows_answer_by_index() -> None:
    source = open_source(FIXTURES / "mmlu_hub_rows.jsonl")
    assert source.layout == "mmlu"
    questions = list(source.questions())
    assert [q.answer for q in questions] == ["A", "B", "C"]
    assert [q.subject for q in questions] == ["nutrition", "anatomy", "anatomy"]
    assert questions[1].options["B"] == "Right atrium"


def test_mmlu_hub_answer_out_of_range_is_an_error(tmp_path: Path) -> None:
    rows = fixture_rows("mmlu_hub_rows.jsonl")
    rows[0]["answer"] = 4
    rows[2]["answer"] = "C"
    errors = problems(open_source(write_jsonl(tmp_path / "test.jsonl", rows)))
    assert where(errors) == [(1, "answer"), (3, "answer")]
    assert "(0-3)" in errors[0].reason


# ------------------------------------------------------------------ the project's own layout


def test_project_layout_reads_exactly_like_the_question_file_reader() -> None:
    good = open_source(EXAMPLES / "questions.jsonl")
    assert good.layout == "reasonmed"
    assert list(good.questions()) == load_questions(EXAMPLES / "questions.jsonl")
    with pytest.raises(QuestionFileError) as today:
        load_questions(EXAMPLES / "bad_questions.jsonl")
    assert problems(open_source(EXAMPLES / "bad_questions.jsonl")) == today.value.errors


# ------------------------------------------------------------------------------ detection


@pytest.mark.parametrize(
    ("name", "layout"),
    [
        ("medqa_us_sample.jsonl", "medqa"),
        ("medmcqa_dev.json", "medmcqa"),
        ("pubmedqa_ori_pqal.json", "pubmedqa"),
        ("pubmedqa_labeled.jsonl", "pubmedqa"),
        ("clinical_knowledge_dev.csv", "mmlu"),
        ("mmlu_hub_rows.jsonl", "mmlu"),
    ],
)
def test_auto_detects_each_layout_and_says_from_what(name: str, layout: str) -> None:
    source = open_source(FIXTURES / name)
    assert source.layout == layout and layout in LAYOUTS
    assert source.describe().startswith(f"{FIXTURES / name}: {layout} layout (")


def test_auto_detects_the_project_layout() -> None:
    assert open_source(EXAMPLES / "questions.jsonl").layout == "reasonmed"


def test_a_file_of_no_known_layout_is_refused_listing_its_fields(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "other.jsonl", [{"prompt": "Why?", "response": "Because."}])
    with pytest.raises(SourceFormatError) as caught:
        open_source(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: cannot tell its layout")
    assert "prompt, response" in message and "medmcqa (" in message


def test_a_given_layout_is_used_as_given(tmp_path: Path) -> None:
    source = open_source(FIXTURES / "medqa_us_sample.jsonl", layout="reasonmed")
    assert source.layout == "reasonmed"  # read by the project's rules: the answer text is used
    assert [q.answer for q in source.questions()] == ["C", "A", "D"]
    with pytest.raises(ValueError, match="unknown layout 'medqa2'"):
        open_source(FIXTURES / "medqa_us_sample.jsonl", layout="medqa2")


@pytest.mark.parametrize(
    ("content", "found"),
    [
        (b'{"question": "Cut off\n', "line 1: not valid JSON"),
        (b"\n\n\xff\xfe bad bytes\n", "line 3: not valid UTF-8: byte 0xFF"),
        (b'[{"question": "a"},\n {"question" "b"}]\n', "line 2: not valid JSON"),
    ],
)
def test_a_file_that_is_not_readable_at_all_is_refused_naming_file_and_line(
    tmp_path: Path, content: bytes, found: str
) -> None:
    path = tmp_path / "broken.json"
    path.write_bytes(content)
    with pytest.raises(SourceFormatError) as caught:
        open_source(path)
    assert str(caught.value).startswith(str(path)) and found in str(caught.value)


def test_empty_or_missing_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(SourceFormatError, match="holds no rows"):
        open_source(tmp_path / "empty.jsonl")
    with pytest.raises(SourceFormatError, match="no such file"):
        open_source(tmp_path / "absent.jsonl")
    source = open_source(tmp_path / "empty.jsonl", layout="medqa")
    assert where(problems(source)) == [(1, "")]


# ----------------------------------------------------------------------- errors and ids


def test_errors_name_the_file_the_line_and_the_field(tmp_path: Path) -> None:
    rows = [medmcqa_row(1, 1), medmcqa_row(2, 4, question=""), medmcqa_row(3, 9)]
    path = write_jsonl(tmp_path / "train.json", rows)
    with pytest.raises(QuestionFileError) as caught:
        open_source(path).validate()
    message = str(caught.value)
    assert message.splitlines()[0] == f"{path}: 2 problems"
    assert "  line 2, field 'question': question is empty" in message
    assert "  line 3, field 'cop': cop 9 is out of range for cop_base 1 (1-4)" in message
    assert caught.value.path == path


def test_ids_are_stable_across_reads_and_file_names(tmp_path: Path) -> None:
    for name in ("medqa_us_sample.jsonl", "clinical_knowledge_dev.csv", "mmlu_hub_rows.jsonl"):
        copy = tmp_path / f"copy_of_{name}"
        shutil.copy(FIXTURES / name, copy)
        ids = [q.id for q in open_source(FIXTURES / name).questions()]
        assert ids == [q.id for q in open_source(FIXTURES / name).questions()]
        assert ids == [q.id for q in open_source(copy).questions()]
        assert len(set(ids)) == len(ids)
        assert all(len(qid.split("-", 1)[1]) == 12 for qid in ids)


def test_the_same_question_twice_in_a_file_is_a_duplicate_id(tmp_path: Path) -> None:
    rows = fixture_rows("medqa_us_sample.jsonl")
    errors = problems(open_source(write_jsonl(tmp_path / "dup.jsonl", [*rows, rows[0]])))
    assert where(errors) == [(4, "id")]
    assert "derived from the same question" in errors[0].reason
    assert "first used on line 1" in errors[0].reason
    mcq = [medmcqa_row(1, 1), medmcqa_row(1, 4, question="Another question?")]
    errors = problems(open_source(write_jsonl(tmp_path / "dup_ids.jsonl", mcq)))
    assert where(errors) == [(2, "id")] and "derived" not in errors[0].reason
