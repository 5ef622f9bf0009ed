"""A graph with a 9-way `Send` fan-out, run in a subprocess that a test kills mid-step.

Every task start and finish is appended to a log file, so the test can see which tasks ran
again after the resume. Task 8 blocks forever when CRASH_BLOCK=1, holding the step open.
"""

from __future__ import annotations

import argparse
import json
import operator
import os
import time
from typing import Annotated, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from reasonmed.storage import SQLAlchemySaver

FANOUT = 9


class State(TypedDict):
    results: Annotated[list[str], operator.add]


class Task(TypedDict):
    i: int


def _log(path: str, line: str) -> None:
    with open(path, "a") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def build(saver: SQLAlchemySaver, log: str):
    def plan(state: State) -> dict:
        _log(log, "plan")
        return {"results": ["planned"]}

    def fan_out(state: State) -> list[Send]:
        return [Send("work", {"i": i}) for i in range(FANOUT)]

    def work(task: Task) -> dict:
        i = task["i"]
        _log(log, f"start {i}")
        if i == FANOUT - 1 and os.environ.get("CRASH_BLOCK") == "1":
            time.sleep(600)
        time.sleep(0.02 * i)
        _log(log, f"done {i}")
        return {"results": [f"r{i}"]}

    def collect(state: State) -> dict:
        _log(log, "collect")
        return {"results": ["collected"]}

    builder = StateGraph(State)
    builder.add_node("plan", plan)
    builder.add_node("work", work)
    builder.add_node("collect", collect)
    builder.add_edge(START, "plan")
    builder.add_conditional_edges("plan", fan_out, ["work"])
    builder.add_edge("work", "collect")
    builder.add_edge("collect", END)
    return builder.compile(checkpointer=saver)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--thread", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    saver = SQLAlchemySaver.from_url(args.db)
    graph = build(saver, args.log)
    config = {"configurable": {"thread_id": args.thread}}
    final = graph.invoke(None if args.resume else {"results": []}, config)
    print(json.dumps(final["results"]))


if __name__ == "__main__":
    main()
