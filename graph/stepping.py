"""One question, one super-step at a time (`reasonmed step`), on the run's own thread.

Stepping is LangGraph's: each step is `ainvoke(..., interrupt_after="*")` on the question's
thread, so the graph pauses after every super-step with its checkpoint saved, and edits are
`aupdate_state` (LangGraph re-runs the routing of the node that wrote last, so editing a verdict
after `verify` changes the tier). Nothing here re-implements the graph: quitting leaves an
ordinary checkpointed thread that `step` or a plain `run` continues.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from langgraph.errors import InvalidUpdateError

from reasonmed.core.config import RunConfig
from reasonmed.core.question import Question
from reasonmed.graph.routing import generation_tasks
from reasonmed.graph.run_session import Session
from reasonmed.graph.runner import advance
from reasonmed.graph.state_edit import EditError, state_update
from reasonmed.graph.trace import build_trace

# Which agent's settings (and so which model alias) a node calls; other nodes call no model.
NODE_AGENTS = {
    "verify": "verifier",
    "rank": "ranker",
    "refine": "refiner",
    "regenerate": "regenerator",
    "reverify": "verifier",
    "summarize": "summarizer",
}


@dataclass(frozen=True)
class PlannedTask:
    """A task the next super-step will run, and the model it will call."""

    node: str
    alias: str | None = None
    model: str | None = None
    detail: str = ""

    def describe(self) -> str:
        """`verify → qwen72b (Qwen2.5-72B-Instruct) · path 3`."""
        text = self.node
        if self.alias:
            text += f" → {self.alias} ({self.model})"
        return f"{text} · {self.detail}" if self.detail else text


def planned_tasks(values: dict[str, Any], config: RunConfig) -> list[PlannedTask]:
    """The tasks a checkpoint's channels trigger: `branch:to:*` edges and pending `Send`s."""
    planned: list[PlannedTask] = []
    for key, value in values.items():
        if key.startswith("branch:to:"):
            planned.append(_task(key.removeprefix("branch:to:"), {}, config))
        elif key == "__pregel_tasks":
            for send in value or []:
                arg = getattr(send, "arg", None)
                planned.append(_task(send.node, arg if isinstance(arg, dict) else {}, config))
    return planned


def first_tasks(config: RunConfig) -> list[PlannedTask]:
    """What the first step of a new question runs: one generation per path."""
    return [
        _task("generate", {k: task[k] for k in ("model", "temperature", "index")}, config)
        for task in generation_tasks({}, config)
    ]


def _task(node: str, arg: dict[str, Any], config: RunConfig) -> PlannedTask:
    if node == "generate":
        alias = arg.get("model")
        detail = f"path {arg.get('index')} · T={arg.get('temperature')}"
    elif node in NODE_AGENTS:
        alias = getattr(config.agents, NODE_AGENTS[node]).model
        detail = _detail(arg)
    else:
        return PlannedTask(node)
    spec = config.models.get(alias) if alias else None
    return PlannedTask(node, alias, spec.model if spec else None, detail)


def _detail(arg: dict[str, Any]) -> str:
    if "path" in arg:
        return f"path {arg['path'].get('index')}"
    if "kept" in arg:
        kept = arg["kept"]
        return f"slot {kept.get('slot')} (from path {kept.get('source_index')})"
    return ""


class Stepper:
    """Drives one question's thread step by step and reports each step as the trace shows it."""

    def __init__(self, session: Session, question: Question) -> None:
        self.session = session
        self.question = question
        self.config = session.thread_config(question.id)
        self.last_steps: list[dict[str, Any]] = []

    async def values(self) -> dict[str, Any]:
        """The question's current state (empty before the first step)."""
        snapshot = await self.session.graph.aget_state(self.config)
        return dict(snapshot.values or {})

    async def started(self) -> bool:
        """Whether any step ran (the input checkpoint alone does not count)."""
        snapshot = await self.session.graph.aget_state(self.config)
        return bool(snapshot.values) and (snapshot.metadata or {}).get("step", -1) >= 0

    async def finished(self) -> bool:
        """Whether the graph reached its outcome."""
        return bool((await self.values()).get("outcome"))

    async def upcoming(self) -> list[PlannedTask]:
        """What the next step will run."""
        if not await self.started():
            return first_tasks(self.session.ctx.config)
        head = await self.session.saver.aget_tuple(self.config)
        values = head.checkpoint["channel_values"] if head else {}
        return planned_tasks(values, self.session.ctx.config)

    async def step(self) -> list[dict[str, Any]]:
        """Run one super-step; the trace steps it produced (the first also folds in START)."""
        before = await self._trace()
        seen = {s["checkpoint_id"] for s in before["steps"]}
        if not await self.started():
            await self.session.store.amark_running(self.session.run_id, self.question.id)
        await advance(self.session, self.question, interrupt_after="*")
        after = await self._trace()
        self.last_steps = [s for s in after["steps"] if s["checkpoint_id"] not in seen]
        return self.last_steps

    async def edit(self, assignment: str) -> dict[str, Any]:
        """Apply `[NODE>] field.path=value` to the state; returns the update sent.

        LangGraph applies an edit as if a node had written it and then follows that node's
        edges, so the edit is attributed to the node(s) of the last step; when that step ran
        different nodes the caller names one with the `NODE>` prefix.
        """
        if not await self.started():
            raise EditError("nothing to edit yet: run a step first")
        as_node, _, rest = assignment.partition(">")
        if not rest or "=" in as_node:
            as_node, rest = "", assignment
        node = as_node.strip() or await self._last_node()
        update = state_update(await self.values(), rest)
        try:
            # The node is kept in the checkpoint's metadata: LangGraph records no `writes` for
            # an update, and the next edit and the trace must know whose output was edited.
            config = {**self.config, "metadata": {**self.config["metadata"], "edited_as": node}}
            await self.session.graph.aupdate_state(config, update, as_node=node)
        except InvalidUpdateError as exc:
            raise EditError(f"LangGraph refused the edit as {node!r}: {exc}") from None
        return update

    async def _last_node(self) -> str:
        """The one node the last step (or edit) ran, which an edit is attributed to."""
        steps = (await self._trace())["steps"]
        done = [s for s in steps if s["checkpoint_id"] is not None]
        nodes = [n for n in done[-1]["nodes"] if n not in ("input", "__start__")] if done else []
        if len(set(nodes)) == 1:
            return nodes[0]
        listing = ", ".join(dict.fromkeys(nodes)) or "none"
        raise EditError(
            f"the last step ran several nodes ({listing}); say which one the edit belongs to, "
            "e.g. `refine> kept.0.cot=...`"
        )

    async def record(self) -> dict[str, Any]:
        """Store the finished question's outcome and examples, as `run` would."""
        return await self.session.record_outcome(self.question, await self.values())

    async def last_calling_steps(self) -> list[dict[str, Any]]:
        """The newest step that called a model (for `p` before any step ran in this session)."""
        calling = [s for s in (await self._trace())["steps"] if s["calls"]]
        return calling[-1:]

    async def trace(self) -> dict[str, Any]:
        """The question's whole trace so far."""
        return await self._trace()

    async def _trace(self) -> dict[str, Any]:
        db, run_id, qid = self.session.db, self.session.run_id, self.question.id
        return await asyncio.to_thread(build_trace, db, run_id, qid)
