"""Quality ranker node: keep the best ``pipeline.keep`` Correct paths of a question.

Only when there are more Correct paths than slots is the ranker asked; an unparseable score ranks
last rather than being guessed, and ties keep generator order so the choice is reproducible.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.runtime import Runtime

from reasonmed.agents.output_readers import parse_score
from reasonmed.agents.outputs import Score
from reasonmed.core.question import Question
from reasonmed.core.state import KeptRecord, PathRecord, QuestionState, ScoreRecord
from reasonmed.llm.context import PipelineContext
from reasonmed.llm.model_calls import call_until_parsed, question_block
from reasonmed.prompts.render import render
from reasonmed.replies.reply_types import ParseFailure

NODE = "rank"


async def _score(ctx: PipelineContext, question: Question, path: PathRecord) -> ScoreRecord:
    settings = ctx.config.agents.ranker
    outcome = await call_until_parsed(
        ctx,
        question_id=question.id,
        node=NODE,
        agent="ranker",
        alias=settings.model,
        sampling={**settings.sampling(), "index": path["index"]},
        prompt=render(
            "ranker",
            question_block=question_block(question),
            gold_answer=question.gold_text(),
            cot=path.get("cot", ""),
        ),
        parse=parse_score,
        max_attempts=settings.parse_attempts,
        output=Score,
    )
    parsed = outcome.parsed
    if isinstance(parsed, Score):
        return ScoreRecord(
            index=path["index"],
            score=parsed.score,
            justification=parsed.justification,
            failure=None,
            call=outcome.call_id,
        )
    failure = f"{parsed.kind}: {parsed.detail}" if isinstance(parsed, ParseFailure) else "none"
    return ScoreRecord(
        index=path["index"], score=None, justification="", failure=failure, call=outcome.call_id
    )


def _order(record: ScoreRecord) -> tuple[bool, int, int]:
    """Best first: parsed before unparsed, higher score first, then generator order."""
    score = record.get("score")
    return (score is None, -(score or 0), record["index"])


async def rank(state: QuestionState, runtime: Runtime[PipelineContext]) -> dict[str, Any]:
    """Pick the kept CoTs; easy ones are ready, medium ones go on to the refiner."""
    ctx = runtime.context
    keep = ctx.config.pipeline.keep
    question = Question.model_validate(state["question"])
    correct = sorted(
        (path for path in state.get("paths", []) if path.get("correct")),
        key=lambda path: path["index"],
    )
    scores: list[ScoreRecord] = []
    chosen = correct
    if len(correct) > keep:
        scores = list(await asyncio.gather(*(_score(ctx, question, p) for p in correct)))
        paths = {path["index"]: path for path in correct}
        chosen = [paths[record["index"]] for record in sorted(scores, key=_order)[:keep]]
    by_index = {record["index"]: record for record in scores}
    status = "ready" if state.get("tier") == "easy" else "pending"
    kept: list[KeptRecord] = []
    for slot, path in enumerate(chosen):
        score = by_index.get(path["index"], {})
        calls = [path.get("generate_call"), path.get("verify_call"), score.get("call")]
        kept.append(
            KeptRecord(
                slot=slot,
                source_index=path["index"],
                origin="generated",
                cot=path.get("cot", ""),
                score=score.get("score"),
                verdict=path.get("verdict") or "",
                reason=path.get("reason", ""),
                candidate=None,
                attempts=0,
                status=status,
                calls=[call for call in calls if call is not None],
            )
        )
    return {"scores": scores, "kept": kept}
