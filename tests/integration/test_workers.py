"""`run --workers N`: N processes drive one PostgreSQL run; refused on SQLite."""

from __future__ import annotations

import re
import shlex
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from reasonmed.cli.workers import combined_exit
from reasonmed.core.call_record import CallRecord
from reasonmed.core.config import load_config
from reasonmed.graph.budget import Budget
from reasonmed.llm.context import PipelineContext
from reasonmed.mockserver.process import MockServerProcess
from reasonmed.sources.question_files import load_questions
from reasonmed.storage.call_log import CallLog
from reasonmed.storage.db import Database
from tests.support.cli import CLI, mock_sets, reasonmed
from tests.support.pipeline import MOCK_CONFIG, QUESTIONS, ROOT, query

RUN = "workers"


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServerProcess]:
    with MockServerProcess(answer_key=QUESTIONS, latency_ms=20) as server:
        yield server


def _command(db_url: str, mock: MockServerProcess, workers: int) -> list[str]:
    return ["run", str(QUESTIONS), "--config", str(MOCK_CONFIG), "--db", db_url, "--run-id", RUN,
            "--concurrency", "6", "--workers", str(workers), *mock_sets(mock)]  # fmt: skip


def test_workers_share_a_postgres_run(postgres_url: str, mock: MockServerProcess) -> None:
    ran = reasonmed(*_command(postgres_url, mock, 3))
    assert ran.returncode == 0, ran.stderr
    assert "starting 3 workers" in ran.stderr
    finished = re.findall(r"^(w\d) \[\d+/\d+\] (\S+): ", ran.stderr, flags=re.MULTILINE)
    by_question = Counter(question for _, question in finished)
    ids = {q.id for q in load_questions(QUESTIONS)}
    assert set(by_question) == ids, (ids - set(by_question), ran.stderr)
    assert set(by_question.values()) == {1}  # each once
    assert len({worker for worker, _ in finished}) >= 2  # the work was shared
    statuses = query(postgres_url, f"SELECT status FROM rm_questions WHERE run_id = '{RUN}'")
    assert {s for (s,) in statuses} <= {"done", "rejected"} and len(statuses) == len(ids)
    duplicated = query(
        postgres_url,
        "SELECT question_id, slot, count(*) FROM rm_examples "
        f"WHERE run_id = '{RUN}' GROUP BY question_id, slot HAVING count(*) > 1",
    )
    assert duplicated == []
    titles = re.findall(rf"^\s*run {RUN}\s*$", ran.stderr, flags=re.MULTILINE)
    assert len(titles) == 1  # one summary table, from the parent

    before = mock.stats()["requests"]
    again = reasonmed(*_command(postgres_url, mock, 2))
    assert again.returncode == 0, again.stderr
    assert mock.stats()["requests"] == before  # a finished run calls nothing


def test_workers_are_refused_on_sqlite(sqlite_url: str, mock: MockServerProcess) -> None:
    ran = reasonmed(*_command(sqlite_url, mock, 2))
    assert ran.returncode == 2
    assert "--workers needs a PostgreSQL --db" in ran.stdout + ran.stderr
    assert "starting" not in ran.stderr and "w1 " not in ran.stderr  # no worker started


def test_each_worker_gets_a_share_of_every_cap() -> None:
    config = load_config(MOCK_CONFIG, ["models.qwen72b.max_concurrency=8",
                                       "models.o1mini.max_concurrency=2"])  # fmt: skip
    ctx = PipelineContext(run_id="r", config=config, models=None, calls=None, cap_share=3)  # type: ignore[arg-type]
    assert ctx.limit("qwen72b").max_cap == 2  # 8 // 3: three workers stay within 8
    assert ctx.limit("o1mini").max_cap == 1  # never below one


def test_the_run_exit_code_is_the_most_serious_workers(tmp_path: Path) -> None:
    assert combined_exit([0, 0]) == 0
    assert combined_exit([0, 1, 4]) == 4  # a budget stop says more than failed questions
    assert combined_exit([1, 130]) == 130
    assert combined_exit([0, -9]) == 1  # a killed worker: the run is not complete


def test_a_workers_budget_counts_what_the_others_spend(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("reasonmed.graph.budget.SHARED_REFRESH_S", 0.0)
    aliases = ("qwen72b", "huatuo70b", "r1distill70b", "gpt4o", "o1mini", "gpt4omini")
    config = load_config(MOCK_CONFIG, [f"models.{a}.price_input_per_mtok=1" for a in aliases])
    db = Database.from_url(sqlite_url)
    try:
        mine, other = CallLog(db, config.prices()), CallLog(db, config.prices())
        budget = Budget.open(1.0, config, mine, "r", shared=True)

        def spend(log: CallLog, tokens: int) -> None:
            log.record(CallRecord(run_id="r", question_id="q", thread_id="t", node="n",
                                  agent="generator", alias="qwen72b", model="m", messages=[],
                                  template_hash="h", sampling={}, prompt_tokens=tokens,
                                  reply="x"))  # fmt: skip

        spend(mine, 300_000)  # $0.30
        assert not budget.check()
        spend(other, 800_000)  # another worker: $0.80, the run is at $1.10
        assert budget.check()
        assert budget.spent == pytest.approx(1.1)
    finally:
        db.close()


def test_ctrl_c_reaches_every_worker_and_the_printed_command_continues(
    postgres_url: str, tmp_path: Path
) -> None:
    questions = tmp_path / "ten.jsonl"
    questions.write_text("".join(QUESTIONS.read_text().splitlines(keepends=True)[:10]))
    with MockServerProcess(answer_key=QUESTIONS, latency_ms=150) as slow:
        command = [*CLI, "run", str(questions), "--config", str(MOCK_CONFIG), "--db", postgres_url,
                   "--concurrency", "2", "--workers", "2", *mock_sets(slow)]  # fmt: skip
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)  # fmt: skip
        deadline = time.monotonic() + 120
        while not query(postgres_url, "SELECT 1 FROM rm_questions WHERE status = 'done'"):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no question finished in time"
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)  # what a terminal's Ctrl-C sends the parent
        _, stderr = proc.communicate(timeout=90)
        assert proc.returncode == 130, stderr
        assert stderr.count("stopping: no new questions") == 2  # both workers heard it
        done = query(postgres_url, "SELECT count(*) FROM rm_questions WHERE status = 'done'")
        assert 1 <= done[0][0] < 10
        line = stderr.split("Continue with:", 1)[1].strip().splitlines()[0]
        words = shlex.split(line)
        assert words[:2] == ["reasonmed", "run"] and "--workers" in words
        again = subprocess.run([*CLI, *words[1:]], cwd=ROOT, capture_output=True, text=True,
                               timeout=300)  # fmt: skip
    assert again.returncode == 0, again.stderr
    final = query(postgres_url, "SELECT status FROM rm_questions")
    assert len(final) == 10 and {s for (s,) in final} <= {"done", "rejected"}
