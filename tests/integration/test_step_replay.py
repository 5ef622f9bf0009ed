"""`reasonmed step` and `reasonmed replay` as users run them: subprocesses, SQLite and Postgres."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from reasonmed.mockserver.process import MockServerProcess
from tests.support.cli import mock_sets, reasonmed
from tests.support.pipeline import MOCK_CONFIG, QUESTIONS, query

RUN = "steps"


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServerProcess]:
    with MockServerProcess(answer_key=QUESTIONS) as server:
        yield server


@pytest.fixture
def questions(tmp_path: Path) -> Path:
    path = tmp_path / "three.jsonl"
    path.write_text("\n".join(QUESTIONS.read_text().splitlines()[:3]) + "\n")
    return path


def _ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


def _nodes(db_url: str, run_id: str, qid: str) -> Counter[str]:
    rows = query(
        db_url,
        f"SELECT node FROM rm_llm_calls WHERE run_id = '{run_id}' AND question_id = '{qid}'",
    )
    return Counter(r[0] for r in rows)


def _trace(db_url: str, run_id: str, qid: str) -> dict:
    done = reasonmed("trace", "--run-id", run_id, "--question", qid, "--db", db_url, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_step_edit_quit_then_run_continues_the_same_thread(db_url, questions, mock) -> None:
    qid = _ids(questions)[0]
    first = reasonmed(
        "step", str(questions), "--question", qid, "--config", str(MOCK_CONFIG),
        "--db", db_url, "--run-id", RUN, "--steps", "2", *mock_sets(mock),
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert "generate → " in first.stdout  # announced before the first step, with its models
    assert "verify → " in first.stdout  # and what comes after `collect`
    assert "Continue with:" in first.stdout
    assert _nodes(db_url, RUN, qid) == {"generate": 9}

    # Interactive: verify, then mark every path wrong by hand, look around, quit.
    edits = "".join(f"e\npaths.{i}.correct=false\n" for i in range(9))
    keys = "\n" + edits + "s\np\nnonsense\nq\n"
    again = [
        "step", str(questions), "--question", qid, "--db", db_url, "--run-id", RUN,
    ]  # fmt: skip
    second = reasonmed(*again, stdin=keys)
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("applied: ") == 9
    assert "last step, in full" in second.stdout and "unknown key 'nonsense'" in second.stdout
    assert '"tier_reason"' not in second.stdout or "paths" in second.stdout  # `s` printed state
    assert _nodes(db_url, RUN, qid) == {"generate": 9, "verify": 9}

    bad = reasonmed(*again, stdin="e\npaths.42.correct=false\np\nq\n")
    assert bad.returncode == 0 and "not applied: paths has no record with index 42" in bad.stdout
    assert "last step, in full" in bad.stdout and "verifier → " in bad.stdout  # from the trace

    # A plain run finishes this question from where stepping stopped, and the others.
    run = reasonmed("run", str(questions), "--db", db_url, "--run-id", RUN)
    assert run.returncode == 0, run.stderr
    (row,) = query(
        db_url,
        f"SELECT status, tier, errors FROM rm_questions WHERE run_id = '{RUN}' "
        f"AND question_id = '{qid}'",
    )
    assert row == ("done", "difficult", 9) or row[:2] == ("rejected", "difficult")
    nodes = _nodes(db_url, RUN, qid)
    assert nodes["generate"] == 9 and nodes["verify"] == 9  # no completed call made twice
    assert nodes["regenerate"] >= 1 and "rank" not in nodes  # the edit changed the route
    trace = _trace(db_url, RUN, qid)
    edited = [s for s in trace["steps"] if s["source"] == "update"]
    assert len(edited) == 9 and all(s["nodes"] == ["verify"] for s in edited)
    statuses = query(db_url, f"SELECT status FROM rm_questions WHERE run_id = '{RUN}'")
    assert {s for (s,) in statuses} <= {"done", "rejected"} and len(statuses) == 3

    finished = reasonmed(*again, "--steps", "1")
    assert finished.returncode == 0 and "finished: " in finished.stdout


def _examples(db_url: str, run_id: str, qid: str) -> list[tuple]:
    return query(
        db_url,
        f"SELECT slot, cot, summary FROM rm_examples WHERE run_id = '{run_id}' "
        f"AND question_id = '{qid}' ORDER BY slot",
    )


def _replies(db_url: str, run_id: str, qid: str, model: str) -> set[str]:
    rows = query(
        db_url,
        f"SELECT reply FROM rm_llm_calls WHERE run_id = '{run_id}' AND question_id = '{qid}' "
        f"AND node = 'summarize' AND model = '{model}'",
    )
    return {r[0] for r in rows}


def test_replay_with_a_swapped_model_forks_and_trace_shows_both_branches(
    db_url, questions, mock
) -> None:
    run = reasonmed(
        "run", str(questions), "--config", str(MOCK_CONFIG), "--db", db_url,
        "--run-id", RUN, *mock_sets(mock),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    done = query(db_url, f"SELECT question_id FROM rm_questions WHERE run_id = '{RUN}' "
                 "AND status = 'done' ORDER BY position")  # fmt: skip
    qid = done[0][0]
    before = _examples(db_url, RUN, qid)
    rows = query(
        db_url, f"SELECT question_id, status, reason FROM rm_questions WHERE run_id = '{RUN}'"
    )
    for other, status, reason in rows:  # finished and rejected questions trace through the CLI
        trace = _trace(db_url, RUN, other)
        assert trace["status"] == status and trace["outcome"]["status"] == status
        assert trace["rejection"] == (reason if status == "rejected" else None)
        assert bool(trace["examples"]) == (status == "done")
    assert before

    # Into a new run: the original run is not touched at all.
    into = reasonmed(
        "replay", "--run-id", RUN, "--question", qid, "--from", "summarize",
        "--set", "agents.summarizer.model=gpt4o", "--into", "swapped", "--db", db_url,
    )  # fmt: skip
    assert into.returncode == 0, into.stderr
    assert "its examples are now the question's examples in run swapped" in into.stdout
    assert _examples(db_url, RUN, qid) == before
    assert _nodes(db_url, "swapped", qid) == {"summarize": len(before)}  # nothing else re-ran
    forked = _examples(db_url, "swapped", qid)
    assert len(forked) == len(before)
    assert {s for _, _, s in forked} <= _replies(db_url, "swapped", qid, "gpt-4o")
    trace = _trace(db_url, "swapped", qid)
    main_models = {
        c["model"] for s in trace["steps"] for c in s["calls"] if c["node"] == "summarize"
    }
    assert main_models == {"gpt-4o"}
    assert any(c["node"] == "generate" for s in trace["steps"] for c in s["calls"])  # source run's
    (branch,) = trace["branches"]
    other = {c["model"] for s in branch["steps"] for c in s["calls"] if c["node"] == "summarize"}
    assert other == {"gpt-4o-mini"} and branch["outcome"]["status"] == "done"
    assert "fork" in {s["source"] for s in trace["steps"]}
    history = query(db_url, "SELECT history FROM rm_runs WHERE run_id = 'swapped'")[0][0]
    history = json.loads(history) if isinstance(history, str) else history
    assert any(e.get("event") == "replay" and e["from_run"] == RUN for e in history)
    config = query(db_url, "SELECT config FROM rm_runs WHERE run_id = 'swapped'")[0][0]
    config = json.loads(config) if isinstance(config, str) else config
    assert config["agents"]["summarizer"]["model"] == "gpt4o"

    again = reasonmed(
        "replay", "--run-id", RUN, "--question", qid, "--from", "summarize", "--into",
        "swapped", "--set", "agents.summarizer.model=gpt4o", "--db", db_url,
    )  # fmt: skip
    assert again.returncode == 2 and "already holds question" in again.stderr

    # In place: a new branch of the same thread; the recorded examples stay until --adopt.
    args = ["replay", "--run-id", RUN, "--question", qid, "--from", "summarize",
            "--set", "agents.summarizer.model=gpt4o", "--db", db_url]  # fmt: skip
    in_place = reasonmed(*args)
    assert in_place.returncode == 0, in_place.stderr
    assert "recorded examples are unchanged" in in_place.stdout
    assert _examples(db_url, RUN, qid) == before
    trace = _trace(db_url, RUN, qid)
    assert len(trace["branches"]) == 1
    adopted = reasonmed(*args, "--adopt")
    assert adopted.returncode == 0, adopted.stderr
    after = _examples(db_url, RUN, qid)
    assert {s for _, _, s in after} <= _replies(db_url, RUN, qid, "gpt-4o")
    assert [c for _, c, _ in after] == [c for _, c, _ in before]  # only the summaries changed
    assert len(_trace(db_url, RUN, qid)["branches"]) == 2

    missing = reasonmed("replay", "--run-id", RUN, "--question", qid, "--from", "nosuch",
                        "--db", db_url)  # fmt: skip
    assert missing.returncode == 2 and "nodes that ran: " in missing.stderr
    assert "summarize" in missing.stderr
