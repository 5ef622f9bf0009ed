"""Generator node: one chain of thought per (model, temperature), written without the gold answer.

The answer is extracted by rules from the raw reply (the reasoning wrapper tells an unfinished
reply from a finished one), while the stored CoT is the cleaned, training-ready text.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from reasonmed.core.question import Question
from reasonmed.core.state import GenerateTask
from reasonmed.llm.context import PipelineContext
from reasonmed.llm.model_calls import call_model, question_block
from reasonmed.prompts.render import render
from reasonmed.replies.answers import extract_answer
from reasonmed.replies.parsing import clean_cot

NODE = "generate"


async def generate(task: GenerateTask, runtime: Runtime[PipelineContext]) -> dict[str, Any]:
    """Write path ``task["index"]`` with its model alias at its temperature."""
    ctx = runtime.context
    settings = ctx.config.agents.generator
    question = Question.model_validate(task["question"])
    outcome = await call_model(
        ctx,
        question_id=question.id,
        node=NODE,
        agent="generator",
        alias=task["model"],
        sampling={
            "temperature": task["temperature"],
            "top_p": settings.top_p,
            "max_tokens": settings.max_tokens,
            "index": task["index"],
        },
        prompt=render("generator", question_block=question_block(question)),
    )
    extraction = extract_answer(outcome.reply, question.options)
    record = {
        "index": task["index"],
        "model": task["model"],
        "temperature": task["temperature"],
        "cot": clean_cot(outcome.reply),
        "answer": extraction.letter,
        "answer_method": extraction.method,
        "generate_call": outcome.call_id,
    }
    return {"paths": [record]}
