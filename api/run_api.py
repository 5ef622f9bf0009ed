"""`reasonmed.run` / `reasonmed.arun`: a run from Python, with what `reasonmed run` offers.

Questions come as a file path (any layout `run --format` reads), an iterable of records (dicts,
as a question file's lines), or a Hugging Face `datasets.Dataset` (its rows). Records are written
to a JSONL file for the run's duration, so they are validated, numbered ("line N" is the N-th
record) and streamed exactly as a file is. The config is a path, a mapping or a `RunConfig`.
Calling it again with the same run id continues the run; cancelling the task (`arun`) keeps
everything checkpointed, like Ctrl-C.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from reasonmed.api_models import FailedQuestion, RunSummary
from reasonmed.core.config import RunConfig
from reasonmed.graph.runner import DEFAULT_DB, ProgressHook, RunRequest, RunResult, run_pipeline

QuestionsInput = str | Path | Iterable[Mapping[str, Any]]
ConfigInput = str | Path | Mapping[str, Any] | RunConfig | None


def run(questions: QuestionsInput, **options: Any) -> RunSummary:
    """Run (or continue) a run to its end; `arun`'s options. Not from inside an event loop (a
    notebook cell): there, `await reasonmed.arun(...)`."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(arun(questions, **options))
    raise RuntimeError("reasonmed.run() was called inside a running event loop; use "
                       "`await reasonmed.arun(...)` there")  # fmt: skip


async def arun(
    questions: QuestionsInput,
    *,
    config: ConfigInput = None,
    db: str = DEFAULT_DB,
    run_id: str | None = None,
    question_format: str = "reasonmed",
    cop_base: int | None = None,
    concurrency: int | None = None,
    overrides: Sequence[str] = (),
    use_cache: bool = True,
    budget: float | None = None,
    accept_config_change: bool = False,
    progress: ProgressHook | None = None,
    stop: asyncio.Event | None = None,
) -> RunSummary:
    """Run every unfinished question; `config` may be left out when continuing a run.

    Records (not a path) need a `run_id`: nothing else names the run. `stop` set: no new
    question starts and the ones in flight finish; cancelling the task abandons those too.
    """
    if not isinstance(questions, str | Path) and run_id is None:
        raise ValueError("questions given as records need a run_id (a path names the run)")
    with _questions_file(questions, run_id) as path, _config_file(config) as config_path:
        request = RunRequest(
            questions=path,
            config_path=config_path,
            db_url=db,
            run_id=run_id,
            concurrency=concurrency,
            overrides=list(overrides),
            accept_config_change=accept_config_change,
            use_cache=use_cache,
            budget=budget,
            question_format=question_format,
            cop_base=cop_base,
        )
        result = await run_pipeline(request, progress, stop)
    return summary(result)


def summary(result: RunResult) -> RunSummary:
    """The API's view of a runner result."""
    return RunSummary(
        run_id=result.run_id,
        db=result.db_url,
        counts=dict(result.counts),
        failed=[FailedQuestion(question_id=qid, reason=why) for qid, why in result.failed],
        complete=result.complete,
        budget_reached=result.budget_reached,
    )


@contextmanager
def _questions_file(questions: QuestionsInput, run_id: str | None) -> Iterator[Path]:
    """The path to read: the one given, or the records written as JSONL for the run."""
    if isinstance(questions, str | Path):
        yield Path(questions)
        return
    with tempfile.TemporaryDirectory(prefix="reasonmed-") as folder:
        path = Path(folder) / f"{run_id}.questions.jsonl"
        with path.open("w", encoding="utf-8") as stream:
            for record in questions:
                stream.write(json.dumps(dict(record), ensure_ascii=False, default=str) + "\n")
        yield path


@contextmanager
def _config_file(config: ConfigInput) -> Iterator[Path | None]:
    """The config path to load: the one given, or the mapping / RunConfig written as YAML."""
    if config is None or isinstance(config, str | Path):
        yield None if config is None else Path(config)
        return
    data = config.resolved_dict() if isinstance(config, RunConfig) else dict(config)
    with tempfile.TemporaryDirectory(prefix="reasonmed-") as folder:
        path = Path(folder) / "config.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        yield path
