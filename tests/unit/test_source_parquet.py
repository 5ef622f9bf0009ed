"""The Hugging Face Hub's Parquet files, for each layout: rows numbered from 1, read batch by batch,
and what the real `datasets` library writes. The files are written here, never committed."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from reasonmed.core.question import LineError, QuestionFileError
from reasonmed.sources.source_reader import QuestionSource, SourceFormatError, open_source

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sources"


def write_parquet(path: Path, rows: list[dict[str, Any]], row_group_size: int = 1000) -> Path:
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=row_group_size)
    return path


def jsonl_rows(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines() if line]


def problems(source: QuestionSource) -> list[LineError]:
    with pytest.raises(QuestionFileError) as caught:
        source.validate()
    return caught.value.errors


def medmcqa_hub_rows(cops: list[int]) -> list[dict[str, Any]]:
    return [
        {
            "id": f"hub-{n}",
            "question": f"Made-up pharmacology question {n}?",
            "opa": f"Drug A{n}",
            "opb": f"Drug B{n}",
            "opc": f"Drug C{n}",
            "opd": f"Drug D{n}",
            "cop": cop,
            "choice_type": "single",
            "exp": None,
            "subject_name": "Pharmacology",
            "topic_name": None,
        }
        for n, cop in enumerate(cops, start=1)
    ]


def hub_rows(layout: str) -> list[dict[str, Any]]:
    """Rows shaped as each layout's Hub copy stores them."""
    if layout == "medmcqa":
        return medmcqa_hub_rows([0, 3, 1])
    if layout == "medqa":
        return jsonl_rows("medqa_us_sample.jsonl")
    if layout == "pubmedqa":
        return jsonl_rows("pubmedqa_labeled.jsonl")
    return jsonl_rows("mmlu_hub_rows.jsonl")


@pytest.mark.parametrize(
    ("layout", "answers"),
    [
        ("medmcqa", ["A", "D", "B"]),
        ("medqa", ["C", "A", "D"]),
        ("pubmedqa", ["A", "C", "B"]),
        ("mmlu", ["A", "B", "C"]),
    ],
)
def test_each_hub_layout_in_parquet_is_detected_and_read(
    tmp_path: Path, layout: str, answers: list[str]
) -> None:
    path = write_parquet(tmp_path / "test-00000-of-00001.parquet", hub_rows(layout))
    source = open_source(path)
    assert (source.container, source.layout, source.unit) == ("parquet", layout, "row")
    assert source.validate() == 3
    assert [q.answer for q in source.questions()] == answers
    assert [row.line for row in source.rows()] == [1, 2, 3]


def test_medqa_parquet_drops_the_null_fifth_option_of_four_option_rows(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "train.parquet", jsonl_rows("medqa_us_sample.jsonl"))
    assert pq.read_table(path).to_pylist()[2]["options"]["E"] is None  # the struct's union
    questions = list(open_source(path).questions())
    assert list(questions[2].options) == ["A", "B", "C", "D"]
    from_jsonl = list(open_source(FIXTURES / "medqa_us_sample.jsonl").questions())
    assert [(q.id, q.options, q.answer) for q in questions] == [
        (q.id, q.options, q.answer) for q in from_jsonl
    ]


def test_pubmedqa_parquet_with_maybe_matches_the_original_json(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "pqa_labeled.parquet", jsonl_rows("pubmedqa_labeled.jsonl"))
    from_parquet = list(open_source(path).questions())
    original = list(open_source(FIXTURES / "pubmedqa_ori_pqal.json").questions())
    assert from_parquet[1].answer == "C" and from_parquet[1].options["C"] == "maybe"
    assert [(q.id, q.context, q.answer) for q in from_parquet] == [
        (q.id, q.context, q.answer) for q in original
    ]


def test_parquet_errors_are_located_by_row(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "test.parquet", medmcqa_hub_rows([2, -1, 0, -1]))
    source = open_source(path)
    errors = problems(source)
    assert [(e.line, e.field) for e in errors] == [(2, "cop"), (4, "cop")]
    message = str(QuestionFileError(path, errors))
    assert message.splitlines()[0] == f"{path}: 2 problems"
    assert "  row 2, field 'cop': no gold answer" in message
    assert [q.source_id for q in source.questions()] == ["hub-1", "hub-3"]


