"""An export request is checked before the database is touched: every refusal, and the token
and optional-extra rules of the Hub options."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from reasonmed.exports.dataset_export import ExportRequest, export_dataset
from reasonmed.exports.hf_extra import MissingExtraError
from reasonmed.exports.hub_upload import scrub
from reasonmed.exports.record_formats import RecordStyle
from reasonmed.exports.splits import SplitSpec

NO_DB: Any = None  # every check below fails before a database would be used


def refused(request: ExportRequest) -> str:
    with pytest.raises(ValueError) as caught:
        export_dataset(NO_DB, request)
    return str(caught.value)


def test_refusals_before_any_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    (tmp_path / "file").write_text("x")
    cases = [
        (ExportRequest("r"), "give --out, --hf or --push-to-hub"),
        (ExportRequest("r", out=tmp_path), "without --split, --out names one file"),
        (
            ExportRequest("r", out=tmp_path / "file", splits=(SplitSpec("test", 0.1),)),
            "a directory or a stem ending in .jsonl",
        ),
        (
            ExportRequest(
                "r", out=tmp_path / "x.jsonl", style=RecordStyle(format="o1", variant="cotmed")
            ),
            "--variant reasonmed",
        ),
        (
            ExportRequest(
                "r", out=tmp_path / "x.jsonl", splits=(SplitSpec("a", 0.7), SplitSpec("b", 0.4))
            ),
            "less than 1",
        ),
        (ExportRequest("r", hf_dir=tmp_path / "taken"), "not an earlier export"),
        (ExportRequest("r", push_to_hub="no-slash"), "expected USER/NAME"),
        (ExportRequest("r", push_to_hub="me/data"), "token with write access in $HF_TOKEN"),
    ]
    for request, message in cases:
        assert message in refused(request)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "taken"]


def test_hf_options_name_the_extra_when_it_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets -> ImportError
    with pytest.raises(MissingExtraError, match=r"pip install 'reasonmed\[hf\]'"):
        export_dataset(NO_DB, ExportRequest("r", hf_dir=tmp_path / "hf"))
    assert not (tmp_path / "hf").exists()


def test_scrub_blanks_every_copy_of_the_token() -> None:
    assert scrub("401 for Bearer hf_abc (hf_abc)", "hf_abc") == "401 for Bearer *** (***)"
    assert scrub("nothing here", "") == "nothing here"
