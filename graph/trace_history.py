"""A thread's checkpoints as a tree: the newest branch, the other branches, and who made which call.

`get_state_history` lists every checkpoint of a thread newest first, mixing branches once a
question has been replayed or edited. Here each branch is followed through `parent_config`
from its head back to where it leaves the newest branch. Calls are matched to checkpoints by
time over the whole thread (one invocation of a thread runs at a time): a call belongs to the
first checkpoint written after it, whichever branch that checkpoint is on.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from langgraph.checkpoint.base import CheckpointTuple

from reasonmed.storage.call_log import StoredCall


def cp_id(config: dict[str, Any] | None) -> str | None:
    """A checkpoint config's id (None for no config)."""
    return config["configurable"]["checkpoint_id"] if config else None


@dataclass
class Branch:
    """A branch's own checkpoints, oldest first, and the checkpoint it left the main branch at."""

    chain: list[CheckpointTuple]
    fork: CheckpointTuple | None = None


@dataclass
class History:
    """The main (newest) branch, the others, and each checkpoint's calls."""

    main: Branch
    others: list[Branch] = field(default_factory=list)
    calls: dict[str, list[StoredCall]] = field(default_factory=dict)
    in_flight: list[StoredCall] = field(default_factory=list)


def build_history(tuples: list[CheckpointTuple], calls: list[StoredCall]) -> History:
    """Split `tuples` (newest first, as `list` returns them) into branches; assign `calls`."""
    if not tuples:
        return History(Branch([]), in_flight=list(calls))
    by_id = {cp_id(t.config): t for t in tuples}
    main = _ancestry(tuples[0], by_id, stop=set())
    on_main = {cp_id(t.config) for t in main}
    parents = {cp_id(t.parent_config) for t in tuples}
    others = []
    for head in tuples[1:]:  # newest first, so the newest branch is listed first
        if cp_id(head.config) in parents or cp_id(head.config) in on_main:
            continue
        chain = _ancestry(head, by_id, stop=on_main)
        fork = by_id.get(cp_id(chain[0].parent_config)) if chain else None
        others.append(Branch(chain, fork))
    assigned, in_flight = _assign_calls(tuples, calls)
    return History(Branch(main), others, assigned, in_flight)


def _ancestry(
    head: CheckpointTuple, by_id: dict[str | None, CheckpointTuple], stop: set[str | None]
) -> list[CheckpointTuple]:
    """`head` and its ancestors up to (not including) one in `stop`, oldest first."""
    chain: list[CheckpointTuple] = []
    node: CheckpointTuple | None = head
    seen: set[str | None] = set()
    while node is not None and cp_id(node.config) not in stop and cp_id(node.config) not in seen:
        seen.add(cp_id(node.config))
        chain.append(node)
        node = by_id.get(cp_id(node.parent_config))
    chain.reverse()
    return chain


def _when(iso: str) -> datetime:
    moment = datetime.fromisoformat(iso)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _assign_calls(
    tuples: list[CheckpointTuple], calls: list[StoredCall]
) -> tuple[dict[str, list[StoredCall]], list[StoredCall]]:
    """Each call goes to the first checkpoint (of any branch) written after it."""
    ordered = sorted(tuples, key=lambda t: _when(t.checkpoint["ts"]))
    stamps = [_when(t.checkpoint["ts"]) for t in ordered]
    assigned: dict[str, list[StoredCall]] = {}
    in_flight: list[StoredCall] = []
    for call in calls:
        i = bisect.bisect_left(stamps, _when(call.created_at))
        if i < len(ordered):
            assigned.setdefault(str(cp_id(ordered[i].config)), []).append(call)
        else:
            in_flight.append(call)
    return assigned, in_flight


def next_nodes(values: dict[str, Any]) -> list[str]:
    """Nodes a checkpoint triggers: its `branch:to:*` channels and its `Send`s."""
    nodes: list[str] = []
    for key, value in values.items():
        if key == "__start__":
            nodes.append("__start__")
        elif key.startswith("branch:to:"):
            nodes.append(key.removeprefix("branch:to:"))
        elif key == "__pregel_tasks":
            nodes.extend(getattr(send, "node", str(send)) for send in value or [])
    return list(dict.fromkeys(nodes))


def step_nodes(
    cp: CheckpointTuple, prev: CheckpointTuple | None, calls: list[StoredCall]
) -> list[str]:
    """Metadata `writes` when recorded, else what the parent triggered, plus the calls' nodes."""
    writes = cp.metadata.get("writes")
    if cp.metadata.get("source") == "fork":  # a copy of the fork point: nothing ran here
        nodes = []
    elif cp.metadata.get("edited_as"):  # `reasonmed step`'s edits, written as that node
        nodes = [cp.metadata["edited_as"]]
    elif writes:
        nodes = list(writes)
    elif prev is not None:
        nodes = next_nodes(prev.checkpoint["channel_values"])
    else:
        nodes = ["input"] if cp.metadata.get("source") == "input" else []
    return list(dict.fromkeys([*nodes, *(c.node for c in calls)]))
