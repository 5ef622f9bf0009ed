"""The pipeline graph as LangGraph Studio and `langgraph dev` load it (`langgraph.json`).

`run` hands every node its `PipelineContext` with `ainvoke(..., context=ctx)`. The API server
cannot: a run's context reaches it as JSON, and LangGraph builds the graph's `context_schema`
from it (`context_schema(**context)`). So for each run `make_graph` opens what a context holds
besides JSON (the config file named by `REASONMED_CONFIG`, its models, a call log) and returns
the graph `build_graph` wires, with a context schema that turns the run's `StudioSettings` into
the `PipelineContext` `run` would pass. Schema reads, drawings and state reads open nothing.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from langgraph.graph.state import CompiledStateGraph
from langgraph_sdk.runtime import ServerRuntime
from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler
from pydantic_core import CoreSchema

from reasonmed.core.config import ConfigError, RunConfig, load_config
from reasonmed.graph.builder import build_graph
from reasonmed.llm.context import PipelineContext
from reasonmed.llm.model_registry import ModelRegistry
from reasonmed.storage.call_log import CallLog
from reasonmed.storage.db import Database

CONFIG_ENV = "REASONMED_CONFIG"
DB_ENV = "REASONMED_STUDIO_DB"
DEFAULT_CONFIG = "examples/config.mock.yaml"  # relative to where `langgraph dev` runs
DEFAULT_DB = "sqlite:///reasonmed-studio.db"

_databases: dict[str, Database] = {}
_databases_lock = threading.Lock()


class StudioSettings(BaseModel):
    """The run's context as Studio shows and edits it; everything else is the config file's.

    `run_id` names the run in the call log (its rows read thread `run_id:question_id`);
    `use_cache` answers a request sent before from the call log, as `run` does.
    """

    model_config = ConfigDict(extra="forbid")

    run_id: str = "studio"
    use_cache: bool = True


@dataclass
class StudioServices:
    """The parts of a run's context that are not JSON.

    The config is read for every run, so an edited file counts from the next run on; the models'
    HTTP clients live for one run; the call log's database stays open for the server's life.
    """

    config: RunConfig
    models: ModelRegistry
    db: Database

    @classmethod
    def open(cls, environ: Mapping[str, str] = os.environ) -> StudioServices:
        """Read the config, build its models; blocking, so call it off the event loop."""
        config = load_config(environ.get(CONFIG_ENV, DEFAULT_CONFIG))
        models = ModelRegistry(config, environ=environ)  # a missing API key fails here
        return cls(config, models, call_log_database(environ.get(DB_ENV, DEFAULT_DB)))

    async def aclose(self) -> None:
        await self.models.aclose()


def call_log_database(url: str) -> Database:
    """The call log's database, opened and migrated once per process, as one `run` does."""
    with _databases_lock:
        if url not in _databases:
            _databases[url] = Database.from_url(url)
        return _databases[url]


def studio_context_schema(services: StudioServices | None) -> type[PipelineContext]:
    """A context schema whose instances, built from a run's JSON, are full PipelineContexts.

    Its JSON schema is `StudioSettings`', so Studio's context form offers just those fields
    and the server drops any other key before building one. Without services (a graph built to
    be read) building one fails: only a run needs a context.
    """

    class StudioContext(PipelineContext):
        def __init__(self, **settings: Any) -> None:
            if services is None:
                raise RuntimeError("this graph was built to be read, not run")
            chosen = StudioSettings.model_validate(settings)
            super().__init__(  # as `open_session` builds it for `run`
                run_id=chosen.run_id,
                config=services.config,
                models=services.models,
                calls=CallLog(services.db, services.config.prices()),
                use_cache=chosen.use_cache,
            )

        @classmethod
        def __get_pydantic_core_schema__(
            cls, source: Any, handler: GetCoreSchemaHandler
        ) -> CoreSchema:
            return handler(StudioSettings)

    StudioContext.__doc__ = StudioSettings.__doc__
    return StudioContext


@functools.cache
def _pipeline() -> CompiledStateGraph:
    """Compiled once: the server copies it for every request anyway."""
    return build_graph()


def studio_graph(services: StudioServices | None = None) -> CompiledStateGraph:
    """The pipeline graph, its context built from a run's `StudioSettings` and `services`."""
    return _pipeline().copy(update={"context_schema": studio_context_schema(services)})


@asynccontextmanager
async def make_graph(runtime: ServerRuntime) -> AsyncIterator[CompiledStateGraph]:
    """The graph factory `langgraph.json` names: the server enters it for every request.

    A run (`threads.create_run`) gets the config file's models and the call log for its
    length; every other request only reads the graph's shape, schemas or stored state.
    """
    if runtime.execution_runtime is None:
        yield studio_graph()
        return
    try:
        services = await asyncio.to_thread(StudioServices.open)
    except ConfigError as exc:  # the server shows the message of builtin errors only
        raise ValueError(f"{CONFIG_ENV}: {exc}") from exc
    try:
        yield studio_graph(services)
    finally:
        await services.aclose()
