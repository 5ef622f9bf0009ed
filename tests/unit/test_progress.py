"""Plain progress lines, as `run --workers` processes write them to one shared stderr."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from reasonmed.cli.progress import RunProgress, busy_note
from reasonmed.sources.question_files import Question
from reasonmed.storage.runs import QuestionRow


class Recorder(io.StringIO):
    """A stderr that remembers each write call: each is one write(2) on a real pipe."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def write(self, text: str) -> int:
        self.calls.append(text)
        return super().write(text)


def _row(question_id: str) -> QuestionRow:
    question = Question(id=question_id, question="Q?", options={"A": "a", "B": "b"}, answer="A")
    return QuestionRow(
        "run", question_id, 0, "t", question, "f", "pending", None, None, "", 0, 0, ""
    )


def test_each_progress_line_is_one_write(monkeypatch: pytest.MonkeyPatch) -> None:
    stderr = Recorder()
    monkeypatch.setattr("sys.stderr", stderr)
    progress = RunProgress(console=Console(file=io.StringIO()), worker="w2")
    progress.begin(2)
    progress(_row("q1"), {"status": "done", "tier": "easy"})
    progress(_row("q2"), {"status": "rejected", "tier": "difficult", "reason": "no CoT kept"})
    # Two processes' writes never split a line when each line goes out whole.
    assert stderr.calls == [
        "w2 [1/2] q1: done (easy)\n",
        "w2 [2/2] q2: rejected (difficult) - no CoT kept\n",
    ]


def test_busy_note_speaks_only_for_a_long_busy_run() -> None:
    assert busy_note(cpu_seconds=19.0, wall_seconds=20.0, finished=200) is not None
    assert busy_note(cpu_seconds=15.0, wall_seconds=20.0, finished=200) is None  # 75% busy
    assert busy_note(cpu_seconds=19.0, wall_seconds=20.0, finished=49) is None  # too few
    assert busy_note(cpu_seconds=9.5, wall_seconds=9.9, finished=200) is None  # too short
    note = busy_note(cpu_seconds=19.0, wall_seconds=20.0, finished=200)
    assert note is not None and "0.95 CPU cores" in note and "95 CPU ms per question" in note
    assert "--workers N" in note


def test_run_progress_measures_its_own_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr", io.StringIO())
    progress = RunProgress(console=Console(file=io.StringIO()), worker="w1")
    for index in range(60):
        progress(_row(f"q{index}"), {"status": ("done", "rejected", "failed")[index % 3]})
    assert progress.busy_note() is None  # a few milliseconds old: too short to judge
    # As if the run had gone on for 20 s, 19 of them on the CPU.
    progress.started -= 20.0
    progress.cpu_started -= 19.0
    note = progress.busy_note()
    assert note is not None and "per question" in note
    progress.cpu_started += 10.0  # 9 CPU seconds in 20: the endpoints set the pace
    assert progress.busy_note() is None
