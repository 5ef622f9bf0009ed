"""The CLI against a real model: SmolLM2-135M-Instruct served by llama.cpp on one CPU thread.

Each scenario runs a few sample questions as a user would (`reasonmed run` in a subprocess),
kills it with SIGKILL once some calls are logged, resumes it with the same command, and then
checks what only a real model can show: every question ends done, rejected or failed with a
typed reason; the trace and the call log hold the real prompts and the model's own replies; no
call completed before the kill reaches the model again; and a rerun calls nothing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reasonmed.sources.question_files import load_questions
from tests.real_model.collect_replies import collect
from tests.real_model.conftest import MODEL_NAME, SMOLLM_CONFIG, LlamaServer
from tests.support.cli import CLI, reasonmed
from tests.support.pipeline import QUESTIONS, ROOT, query

pytestmark = [pytest.mark.real_model, pytest.mark.timeout(900)]

SQLITE_QUESTIONS = ("rm-one-002", "rm-abs-001")  # a one-liner, a yes/no question on an abstract
POSTGRES_QUESTIONS = ("rm-vig-006",)  # a clinical vignette
EASY_QUESTION = ("rm-one-004",)
FINAL = {"done", "rejected", "failed"}
FAILURE_KINDS = {"rate_limited", "server_error", "timeout", "connection", "auth", "bad_request"}
FAILURE_KINDS |= {"model_error", "internal"}
CALL_COLUMNS = "id, question_id, agent, request_key, cache_hit, error, reply, model"


@dataclass(frozen=True)
class Call:
    id: int
    question_id: str
    agent: str
    request_key: str | None
    cache_hit: bool
    error: str | None
    reply: str | None
    model: str

    @property
    def completed(self) -> bool:
        """A reply the model itself gave (not one served from the call log)."""
        return not self.cache_hit and self.error is None


def _calls(db_url: str) -> list[Call]:
    try:
        rows = query(db_url, f"SELECT {CALL_COLUMNS} FROM rm_llm_calls ORDER BY id")
    except Exception:  # the run has not created its tables yet
        return []
    return [Call(*row[:4], bool(row[4]), *row[5:]) for row in rows]


def _question_file(tmp_path: Path, ids: tuple[str, ...], name: str) -> Path:
    lines = QUESTIONS.read_text().splitlines(keepends=True)
    chosen = [line for line in lines if json.loads(line).get("id") in ids]
    assert len(chosen) == len(ids)
    path = tmp_path / f"{name}.jsonl"
    path.write_text("".join(chosen))
    return path


def _run_command(questions: Path, db_url: str, server: LlamaServer) -> list[str]:
    config = ["--config", str(SMOLLM_CONFIG)]
    return [*CLI, "run", str(questions), *config, "--db", db_url, *server.sets()]


def _kill_after(command: list[str], db_url: str, completed_calls: int) -> int:
    """Start the run, SIGKILL it once `completed_calls` model replies are logged; the count."""
    proc = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 300
        while (done := sum(c.completed for c in _calls(db_url))) < completed_calls:
            assert proc.poll() is None, f"the run ended before the kill: {proc.communicate()[1]}"
            assert time.monotonic() < deadline, f"only {done} calls logged after 300 s"
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    return done


def _json(*args: str) -> Any:
    done = reasonmed(*args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _check_outcomes(db_url: str, run_id: str, ids: list[str]) -> dict[str, str]:
    """Every question final; failed ones with a typed reason, rejected ones with theirs."""
    rows = _json("questions", "--run-id", run_id, "--db", db_url, "--json")
    assert [r["question_id"] for r in rows] == ids
    statuses = {r["question_id"]: r["status"] for r in rows}
    assert set(statuses.values()) <= FINAL, statuses
    assert all(r["examples"] > 0 for r in rows if r["status"] == "done"), rows
    report = _json("failures", "--run-id", run_id, "--db", db_url, "--json")
    listed = {r["question_id"]: r for r in report["questions"]}
    assert set(listed) == {q for q, s in statuses.items() if s != "done"}
    for row in listed.values():
        assert row["reason"], row
        if row["status"] == "failed":
            failure = row["failure"]
            assert failure["kind"] in FAILURE_KINDS and failure["node"] and failure["model"], row
    return statuses


def _check_traces(db_url: str, run_id: str, questions: Path, calls: list[Call]) -> None:
    """The trace shows each logged call with its real prompt and the model's own reply."""
    by_id = {c.id: c for c in calls}
    for question in load_questions(questions):
        trace = _json(
            "trace", "--run-id", run_id, "--question", question.id, "--db", db_url, "--json"
        )
        traced = [call for step in trace["steps"] for call in step["calls"]]
        assert any(c["agent"] == "generator" for c in traced), trace["steps"]
        for call in traced:
            assert call["model"] == MODEL_NAME
            prompt = "\n".join(m["content"] for m in call["prompt"])
            assert question.question[:60] in prompt  # the rendered template, with the question
            if call["error"] is None:
                assert call["reply"] and call["reply"].strip(), call
                assert call["reply"] == by_id[call["id"]].reply


