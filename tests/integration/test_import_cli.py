"""`reasonmed import` and `run --format` as users run them: real subprocesses, real files.

The inputs are small made-up files in the benchmarks' published layouts, written here; the
Parquet ones with pyarrow, as the Hub's files are. One test carries a MedMCQA Parquet file
through `run --format medmcqa` against the mock endpoint to the exported training data.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from reasonmed.mockserver.process import MockServerProcess
from reasonmed.sources.question_files import load_questions
from tests.support.cli import mock_sets, reasonmed
from tests.support.pipeline import MOCK_CONFIG, query

CANARY = "EXPLANATION-CANARY-7f3a"  # in MedMCQA's `exp`: metadata that must never reach a model

# Made-up MedMCQA rows, Hub style (cop 0-3). Each stem is distinct clinical text.
STEMS = [
    ("Which vitamin deficiency causes scurvy in sailors on long voyages without fresh fruit?",
     ["Vitamin A", "Vitamin C", "Vitamin D", "Vitamin K"], 1),
    ("A child with a barking cough and inspiratory stridor most likely has which illness?",
     ["Croup", "Epiglottitis", "Asthma", "Bronchiolitis"], 0),
    ("Which electrolyte disturbance produces peaked T waves on the electrocardiogram?",
     ["Hypokalemia", "Hyperkalemia", "Hypocalcemia", "Hypernatremia"], 1),
    ("The first line drug for an anaphylactic reaction after a bee sting is which one?",
     ["Diphenhydramine", "Prednisolone", "Adrenaline", "Salbutamol"], 2),
    ("Which organism is the usual cause of lobar pneumonia in otherwise healthy adults?",
     ["Streptococcus pneumoniae", "Mycoplasma", "Legionella", "Klebsiella"], 0),
    ("Loss of the ankle jerk reflex points to a lesion of which spinal root?",
     ["L3", "L4", "L5", "S1"], 3),
]  # fmt: skip


def medmcqa_rows(stems: list[tuple[str, list[str], int]], prefix: str) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{prefix}-{n:04d}",
            "question": stem,
            "opa": options[0],
            "opb": options[1],
            "opc": options[2],
            "opd": options[3],
            "cop": cop,
            "choice_type": "single",
            "exp": f"{CANARY} reason {n}",
            "subject_name": "Medicine",
            "topic_name": None,
        }
        for n, (stem, options, cop) in enumerate(stems)
    ]


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def report_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_import_cleans_and_reports_every_drop(tmp_path: Path) -> None:
    train = medmcqa_rows(STEMS, "tr")
    reworded = dict(
        train[2], id="tr-copy", question=train[2]["question"].replace("produces", "causes")
    )
    exact_copy = dict(train[4], id="tr-dup")
    first = write_parquet(tmp_path / "train-00000-of-00001.parquet", train)
    second = write_jsonl(tmp_path / "extra.jsonl", [reworded, exact_copy])
    # The benchmark's test split: the Hub's has no answers (cop -1); it must still be matched.
    leaked = dict(train[5], id="te-0001", cop=-1)
    other_stem = "Which enzyme is deficient in classic phenylketonuria with a musty body odour?"
    unrelated = {**medmcqa_rows([STEMS[0]], "te")[0], "question": other_stem, "cop": -1}
    test_split = write_parquet(tmp_path / "test-00000-of-00001.parquet", [unrelated, leaked])
    out = tmp_path / "questions.jsonl"
    report = tmp_path / "dropped.jsonl"

    done = reasonmed("import", str(first), str(second), "--out", str(out), "--report",
                     str(report), "--decontaminate-against", str(test_split), "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "medmcqa layout" in done.stderr and "cop base 0 (read from the data)" in done.stderr
    summary = json.loads(done.stdout)
    assert summary["read"] == 8 and summary["benchmark_questions"] == 2
    assert summary["dropped"] == {"contaminated": 1, "near_duplicate": 1, "duplicate": 1}
    assert summary["written"] == 5

    drops = {d["id"]: d for d in report_lines(report)}
    assert drops["medmcqa-tr-0005"]["reason"] == "contaminated"
    assert drops["medmcqa-tr-0005"]["of"] == f"{test_split}:2"
    assert drops["medmcqa-tr-dup"] == {
        "id": "medmcqa-tr-dup", "file": str(second), "line": 2, "reason": "duplicate",
        "of": "medmcqa-tr-0004", "score": 1.0, "how": "exact",
    }  # fmt: skip
    assert drops["medmcqa-tr-copy"]["reason"] == "near_duplicate"
    assert drops["medmcqa-tr-copy"]["of"] == "medmcqa-tr-0002"
    assert 0 < drops["medmcqa-tr-copy"]["score"] < 1

    # Written aside and renamed, with an ordinary file's permissions (not mkstemp's 0600).
    umask = os.umask(0o022)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask == report.stat().st_mode & 0o777

    # What `run` reads: the project's question file, with provenance and metadata kept.
    written = load_questions(out)
    assert [q.id for q in written] == [f"medmcqa-tr-{n:04d}" for n in (0, 1, 2, 3, 4)]
    assert written[1].answer == "A" and written[0].answer == "B"  # cop 0-3: 0 is A
    assert {q.source for q in written} == {"medmcqa"} and written[0].source_id == "tr-0000"
    assert written[0].subject == "Medicine" and CANARY in written[0].metadata["exp"]


def test_bad_rows_write_nothing_unless_skipped(tmp_path: Path) -> None:
    rows = medmcqa_rows(STEMS[:3], "b")
    rows[1]["opc"] = ""  # an empty option
    source = write_jsonl(tmp_path / "dev.json", rows)
    out = tmp_path / "q.jsonl"
    refused = reasonmed("import", str(source), "--out", str(out), "--cop-base", "0")
    assert refused.returncode == 2
    assert f"{source}" in refused.stderr and "line 2" in refused.stderr and "opc" in refused.stderr
    assert "nothing was written" in refused.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == [source]

    skipped = reasonmed("import", str(source), "--out", str(out), "--cop-base", "0",
                        "--skip-invalid", "--json")  # fmt: skip
    assert skipped.returncode == 0, skipped.stderr
    assert json.loads(skipped.stdout)["invalid"] == 1
    assert [q.id for q in load_questions(out)] == ["medmcqa-b-0000", "medmcqa-b-0002"]
    (invalid,) = report_lines(out.with_name(out.name + ".report.jsonl"))
    assert invalid["reason"] == "invalid" and invalid["line"] == 2
    assert any("opc" in error for error in invalid["errors"])


def test_a_hidden_cop_base_is_refused_not_guessed(tmp_path: Path) -> None:
    rows = [
        dict(row, cop=row["cop"] + 1 if row["cop"] < 2 else 2)
        for row in medmcqa_rows(STEMS[:3], "h")
    ]
    source = write_jsonl(tmp_path / "dev.json", rows)  # cop values 2, 1, 2: either base fits
    out = tmp_path / "q.jsonl"
    refused = reasonmed("import", str(source), "--out", str(out))
    assert refused.returncode == 2 and "--cop-base" in refused.stderr
    assert not out.exists()
    for base, first_answer in (("0", "C"), ("1", "B")):
        done = reasonmed("import", str(source), "--out", str(out), "--cop-base", base)
        assert done.returncode == 0, done.stderr
        assert load_questions(out)[0].answer == first_answer  # cop 2: C from 0, B from 1


def test_an_unknown_layout_is_refused_with_the_fields_seen(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "odd.jsonl", [{"prompt": "x", "label": 1}])
    done = reasonmed("import", str(source), "--out", str(tmp_path / "q.jsonl"))
    assert done.returncode == 2
    assert "prompt" in done.stderr and "label" in done.stderr


@pytest.fixture(scope="module")
def medmcqa_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A MedMCQA Parquet file run with `run --format medmcqa` against the mock endpoint."""
    tmp = tmp_path_factory.mktemp("medmcqa-run")
    parquet = write_parquet(tmp / "validation.parquet", medmcqa_rows(STEMS[:4], "v"))
    key = tmp / "answer_key.jsonl"  # the mock answers from the project's own question file
    imported = reasonmed("import", str(parquet), "--out", str(key))
    assert imported.returncode == 0, imported.stderr
    db = f"sqlite:///{tmp / 'run.db'}"
    with MockServerProcess(answer_key=key) as mock:
        done = reasonmed("run", str(parquet), "--format", "medmcqa", "--config", str(MOCK_CONFIG),
                         "--db", db, "--run-id", "mcqa", *mock_sets(mock))  # fmt: skip
    return {"tmp": tmp, "db": db, "run": done, "parquet": parquet}


