"""Plain progress lines, as `run --workers` processes write them to one shared stderr."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from reasonmed.graph.progress import RunProgress
from reasonmed.storage.questions import Question
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