def _keep_replies(db_url: str, run_id: str, questions: Path) -> None:
    """With REASONMED_REAL_REPLIES_OUT set, add the run's replies to the corpus being collected
    (tests/fixtures/real_replies/ was made this way, then annotated by hand)."""
    if corpus := os.environ.get("REASONMED_REAL_REPLIES_OUT"):
        rows = collect(db_url, run_id, questions)
        with (Path(corpus) / "collected.jsonl").open("a", encoding="utf-8") as out:
            out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def check_real_run(
    db_url: str, ids: tuple[str, ...], server: LlamaServer, tmp_path: Path, kill_after: int
) -> None:
    questions = _question_file(tmp_path, ids, "smollm")
    run_id = questions.stem
    command = _run_command(questions, db_url, server)
    requests_at_start = server.chat_requests()

    killed_at = _kill_after(command, db_url, kill_after)
    before = _calls(db_url)
    assert len([c for c in before if c.completed]) >= killed_at
    unfinished = query(
        db_url, "SELECT count(*) FROM rm_questions WHERE status NOT IN ('done', 'rejected')"
    )[0][0]
    assert unfinished > 0, "the kill came too late to test anything"

    resumed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert resumed.returncode in (0, 1), resumed.stderr  # 1: some question failed (typed)
    after = _calls(db_url)
    answered_before = {c.request_key for c in before if c.completed}
    sent_again = [
        c for c in after[len(before) :] if c.completed and c.request_key in answered_before
    ]
    assert sent_again == [], "a call that had completed before the kill reached the model again"
    keys = [c.request_key for c in after if c.completed]
    assert len(keys) == len(set(keys)), "one request was answered by the model twice"

    statuses = _check_outcomes(db_url, run_id, [q.id for q in load_questions(questions)])
    assert (resumed.returncode == 1) == ("failed" in statuses.values()), resumed.stderr
    real = [c for c in after if c.completed]
    assert real and all(c.reply and c.reply.strip() and c.model == MODEL_NAME for c in real)
    # Every reply in the log came from the llama.cpp server: it saw at least as many requests
    # (more when the kill cut requests short or a reply was re-asked after a transport error).
    assert server.chat_requests() - requests_at_start >= len(real)
    _check_traces(db_url, run_id, questions, after)
    _keep_replies(db_url, run_id, questions)

    finished = {q for q, s in statuses.items() if s != "failed"}
    requests = server.chat_requests()
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode in (0, 1), again.stderr
    new = _calls(db_url)[len(after) :]
    assert [c for c in new if c.question_id in finished] == []  # nothing finished is redone
    if len(finished) == len(statuses):
        assert again.returncode == 0, again.stderr
        assert new == [] and server.chat_requests() == requests  # zero calls


def test_sqlite_run_killed_resumed_and_rerun(
    smollm_server: LlamaServer, sqlite_url: str, tmp_path: Path
) -> None:
    check_real_run(sqlite_url, SQLITE_QUESTIONS, smollm_server, tmp_path, kill_after=4)


@pytest.mark.postgres
def test_postgres_run_killed_resumed_and_rerun(
    smollm_server: LlamaServer, postgres_url: str, tmp_path: Path
) -> None:
    check_real_run(postgres_url, POSTGRES_QUESTIONS, smollm_server, tmp_path, kill_after=3)


def test_edited_verdicts_send_a_real_question_to_the_ranker_and_summarizer(
    smollm_server: LlamaServer, sqlite_url: str, tmp_path: Path
) -> None:
    """The model's own verdicts rarely parse, so every real question ends difficult. Marking its
    paths Correct by hand (`reasonmed step`, key `e`) sends one down the easy tier, where the
    ranker and the summarizer meet the real model too."""
    questions = _question_file(tmp_path, EASY_QUESTION, "easy")
    (qid,) = EASY_QUESTION
    step = [
        "step", str(questions), "--question", qid, "--config", str(SMOLLM_CONFIG),
        "--db", sqlite_url, *smollm_server.sets(),
    ]  # fmt: skip
    generated = reasonmed(*step, "--steps", "2")  # generate, collect
    assert generated.returncode == 0, generated.stderr
    edits = "".join(f"e\npaths.{i}.correct=true\n" for i in range(3))
    verified = reasonmed(*step, stdin="\n" + edits + "q\n")  # verify, then the edits
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.count("applied: ") == 3, verified.stdout

    finished = reasonmed("run", str(questions), "--db", sqlite_url, "--run-id", "easy")
    assert finished.returncode == 0, finished.stderr
    (row,) = query(sqlite_url, "SELECT status, tier, errors FROM rm_questions")
    assert row[1:] == ("easy", 0), row
    calls = [c for c in _calls(sqlite_url) if c.completed]
    agents = {c.agent for c in calls}
    assert {"generator", "verifier", "ranker"} <= agents, agents
    replies = [c.reply for c in calls if c.agent == "ranker"]
    assert all(reply and reply.strip() for reply in replies)
    examples = query(sqlite_url, "SELECT summary FROM rm_examples")
    if row[0] == "done":  # the summary is the summarizer's real reply
        summaries = {c.reply.strip() for c in calls if c.agent == "summarizer"}
        assert examples and {s.strip() for (s,) in examples} <= summaries
    else:
        assert row[0] == "rejected" and examples == [], row
    _check_traces(sqlite_url, "easy", questions, _calls(sqlite_url))
    _keep_replies(sqlite_url, "easy", questions)
