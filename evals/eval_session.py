"""Opening an eval: its config, its row (created, or checked against the stored one), its models.

Both evals resume the same way `run` does: the same command continues, and the same eval id with
another config, other parameters or another prompt is refused before any call, because mixing
results from two setups under one id would make the report measure neither.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from reasonmed.core.config import RunConfig, config_from_dict, diff_configs, load_config
from reasonmed.graph.run_session import ConfigChangedError
from reasonmed.llm.context import PipelineContext
from reasonmed.llm.model_calls import ModelCallError
from reasonmed.llm.model_registry import ModelRegistry
from reasonmed.prompts import template_hashes
from reasonmed.storage.call_log import USAGE_SUMS, CallLog
from reasonmed.storage.db import Database
from reasonmed.storage.eval_store import EvalItemRow, EvalRow, EvalStore
from reasonmed.storage.runs import RunStore

T = TypeVar("T")
# Recorded with an eval but not part of what it is: the same file from another directory is
# the same input (its content is identified by a hash in the params).
INFO_KEYS = frozenset({"input_path"})


class EvalConfigChangedError(ConfigChangedError):
    """The config (or the prompt) differs from the one the eval was started with."""

    ADVICE = (
        "its results so far were produced with the stored one; rerun with that config, "
        "or start a new eval with --eval-id"
    )

    def __init__(self, eval_id: str, differences: list[str]) -> None:
        super().__init__(eval_id, differences, subject="eval")


class EvalMismatchError(ValueError):
    """The eval id is taken by an eval of another kind or with other parameters."""


@dataclass(frozen=True)
class EvalDefinition:
    """What an eval is: its id, kind, defining parameters and the prompt agent it uses."""

    eval_id: str
    kind: str  # "score" | "accuracy"
    params: dict[str, Any]
    agent: str  # the prompt templates it renders: "judge" | "examinee"


def resolve_config(
    store: EvalStore, eval_id: str, path: Path | None, overrides: Sequence[str]
) -> RunConfig:
    """The config from --config (with --set), or the stored one when continuing an eval."""
    if path is not None:
        return load_config(path, overrides)
    stored = store.get_eval(eval_id)
    if stored is None:
        raise FileNotFoundError(f"eval {eval_id!r} does not exist yet: pass --config FILE")
    return config_from_dict(stored.config, source=f"eval {eval_id}", overrides=list(overrides))


def _param_differences(stored: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    keys = sorted(set(stored) | set(wanted))
    return [
        f"{key}: {stored.get(key)!r} -> {wanted.get(key)!r}"
        for key in keys
        if key not in INFO_KEYS and stored.get(key) != wanted.get(key)
    ]


def open_eval(db: Database, definition: EvalDefinition, config: RunConfig) -> EvalRow:
    """Create the eval, or check that the stored one is the same eval; return its row."""
    eval_id = definition.eval_id
    if RunStore(db).get_run(eval_id) is not None:
        # The call log files an eval's calls under its id as the run id; sharing one with a run
        # would mix their calls in `status`.
        raise EvalMismatchError(f"{eval_id!r} is a run id in this database; pick another --eval-id")
    store = EvalStore(db)
    prompts = template_hashes()
    row = store.get_eval(eval_id) or store.create_eval(
        eval_id,
        definition.kind,
        definition.params,
        config.resolved_dict(),
        config.config_hash(),
        prompts,
    )
    if row.kind != definition.kind:
        raise EvalMismatchError(
            f"eval {eval_id!r} is a {row.kind} eval, not {definition.kind}; pick another --eval-id"
        )
    differences = _param_differences(row.params, definition.params)
    if differences:
        listing = "\n".join(f"  {d}" for d in differences)
        raise EvalMismatchError(
            f"eval {eval_id!r} was started with other parameters:\n{listing}\n"
            "rerun it with the same ones, or start a new eval with --eval-id"
        )
    changes: list[str] = []
    if row.config_hash != config.config_hash():
        changes = diff_configs(row.config, config.resolved_dict())
    agent = definition.agent
    if row.prompt_hashes.get(agent) != prompts[agent]:
        changes.append(f"prompt {agent}: templates changed (hash {row.prompt_hashes.get(agent)})")
    if changes:
        raise EvalConfigChangedError(eval_id, changes)
    return row


@asynccontextmanager
async def eval_context(
    db: Database, eval_id: str, config: RunConfig, *, use_cache: bool = True
) -> AsyncIterator[PipelineContext]:
    """The pipeline's call context with the eval id as run id: the request cache and log apply."""
    models = ModelRegistry(config)  # a missing API key fails here, before any call
    try:
        yield PipelineContext(
            run_id=eval_id,
            config=config,
            models=models,
            calls=CallLog(db, config.prices()),
            use_cache=use_cache,
        )
    finally:
        await models.aclose()


async def run_bounded(
    items: Iterable[T], work: Callable[[T], Awaitable[None]], concurrency: int
) -> list[str]:
    """Run `work` on every item, at most `concurrency` at once; return transport failures.

    A ModelCallError (retries exhausted) leaves its item without a result, to be retried by the
    next run of the same command; any other exception is a bug and propagates.
    """
    gate = asyncio.Semaphore(max(1, concurrency))
    failures: list[str] = []

    async def one(item: T) -> None:
        async with gate:
            try:
                await work(item)
            except ModelCallError as exc:
                failures.append(str(exc))

    await asyncio.gather(*(one(item) for item in items))
    return failures


async def run_items(
    db: Database,
    eval_id: str,
    config: RunConfig,
    items: Sequence[T],
    work: Callable[[PipelineContext, T], Awaitable[None]],
    *,
    concurrency: int | None,
    use_cache: bool,
) -> list[str]:
    """Run `work` on every item in one call context; return transport failures.

    With nothing left to do no context is opened, so a finished eval reports without needing
    its model's API key. Concurrency defaults to the config's `pipeline.concurrency`.
    """
    if not items:
        return []
    async with eval_context(db, eval_id, config, use_cache=use_cache) as ctx:
        return await run_bounded(
            items,
            lambda item: work(ctx, item),
            concurrency or config.pipeline.concurrency,
        )


def call_totals(db: Database, eval_id: str) -> dict[str, Any]:
    """Calls, tokens, cache hits and cost of the eval over all its sessions."""
    usage = CallLog(db).usage(eval_id)
    totals = {key: sum(row[key] for row in usage) for key in USAGE_SUMS}
    totals["cost"] = totals["cost"] if totals["priced"] else None
    return totals


def close_eval(
    db: Database,
    eval_id: str,
    expected: int,
    failures: list[str],
    make_report: Callable[[EvalRow, Sequence[EvalItemRow], dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    """Mark the eval complete once all `expected` items have results; its report, with failures.

    The report is rebuilt from the stored rows, so a resumed eval reports every session's items.
    """
    store = EvalStore(db)
    complete = len(store.done_ids(eval_id)) >= expected
    store.set_status(eval_id, "complete" if complete else "incomplete")
    row = store.get_eval(eval_id)
    assert row is not None
    report = make_report(row, store.items(eval_id), call_totals(db, eval_id))
    report["failures"] = failures
    return report


def report_head(row: EvalRow, schema: str, role: str, alias: str | None) -> dict[str, Any]:
    """The fields every eval report starts with: what it is, its state, and the model it asked.

    The model's name comes from the stored config, so the report says what actually ran.
    """
    model = row.config.get("models", {}).get(alias, {}).get("model") if alias else None
    return {
        "schema": schema,
        "eval_id": row.eval_id,
        "kind": row.kind,
        "status": row.status,
        "params": row.params,
        role: {"alias": alias, "model": model},
    }
