"""`reasonmed eval score`: the paper's Score Evaluator, with deterministic checks before the judge.

The judge (the config's `agents.judge`) scores each sampled response 1-10 on clinical accuracy,
logical reasoning, factual correctness and completeness, with a justification. Differences from
the reference scripts, all deliberate: structurally broken records are counted and not judged
(see checks.py); an unparseable judge reply is re-asked up to `agents.judge.parse_attempts`
times and, if it never parses, counted apart instead of as 0; the mean comes with a t interval.
Every judge call goes through `call_model`, so it is capped, seeded, cached and logged under the
eval id, and each item's result is stored at once: the same command continues an interrupted eval.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reasonmed.agents.output_readers import parse_judge_score
from reasonmed.agents.outputs import JudgeScore
from reasonmed.core.config import ConfigError, JudgeAgent, RunConfig
from reasonmed.evals.checks import BLOCKING, DEFAULT_MAX_CHARS, FLAGS, check_response
from reasonmed.evals.eval_session import (
    EvalDefinition,
    close_eval,
    open_eval,
    report_head,
    resolve_config,
    run_items,
)
from reasonmed.evals.intervals import summarize_scores
from reasonmed.evals.results import JudgedItem
from reasonmed.evals.score_items import Sample, ScoreItem, sample_file, sample_run
from reasonmed.exports.jsonl_export import Variant
from reasonmed.llm.context import PipelineContext
from reasonmed.llm.model_calls import call_until_parsed
from reasonmed.prompts import render
from reasonmed.replies.reply_types import ParseFailure
from reasonmed.storage.db import Database
from reasonmed.storage.eval_store import EvalItemRow, EvalRow, EvalStore

NODE = "eval_score"
NOTE = (
    "mean, sd, ci95 and distribution cover parsed judge scores only: unparseable judge replies "
    "are counted apart (not as 0), and blocked records were never sent to the judge"
)


@dataclass
class ScoreRequest:
    """What `reasonmed eval score` was asked to do: a run's examples or a file, sampled."""

    db_url: str
    config_path: Path | None = None
    run_id: str | None = None
    variant: Variant = "reasonmed"
    input_path: Path | None = None
    sample: int | None = 3000
    seed: int = 0
    eval_id: str | None = None
    concurrency: int | None = None
    overrides: list[str] = field(default_factory=list)
    max_chars: int = DEFAULT_MAX_CHARS
    use_cache: bool = True

    @property
    def resolved_eval_id(self) -> str:
        """--eval-id, else one named after what is scored, so the same command resumes."""
        if self.eval_id:
            return self.eval_id
        source = (
            f"{self.run_id}-{self.variant}" if self.run_id else Path(self.input_path or "").stem
        )
        return f"score-{source}-n{self.sample or 'all'}-s{self.seed}"


def judge_of(config: RunConfig, where: str) -> JudgeAgent:
    """The config's judge, or a clear error saying how to add one."""
    if config.agents.judge is None:
        raise ConfigError(
            [
                f"{where}: agents.judge is not set; scoring needs a judge model, e.g.\n"
                "  agents:\n    judge: {model: ALIAS}   # ALIAS: a key of models"
            ]
        )
    return config.agents.judge


async def judge_item(
    ctx: PipelineContext, judge: JudgeAgent, item: ScoreItem, max_chars: int
) -> tuple[JudgedItem, int | None]:
    """Check one response, then (unless blocked) ask the judge; the result and its last call."""
    check = check_response(
        item.output,
        options=item.options or None,
        gold=item.gold,
        max_chars=max_chars,
        parts=item.answer_parts,
    )
    base = {
        "blocked": check.blocked,
        "flags": check.flags,
        "answer": check.answer,
        "answer_checked": check.answer_checked,
    }
    if check.blocked:
        return JudgedItem(**base), None
    attempts = max(1, judge.parse_attempts)
    outcome = await call_until_parsed(
        ctx,
        question_id=item.item_id,
        node=NODE,
        agent="judge",
        alias=judge.model,
        sampling=judge.sampling(),
        prompt=render("judge", instruction=item.judge_instruction(), response=item.output),
        parse=parse_judge_score,
        max_attempts=attempts,
        output=JudgeScore,
    )
    parsed, replies = outcome.parsed, outcome.attempt + 1
    if isinstance(parsed, JudgeScore):
        return JudgedItem(
            **base,
            score=parsed.score,
            justification=parsed.justification,
            judge_replies=replies,
            unparseable_replies=replies - 1,
        ), outcome.call_id
    failure = (
        parsed
        if isinstance(parsed, ParseFailure)
        else ParseFailure(kind="empty", detail="no judge reply was parsed")
    )
    return JudgedItem(
        **base, failure=failure, judge_replies=replies, unparseable_replies=replies
    ), outcome.call_id


