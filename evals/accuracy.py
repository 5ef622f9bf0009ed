"""`reasonmed eval accuracy`: a model's accuracy on held-out questions, overall and per source.

The examined model answers each question with the examinee prompt; the answer is read with the
pipeline's own extractor (agents/answers.py), so "no answer" means the same here as in the
pipeline, and counts as wrong (reported apart as well). Each answer is stored as soon as it
arrives and every call goes through `call_model` under the eval id: rerunning the same command
makes no call for an answered question, and a question any earlier eval (or run) already sent
identically is answered from the request cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reasonmed.core.question import Question, question_fingerprint
from reasonmed.evals.eval_session import (
    EvalDefinition,
    close_eval,
    open_eval,
    report_head,
    resolve_config,
    run_items,
)
from reasonmed.evals.intervals import proportion
from reasonmed.evals.results import ExamAnswer
from reasonmed.evals.sampling import population_fingerprint
from reasonmed.llm.context import PipelineContext
from reasonmed.llm.model_calls import call_model, question_block
from reasonmed.prompts import render
from reasonmed.replies.answers import extract_answer
from reasonmed.replies.reply_types import AnswerExtraction
from reasonmed.sources.source_reader import open_source
from reasonmed.storage.db import Database
from reasonmed.storage.eval_store import EvalItemRow, EvalRow, EvalStore

NODE = "eval_accuracy"
NO_SOURCE = "(none)"  # how a question without a `source` is reported


@dataclass
class AccuracyRequest:
    """What `reasonmed eval accuracy` was asked to do."""

    model: str  # an alias of the config's models
    questions: Path
    db_url: str
    config_path: Path | None = None
    eval_id: str | None = None
    concurrency: int | None = None
    overrides: list[str] = field(default_factory=list)
    # Greedy by default: an accuracy should not depend on a lucky sample. None: not sent.
    temperature: float | None = 0.0
    max_tokens: int = 4096
    use_cache: bool = True
    question_format: str = "reasonmed"  # how to read `questions`, as for `run`
    cop_base: int | None = None

    @property
    def resolved_eval_id(self) -> str:
        """--eval-id, else one named after the model and the question file."""
        return self.eval_id or f"accuracy-{self.model}-{self.questions.stem}"


async def answer_question(
    ctx: PipelineContext, request: AccuracyRequest, question: Question
) -> tuple[ExamAnswer, int]:
    """Ask the examined model one question; read its answer; the result and the call's id."""
    prompt = render("examinee", question_block=question_block(question))
    outcome = await call_model(
        ctx,
        question_id=question.id,
        node=NODE,
        agent="examinee",
        alias=request.model,
        sampling={"temperature": request.temperature, "max_tokens": request.max_tokens},
        prompt=prompt,
        parse=lambda reply: extract_answer(reply, question.options),
    )
    extraction = outcome.parsed
    assert isinstance(extraction, AnswerExtraction)  # the extractor reads any reply, never fails
    answer = ExamAnswer(
        source=question.source,
        gold=question.answer,
        letter=extraction.letter,
        method=extraction.method,
        correct=extraction.letter == question.answer,
    )
    return answer, outcome.call_id


async def run_accuracy(request: AccuracyRequest) -> dict[str, Any]:
    """Answer every question not answered yet; return the eval's report (`accuracy_report`)."""
    source = open_source(request.questions, request.question_format, request.cop_base)
    source.validate()  # the whole file checked first, like `run`
    questions = list(source.questions())
    if not questions:
        raise ValueError(f"{request.questions}: no questions")
    if request.max_tokens < 1:
        raise ValueError("--max-tokens must be at least 1")
    eval_id = request.resolved_eval_id
    db = Database.from_url(request.db_url)
    try:
        store = EvalStore(db)
        config = resolve_config(store, eval_id, request.config_path, request.overrides)
        if request.model not in config.models:
            defined = ", ".join(config.models)
            raise LookupError(f"--model {request.model!r} is not a model alias; defined: {defined}")
        params = {
            "model": request.model,
            "input_path": str(request.questions),
            "questions": len(questions),
            "questions_sha256": population_fingerprint(
                [f"{q.id}:{question_fingerprint(q)}" for q in questions]
            ),
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        }
        open_eval(db, EvalDefinition(eval_id, "accuracy", params, "examinee"), config)
        done = store.done_ids(eval_id)
        todo = [(pos, q) for pos, q in enumerate(questions) if q.id not in done]

        async def work(ctx: PipelineContext, item: tuple[int, Question]) -> None:
            position, question = item
            answer, call_id = await answer_question(ctx, request, question)
            await store.aadd_item(
                eval_id,
                question.id,
                position,
                input={"question": question.model_dump()},
                result=answer.model_dump(mode="json"),
                call_id=call_id,
            )

        failures = await run_items(
            db,
            eval_id,
            config,
            todo,
            work,
            concurrency=request.concurrency,
            use_cache=request.use_cache,
        )
        return close_eval(db, eval_id, len(questions), failures, accuracy_report)
    finally:
        await db.aclose()


def accuracy_summary(answers: Sequence[ExamAnswer]) -> dict[str, Any]:
    """Accuracy with its Wilson 95 % interval and no-answer count, overall and per source."""

    def block(group: Sequence[ExamAnswer]) -> dict[str, Any]:
        correct = sum(1 for a in group if a.correct)
        no_answer = sum(1 for a in group if a.letter is None)
        return {**proportion(correct, len(group)), "no_answer": no_answer}

    sources = sorted({a.source or NO_SOURCE for a in answers})
    return {
        "overall": block(answers),
        "by_source": {
            source: block([a for a in answers if (a.source or NO_SOURCE) == source])
            for source in sources
        },
    }


def accuracy_report(
    row: EvalRow, items: Sequence[EvalItemRow], calls: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The eval's report, JSON-ready, from its stored row and items alone."""
    answers = [ExamAnswer.model_validate(item.result) for item in items]
    alias = row.params.get("model")
    total = int(row.params.get("questions", len(answers)))
    return {
        **report_head(row, "reasonmed.eval.accuracy/1", "model", alias),
        "questions": total,
        "answered": len(answers),
        "pending": max(0, total - len(answers)),
        **accuracy_summary(answers),
        "note": "accuracy counts a reply without an extractable answer as wrong; "
        "no_answer says how many there were; ci95 is the Wilson 95 % interval",
        "config_hash": row.config_hash,
        "prompt_hash": row.prompt_hashes.get("examinee"),
        "calls": calls,
    }
