"""An opened run: its database, stored config, models, saver and compiled graph.

`reasonmed run`, `step` and `replay` all need the same things in the same order: validate the
input, resolve the config against the one the run was started with, build the models (a missing
API key fails before any call), register the questions. Doing it here keeps the three commands
in agreement about what a run is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reasonmed.core.config import RunConfig, config_from_dict, diff_configs, load_config
from reasonmed.core.question import Question
from reasonmed.graph.builder import build_graph
from reasonmed.llm.context import PipelineContext, thread_id_for
from reasonmed.llm.model_registry import ModelRegistry
from reasonmed.prompts import template_hashes
from reasonmed.storage.call_log import CallLog
from reasonmed.storage.db import Database
from reasonmed.storage.examples import examples_from_state
from reasonmed.storage.runs import RunStore
from reasonmed.storage.saver import SQLAlchemySaver

RECURSION_LIMIT = 100


class ConfigChangedError(RuntimeError):
    """The config differs from the one a run (or, as a subclass, an eval) was started with.

    The CLI turns any of them into exit code 3 with this message.
    """

    ADVICE = (
        "re-run with --accept-config-change to continue unfinished questions with the new "
        "config (finished questions stay as they are)"
    )

    def __init__(self, run_id: str, differences: list[str], *, subject: str = "run") -> None:
        self.differences = differences
        listing = "\n".join(f"  {d}" for d in differences)
        super().__init__(
            f"{subject} {run_id!r} was started with a different config:\n{listing}\n{self.ADVICE}"
        )


@dataclass
class ConfigSource:
    """Where a run's config comes from: a file (new or changed run) or the stored one."""

    run_id: str
    path: Path | None = None
    overrides: tuple[str, ...] = ()
    questions: str = ""
    accept_change: bool = False


def resolve_config(store: RunStore, source: ConfigSource) -> RunConfig:
    """The config to run with; creates the run, or records an accepted change in its history."""
    run_id = source.run_id
    stored = store.get_run(run_id)
    overrides = list(source.overrides)
    if source.path is None:
        if stored is None:
            raise FileNotFoundError(f"run {run_id!r} does not exist yet: pass --config FILE")
        return config_from_dict(stored.config, source=f"run {run_id}", overrides=overrides)
    config = load_config(source.path, overrides)
    if stored is None:
        store.create_run(
            run_id,
            source.questions,
            config.resolved_dict(),
            config.config_hash(),
            template_hashes(),
        )
    elif stored.config_hash != config.config_hash():
        changes = diff_configs(stored.config, config.resolved_dict())
        if not source.accept_change:
            raise ConfigChangedError(run_id, changes)
        store.update_run_config(
            run_id,
            config.resolved_dict(),
            config.config_hash(),
            template_hashes(),
            {"event": "config-change", "changes": changes},
        )
    elif stored.config != (resolved := config.resolved_dict()):
        # Same hash, other settings (the client, the card's dataset section): nothing about
        # what is sent changed, so no question is refused; keep the stored config current.
        changes = diff_configs(stored.config, resolved)
        store.update_run_config(
            run_id,
            resolved,
            stored.config_hash,
            dict(stored.prompt_hashes or {}),
            {"event": "config-update", "changes": changes},
        )
    return config


@dataclass
class Session:
    """Everything a command needs to drive question threads of one run."""

    db: Database
    store: RunStore
    saver: SQLAlchemySaver
    ctx: PipelineContext
    graph: Any

    @property
    def run_id(self) -> str:
        return self.ctx.run_id

    def thread_config(self, question_id: str, checkpoint_id: str | None = None) -> dict[str, Any]:
        """The LangGraph config of a question's thread (at `checkpoint_id` when given)."""
        configurable: dict[str, Any] = {"thread_id": thread_id_for(self.run_id, question_id)}
        if checkpoint_id is not None:
            configurable["checkpoint_id"] = checkpoint_id
        return {
            "configurable": configurable,
            "metadata": {"reasonmed_run_id": self.run_id, "question_id": question_id},
            "recursion_limit": RECURSION_LIMIT,
        }

    async def record_outcome(self, question: Question, state: dict[str, Any]) -> dict[str, Any]:
        """Store a finished thread's outcome and examples, then compact its checkpoints."""
        summary = await store_outcome(self.store, self.run_id, question, state)
        await self.saver.acompact([thread_id_for(self.run_id, question.id)])
        return summary


async def store_outcome(
    store: RunStore, run_id: str, question: Question, state: dict[str, Any]
) -> dict[str, Any]:
    """Store a finished graph state's outcome and examples on the question's row; a summary.

    Shared by the runner and the no-checkpointer benchmark, so both do the same bookkeeping.
    """
    outcome = state.get("outcome")
    if not outcome:  # never guess: a failed question is retried by the next run
        raise RuntimeError("the graph stopped without an outcome")
    done = outcome["status"] == "done"
    examples = examples_from_state(run_id, question, state) if done else []
    await store.afinish_question(
        run_id,
        question.id,
        status=outcome["status"],
        tier=state.get("tier"),
        errors=state.get("errors"),
        reason=outcome.get("reason", ""),
        examples=examples,
    )
    return {
        "status": outcome["status"],
        "tier": state.get("tier"),
        "examples": len(examples),
        "reason": outcome.get("reason", ""),
    }


@asynccontextmanager
async def open_session(
    db_url: str,
    source: ConfigSource,
    *,
    questions: Iterable[Question] = (),
    use_cache: bool = True,
    cap_share: int = 1,
) -> AsyncIterator[Session]:
    """Open the run (creating it from `source` if new), register `questions`, build the graph."""
    db = Database.from_url(db_url)
    try:
        store = RunStore(db)
        config = resolve_config(store, source)
        models = ModelRegistry(config)  # a missing API key fails here, before any call
        store.register_questions(source.run_id, questions)
        saver = SQLAlchemySaver(db)
        ctx = PipelineContext(
            run_id=source.run_id,
            config=config,
            models=models,
            calls=CallLog(db, config.prices()),
            use_cache=use_cache,
            cap_share=cap_share,
        )
        try:
            yield Session(db, store, saver, ctx, build_graph(saver))
        finally:
            await models.aclose()
    finally:
        await db.aclose()