def _sample(db: Database, request: ScoreRequest) -> tuple[Sample, dict[str, Any]]:
    """The sampled items and the parameters that define the eval."""
    if (request.run_id is None) == (request.input_path is None):
        raise ValueError("score either a run (--run-id ID) or a file (--input FILE.jsonl)")
    common = {"sample": request.sample, "seed": request.seed, "max_chars": request.max_chars}
    if request.run_id is not None:
        sample = sample_run(db, request.run_id, request.variant, request.sample, request.seed)
        params = {"source": "run", "run_id": request.run_id, "variant": request.variant}
    else:
        assert request.input_path is not None
        sample = sample_file(request.input_path, request.sample, request.seed)
        params = {"source": "file", "input_path": str(request.input_path)}
    params |= {
        **common,
        "population": sample.population,
        "population_sha256": sample.population_sha256,
        "sampled": len(sample.items),
    }
    return sample, params


async def run_score(request: ScoreRequest) -> dict[str, Any]:
    """Score every sampled item not scored yet; return the eval's report (see `score_report`)."""
    eval_id = request.resolved_eval_id
    db = Database.from_url(request.db_url)
    try:
        store = EvalStore(db)
        config = resolve_config(store, eval_id, request.config_path, request.overrides)
        judge = judge_of(config, str(request.config_path or f"eval {eval_id}"))
        sample, params = _sample(db, request)
        open_eval(db, EvalDefinition(eval_id, "score", params, "judge"), config)
        done = store.done_ids(eval_id)
        todo = [item for item in sample.items if item.item_id not in done]

        async def work(ctx: PipelineContext, item: ScoreItem) -> None:
            result, call_id = await judge_item(ctx, judge, item, request.max_chars)
            await store.aadd_item(
                eval_id,
                item.item_id,
                item.position,
                input=item.stored_input(),
                result=result.stored(),
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
        return close_eval(db, eval_id, len(sample.items), failures, score_report)
    finally:
        await db.aclose()


def _counts(lists: Sequence[Sequence[str]], names: Sequence[str]) -> dict[str, int]:
    counter = Counter(name for found in lists for name in found)
    return {name: counter.get(name, 0) for name in names}


def score_report(
    row: EvalRow, items: Sequence[EvalItemRow], calls: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The eval's report, JSON-ready, from its stored row and items alone."""
    results = [JudgedItem.model_validate(item.result) for item in items]
    judged = [r for r in results if r.judged]
    scores = summarize_scores(r.score for r in judged)
    unflagged = summarize_scores(r.score for r in judged if not r.flags)
    sampled = int(row.params.get("sampled", len(results)))
    alias = (row.config.get("agents", {}).get("judge") or {}).get("model")
    return {
        **report_head(row, "reasonmed.eval.score/1", "judge", alias),
        "sampled": sampled,
        "n": len(results),
        "pending": max(0, sampled - len(results)),
        "checks": {
            "blocked_items": len(results) - len(judged),
            "blocked": _counts([r.blocked for r in results], BLOCKING),
            "flagged_items": sum(1 for r in judged if r.flags),
            "flags": _counts([r.flags for r in judged], FLAGS),
            "answer_checked": sum(1 for r in results if r.answer_checked),
        },
        "scores": {
            **scores.as_dict(),
            "judge_replies": sum(r.judge_replies for r in judged),
            "unparseable_replies": sum(r.unparseable_replies for r in judged),
        },
        "scores_unflagged": {
            "scored": unflagged.scored,
            "mean": unflagged.mean,
            "ci95": list(unflagged.ci95) if unflagged.ci95 else None,
        },
        "note": NOTE,
        "config_hash": row.config_hash,
        "prompt_hash": row.prompt_hashes.get("judge"),
        "calls": calls,
    }
