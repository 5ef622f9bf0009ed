"""The CLI as users run it: real subprocesses, real SQLite files, the mock endpoint over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from reasonmed.mockserver.process import MockServerProcess
from reasonmed.sources.question_files import load_questions
from tests.support.cli import mock_sets, reasonmed
from tests.support.pipeline import MOCK_CONFIG, QUESTIONS, ROOT


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServerProcess]:
    with MockServerProcess(answer_key=QUESTIONS) as server:
        yield server


def test_bad_question_file_lists_every_problem_before_any_call(tmp_path, mock) -> None:
    before = mock.stats()["requests"]
    done = reasonmed(
        "run",
        str(ROOT / "examples" / "bad_questions.jsonl"),
        "--config",
        str(MOCK_CONFIG),
        "--db",
        f"sqlite:///{tmp_path / 'r.db'}",
        *mock_sets(mock),
    )
    assert done.returncode == 2, done.stderr
    assert "bad_questions.jsonl" in done.stderr
    assert done.stderr.count("line ") >= 5  # one line per problem, all at once
    assert mock.stats()["requests"] == before


def test_bad_config_names_the_dotted_path(tmp_path, mock) -> None:
    config = tmp_path / "bad.yaml"
    text = MOCK_CONFIG.read_text().replace("  verifier:\n", "  verifier:\n    temprature: 1.0\n")
    config.write_text(text)
    done = reasonmed(
        "run",
        str(QUESTIONS),
        "--config",
        str(config),
        "--db",
        f"sqlite:///{tmp_path / 'r.db'}",
        *mock_sets(mock),
    )
    assert done.returncode == 2, done.stderr
    assert "agents.verifier.temprature" in done.stderr


def test_run_status_export_and_config_change(tmp_path, mock) -> None:
    small = tmp_path / "six.jsonl"
    small.write_text("".join(QUESTIONS.read_text().splitlines(keepends=True)[:6]))
    db = f"sqlite:///{tmp_path / 'run.db'}"
    done = reasonmed("run", str(small), "--config", str(MOCK_CONFIG), "--db", db, *mock_sets(mock))
    assert done.returncode == 0, done.stderr

    status = reasonmed("status", "--run-id", "six", "--db", db, "--json")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["questions"]["done"] + data["questions"]["rejected"] == 6
    assert data["examples"] > 0

    outputs = {}
    for variant in ("reasonmed", "cotmed", "responsemed"):
        out = tmp_path / f"{variant}.jsonl"
        exported = reasonmed(
            "export", "--run-id", "six", "--variant", variant, "--out", str(out), "--db", db
        )
        assert exported.returncode == 0, exported.stderr
        outputs[variant] = [json.loads(line) for line in out.read_text().splitlines()]
        assert len(outputs[variant]) == data["examples"]
    for full, cot, summary in zip(*outputs.values(), strict=True):
        assert {"id", "tier", "instruction", "input", "output", "provenance"} <= set(full)
        assert full["output"] == cot["output"] + "\n\n" + summary["output"]

    qid = outputs["reasonmed"][0]["id"]
    traced = reasonmed("trace", "--run-id", "six", "--question", qid, "--db", db, "--json")
    assert traced.returncode == 0, traced.stderr
    trace = json.loads(traced.stdout)
    assert trace["schema"] == "reasonmed.trace/1" and trace["question_id"] == qid
    assert [s["step"] for s in trace["steps"]] == sorted(s["step"] for s in trace["steps"])
    assert any(c["agent"] == "generator" for s in trace["steps"] for c in s["calls"])
    tree = reasonmed("trace", "--run-id", "six", "--question", qid, "--db", db)
    assert tree.returncode == 0 and qid in tree.stdout and "generate" in tree.stdout
    missing = reasonmed("trace", "--run-id", "six", "--question", "nope", "--db", db)
    assert missing.returncode == 2 and "reasonmed questions --run-id" in missing.stderr

    listed_q = reasonmed("questions", "--run-id", "six", "--db", db, "--json")
    assert listed_q.returncode == 0, listed_q.stderr
    rows = json.loads(listed_q.stdout)
    ids = [q.id for q in load_questions(small)]  # ids the file gives, or derived ones
    assert [r["question_id"] for r in rows] == ids  # input order, every question
    by_status = {s: [r for r in rows if r["status"] == s] for s in ("done", "rejected")}
    assert len(by_status["done"]) == data["questions"]["done"]
    assert sum(r["examples"] for r in rows) == data["examples"]
    only = reasonmed("questions", "--run-id", "six", "--db", db, "--json", "--status", "rejected")
    assert [r["question_id"] for r in json.loads(only.stdout)] == [
        r["question_id"] for r in by_status["rejected"]
    ]
    table = reasonmed("questions", "--run-id", "six", "--db", db)
    assert table.returncode == 0 and ids[0] in table.stdout

    runs = reasonmed("runs", "--db", db, "--json")
    assert runs.returncode == 0, runs.stderr
    (listed,) = json.loads(runs.stdout)
    assert listed["run_id"] == "six" and sum(listed["questions"].values()) == 6
    assert listed["examples"] == data["examples"] and listed["calls"] > 0
    # The run's own status and times are kept up to date, and both commands say the same.
    assert listed["status"] == data["status"] == "complete"
    assert listed["updated_at"] == data["updated_at"] > data["created_at"]

    before = mock.stats()["requests"]
    changed = reasonmed(
        "run",
        str(small),
        "--config",
        str(MOCK_CONFIG),
        "--db",
        db,
        *mock_sets(mock),
        "--set",
        "agents.summarizer.model=qwen72b",
    )
    assert changed.returncode == 3
    assert "agents.summarizer.model" in changed.stderr
    again = reasonmed("run", str(small), "--config", str(MOCK_CONFIG), "--db", db, *mock_sets(mock))
    assert again.returncode == 0, again.stderr
    assert mock.stats()["requests"] == before  # nothing recomputed, nothing called


def test_unknown_run_is_a_clear_error(tmp_path) -> None:
    done = reasonmed("status", "--run-id", "nope", "--db", f"sqlite:///{tmp_path / 'x.db'}")
    assert done.returncode == 2
    assert "nope" in done.stderr


def test_a_second_run_over_the_same_questions_is_served_by_the_cache(tmp_path, mock) -> None:
    two = tmp_path / "two.jsonl"
    two.write_text("".join(QUESTIONS.read_text().splitlines(keepends=True)[6:8]))
    db = f"sqlite:///{tmp_path / 'cache.db'}"
    first = reasonmed("run", str(two), "--config", str(MOCK_CONFIG), "--db", db, *mock_sets(mock))
    assert first.returncode == 0, first.stderr
    before = mock.stats()["requests"]
    again = reasonmed(
        "run",
        str(two),
        "--config",
        str(MOCK_CONFIG),
        "--db",
        db,
        *mock_sets(mock),
        "--run-id",
        "two-again",
    )
    assert again.returncode == 0, again.stderr
    assert mock.stats()["requests"] == before  # every request was answered before
    status = json.loads(reasonmed("status", "--run-id", "two-again", "--db", db, "--json").stdout)
    totals = status["calls"]["total"]
    assert totals["calls"] > 0 and totals["cache_hits"] == totals["calls"]
    fresh = reasonmed(
        "run",
        str(two),
        "--config",
        str(MOCK_CONFIG),
        "--db",
        db,
        *mock_sets(mock),
        "--run-id",
        "two-uncached",
        "--no-cache",
    )
    assert fresh.returncode == 0, fresh.stderr
    assert mock.stats()["requests"] > before
