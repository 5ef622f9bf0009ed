"""The dataset card, rendered from hand-made facts: its YAML header and the numbers it states."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from reasonmed.exports.card_facts import CardFacts, ExportCounts, RunFacts, read_import_report
from reasonmed.exports.dataset_card import render_card, size_category
from reasonmed.exports.record_formats import RecordStyle
from reasonmed.exports.record_schema import record_spec, yaml_features

USAGE = {"calls": 30, "prompt_tokens": 9000, "completion_tokens": 2500, "cache_hits": 4,
         "priced": 10, "cost": 0.125}  # fmt: skip


def overview(cost: float | None) -> dict[str, Any]:
    return {
        "total_questions": 5, "examples": 7,
        "calls": {"total": USAGE, "by_model": [{"alias": "qwen", "model": "Qwen2.5-72B",
                                               **USAGE}]},
        "cost": {"total": cost, "per_example": None if cost is None else cost / 7,
                 "unpriced_calls": 20},
    }  # fmt: skip


def facts(*, cost: float | None = 0.125, cleaning: Counter[str] | None = None) -> CardFacts:
    counts = ExportCounts(names=("train", "validation"))
    rows = [
        ("q1", "easy", "generated", "train"),
        ("q1", "easy", "generated", "train"),
        ("q2", "medium", "refined", "validation"),
        ("q3", "medium", "generated", "train"),
    ]
    for qid, tier, origin, split in rows:
        row = SimpleNamespace(question_id=qid, tier=tier, origin=origin, source="medqa",
                              provenance={"model": "qwen"})  # fmt: skip
        counts.add(split, row)
    style = RecordStyle(format="messages")
    run = RunFacts(
        run_id="r1", config_hash="c" * 64, prompt_hashes={"generator": "g" * 64},
        models={"qwen": "Qwen2.5-72B"}, agents={"generator": ["qwen"], "verifier": ["qwen"]},
        paths_per_question=9,
        temperatures=[0.7, 0.9, 1.0],
        tier_bounds=(4, 7),
        keep=2, overview=overview(cost),
        outcomes=[{"tier": "easy", "status": "done", "questions": 2, "errors": 3},
                  {"tier": "medium", "status": "done", "questions": 2, "errors": 12},
                  {"tier": "difficult", "status": "rejected", "questions": 1, "errors": 9}],
    )  # fmt: skip
    return CardFacts(
        run=run, counts=counts, format="messages", variant="reasonmed", metadata=True,
        reasoning_field=False, system_prompt=False, filters=["tier=easy,medium"],
        splits=[("validation", 0.25)], seed=3, top_ups=1,
        features=yaml_features(record_spec(style)), num_bytes={"train": 900, "validation": 300},
        download_size=700, license="cc-by-4.0", languages=["en"], cleaning=cleaning,
        repo_id="me/reasonmed-demo",
    )  # fmt: skip


def header(card: str) -> dict[str, Any]:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def test_yaml_header_is_what_the_hub_reads() -> None:
    meta = header(render_card(facts()))
    assert meta["license"] == "cc-by-4.0" and meta["language"] == ["en"]
    assert meta["size_categories"] == ["n<1K"]
    assert meta["task_categories"] == ["question-answering", "text-generation"]
    assert meta["configs"] == [{"config_name": "default", "data_files": [
        {"split": "train", "path": "data/train-*"},
        {"split": "validation", "path": "data/validation-*"},
    ]}]  # fmt: skip
    info = meta["dataset_info"]
    assert info["splits"] == [
        {"name": "train", "num_bytes": 900, "num_examples": 3},
        {"name": "validation", "num_bytes": 300, "num_examples": 1},
    ]
    assert info["download_size"] == 700 and info["dataset_size"] == 1200
    assert info["features"][0]["name"] == "messages"


def test_yaml_features_read_back_as_datasets_features() -> None:
    datasets = pytest.importorskip("datasets")
    from reasonmed.exports.hf_dataset import features_of

    for style in (RecordStyle(format="messages", reasoning_field=True), RecordStyle()):
        spec = record_spec(style)
        card = {"dataset_info": {"features": yaml_features(spec)}}
        infos = datasets.info.DatasetInfosDict.from_dataset_card_data(card)
        assert infos["default"].features == features_of(spec)


def test_body_states_the_numbers() -> None:
    card = render_card(facts())
    assert "| train | 2 | 3 |" in card and "| validation | 1 | 1 |" in card  # questions, examples
    assert "| easy | 2 | 50.0% |" in card and "| medium | 2 | 50.0% |" in card
    assert "| refined | 1 | 25.0% |" in card
    assert f"config hash `{'c' * 64}`" in card and f"| generator | {'g' * 64} |" in card
    assert "| qwen | Qwen2.5-72B | 30 | 9000 | 2500 | $0.1250 |" in card
    assert "| prompt tokens | 9000 |" in card and "| cost | $0.1250 |" in card
    # 5 finished questions x 9 chains, 24 judged Error.
    assert "| generated chains judged correct | 21 of 45 | 46.7% |" in card
    assert "| difficult questions that produced examples | 0 of 1 | 0.0% |" in card
    assert "| medium examples whose refinement passed | 1 of 2 | 50.0% |" in card
    assert 'load_dataset("me/reasonmed-demo")' in card
    method = " ".join(card.split())
    assert "answered 9 times by 1 generator model(s) at temperatures 0.7, 0.9, 1," in method
    assert "easy (0-4 of 9 failed), medium (5-7) or difficult (8-9)" in method
    assert "the best 2 were kept" in method
    assert "Filters: `tier=easy,medium`." in card and "validation 0.25, seed 3" in card


def test_cost_and_cleaning_when_not_recorded() -> None:
    card = render_card(facts(cost=None))
    assert "| cost | not recorded (no prices in the config) |" in card
    assert "None recorded (no import report was given)." in card
    card = render_card(facts(cleaning=Counter({"duplicate": 3, "contaminated": 1})))
    assert "4 questions were dropped before the run." in card
    assert "| duplicate | 3 |\n| contaminated | 1 |" in card


def test_size_categories() -> None:
    assert [size_category(n) for n in (0, 999, 1000, 370_000, 2_000_000, 10**8)] == [
        "n<1K", "n<1K", "1K<n<10K", "100K<n<1M", "1M<n<10M", "n>10M"
    ]  # fmt: skip


def test_import_report(tmp_path: Path) -> None:
    report = tmp_path / "drops.jsonl"
    report.write_text(
        '{"id": "a", "reason": "duplicate"}\n\n{"id": "b", "reason": "near_duplicate"}\n'
        '{"id": "c", "reason": "duplicate"}\n'
    )
    assert read_import_report(report) == Counter({"duplicate": 2, "near_duplicate": 1})
    report.write_text('{"id": "a"}\n')
    with pytest.raises(ValueError, match="line 1 has no string 'reason'"):
        read_import_report(report)
    report.write_text("not json\n")
    with pytest.raises(ValueError, match="line 1 is not JSON"):
        read_import_report(report)
