"""`--filter KEY=V1,V2` parsing, and the JSONL file naming of split exports."""

from __future__ import annotations

from pathlib import Path

import pytest

from reasonmed.exports.export_filters import describe_filter, parse_filters
from reasonmed.exports.jsonl_files import JsonlSplitFiles, line_encoder, split_paths
from reasonmed.storage.export_reads import ExampleFilter


def test_filters_add_values_per_key() -> None:
    filt = parse_filters(
        ["tier=easy,medium", "source=medqa", "origin=generated", "tier=easy", "model=qwen72b"]
    )
    assert filt == ExampleFilter(
        tiers=("easy", "medium"), sources=("medqa",), origins=("generated",), models=("qwen72b",)
    )
    assert describe_filter(filt) == [
        "tier=easy,medium", "source=medqa", "origin=generated", "model=qwen72b"
    ]  # fmt: skip
    assert parse_filters([]) == ExampleFilter()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tier", "expected KEY=VALUE"),
        ("colour=red", "unknown key 'colour'; keys: tier, source, origin, model"),
        ("tier=hard", "unknown tier 'hard'; expected one of easy, medium, difficult"),
        ("origin=copied", "unknown origin 'copied'; expected one of generated, refined"),
        ("tier=easy,", "an empty value"),
    ],
)
def test_bad_filters_say_what_would_match(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_filters([text])


def test_split_file_names(tmp_path: Path) -> None:
    names = ("train", "validation", "test")
    assert split_paths(tmp_path / "one.jsonl", ("train",), split=False) == {
        "train": tmp_path / "one.jsonl"
    }
    assert split_paths(tmp_path / "out", names, split=True) == {
        n: tmp_path / "out" / f"{n}.jsonl" for n in names
    }
    assert split_paths(tmp_path / "data.jsonl", names, split=True) == {
        n: tmp_path / f"data.{n}.jsonl" for n in names
    }


def test_split_files_appear_together_or_not_at_all(tmp_path: Path) -> None:
    paths = split_paths(tmp_path / "out", ("train", "validation"), split=True)
    paths["train"].parent.mkdir()
    paths["train"].write_text("earlier export\n")
    with pytest.raises(KeyboardInterrupt), JsonlSplitFiles(paths, line_encoder("messages")) as f:
        f.write("train", {"a": 1})
        raise KeyboardInterrupt
    assert sorted(p.name for p in paths["train"].parent.iterdir()) == ["train.jsonl"]
    assert paths["train"].read_text() == "earlier export\n"
    with JsonlSplitFiles(paths, line_encoder("messages")) as f:
        f.write("validation", {"text": "é"})
        f.commit()
    assert paths["validation"].read_bytes() == '{"text":"é"}\n'.encode()
    assert paths["train"].read_text() == ""