def test_run_reads_a_benchmark_file_through_to_export(medmcqa_run: dict[str, Any]) -> None:
    done, db, tmp = medmcqa_run["run"], medmcqa_run["db"], medmcqa_run["tmp"]
    assert done.returncode == 0, done.stderr
    status = json.loads(reasonmed("status", "--run-id", "mcqa", "--db", db, "--json").stdout)
    assert status["total_questions"] == 4 and status["examples"] > 0
    out = tmp / "train.jsonl"
    exported = reasonmed("export", "--run-id", "mcqa", "--variant", "reasonmed", "--out",
                         str(out), "--db", db)  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    records = report_lines(out)
    assert len(records) == status["examples"]
    assert {r["id"] for r in records} <= {f"medmcqa-v-{n:04d}" for n in range(4)}

    qid = records[0]["id"]
    trace = json.loads(
        reasonmed("trace", "--run-id", "mcqa", "--question", qid, "--db", db, "--json").stdout
    )
    assert trace["question"]["source"] == "medmcqa"
    assert trace["question"]["source_id"] == qid.removeprefix("medmcqa-")
    assert CANARY in trace["question"]["metadata"]["exp"]


def test_metadata_never_reaches_a_model(medmcqa_run: dict[str, Any]) -> None:
    assert medmcqa_run["run"].returncode == 0, medmcqa_run["run"].stderr
    sent = query(medmcqa_run["db"], "SELECT messages FROM rm_llm_calls")
    assert sent and not any(CANARY in str(messages) for (messages,) in sent)


def test_the_continue_command_keeps_the_format(medmcqa_run: dict[str, Any]) -> None:
    """A rerun of the same command is a no-op; without --format the file is refused clearly."""
    db, parquet = medmcqa_run["db"], medmcqa_run["parquet"]
    again = reasonmed("run", str(parquet), "--format", "auto", "--db", db, "--run-id", "mcqa")
    assert again.returncode == 0, again.stderr
    assert "medmcqa layout (detected from the fields" in again.stderr  # auto says what it chose
    plain = reasonmed("run", str(parquet), "--db", db, "--run-id", "mcqa")
    assert plain.returncode == 2 and str(parquet) in plain.stderr