def test_medmcqa_parquet_base_is_read_from_the_cop_column_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_parquet(tmp_path / "train.parquet", medmcqa_hub_rows([1, 2, 3, 2]))
    columns_read: list[Any] = []
    iter_batches = pq.ParquetFile.iter_batches

    def spy(self: pq.ParquetFile, *args: Any, **kwargs: Any) -> Any:
        columns_read.append(kwargs.get("columns"))
        return iter_batches(self, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", spy)
    with pytest.raises(SourceFormatError, match="--cop-base 0"):
        open_source(path)
    assert columns_read == [None, ["cop"]]  # detection peeks at one batch; the base pass: cop
    source = open_source(path, cop_base=0)
    assert [q.answer for q in source.questions()] == ["B", "C", "D", "C"]


def test_parquet_rows_are_numbered_across_batches_and_row_groups(tmp_path: Path) -> None:
    rows = [
        {"question": f"Q{n}?", "subject": "virology", "choices": ["w", "x", "y", "z"], "answer": 1}
        for n in range(1, 3001)
    ]
    rows[2099]["answer"] = 7
    rows[2999]["choices"] = ["w", "w", "y", "z"]
    path = write_parquet(tmp_path / "test.parquet", rows, row_group_size=700)
    errors = problems(open_source(path))
    assert [(e.line, e.field) for e in errors] == [(2100, "answer"), (3000, "choices")]
    assert str(errors[1]).startswith("row 3000, field 'choices': option B repeats")


def test_a_file_that_is_not_parquet_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "train.parquet"
    path.write_text("not parquet at all")
    with pytest.raises(SourceFormatError) as caught:
        open_source(path)
    assert str(caught.value).startswith(f"{path}: not a readable Parquet file")


def test_parquet_is_read_in_flat_memory(tmp_path: Path) -> None:
    def peak(count: int) -> int:
        rows = [
            {"question": f"Q{n}? " + "x" * 500, "subject": "s", "choices": ["a", "b"], "answer": 0}
            for n in range(count)
        ]
        path = write_parquet(tmp_path / f"{count}.parquet", rows)
        del rows
        tracemalloc.start()
        try:
            assert open_source(path).validate() == count
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(5000), peak(10000)
    assert large - small < 5000 * 500  # the ids seen grow, the rows (500+ bytes each) do not


# ------------------------------------------------------------ the real `datasets` library


@pytest.fixture
def offline_datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    return pytest.importorskip("datasets")


def test_hub_split_written_by_datasets_is_read(tmp_path: Path, offline_datasets: Any) -> None:
    datasets = offline_datasets
    features = datasets.Features(
        {
            "question": datasets.Value("string"),
            "subject": datasets.Value("string"),
            "choices": datasets.Sequence(datasets.Value("string")),
            "answer": datasets.ClassLabel(names=["A", "B", "C", "D"]),
        }
    )
    split = datasets.Dataset.from_list(jsonl_rows("mmlu_hub_rows.jsonl"), features=features)
    path = tmp_path / "test-00000-of-00001.parquet"
    split.to_parquet(str(path))
    source = open_source(path)
    assert source.layout == "mmlu"
    assert list(source.questions()) == list(
        open_source(FIXTURES / "mmlu_hub_rows.jsonl").questions()
    )


def test_fixtures_load_in_datasets_and_read_back_alike(
    tmp_path: Path, offline_datasets: Any
) -> None:
    """Our Hub-shaped fixtures are what `datasets` reads as such; its Parquet reads the same."""
    datasets = offline_datasets
    for name in ("pubmedqa_labeled.jsonl", "medqa_us_sample.jsonl", "medmcqa_dev.json"):
        loaded = datasets.load_dataset(
            "json", data_files=str(FIXTURES / name), split="train", cache_dir=str(tmp_path / "c")
        )
        path = tmp_path / f"{Path(name).stem}.parquet"
        loaded.to_parquet(str(path))
        from_library = list(open_source(path).questions())
        assert from_library == list(open_source(FIXTURES / name).questions())
        assert len(from_library) == 3
