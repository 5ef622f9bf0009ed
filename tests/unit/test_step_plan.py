"""What `reasonmed step` announces before a step: nodes, and the model each will call."""

from __future__ import annotations

from langgraph.types import Send

from reasonmed.core.config import load_config
from reasonmed.graph.stepping import first_tasks, planned_tasks
from tests.support.pipeline import MOCK_CONFIG

CONFIG = load_config(MOCK_CONFIG, [])


def test_a_new_question_starts_with_one_generation_per_model_and_temperature() -> None:
    tasks = first_tasks(CONFIG)
    gen = CONFIG.agents.generator
    assert len(tasks) == len(gen.models) * len(gen.temperatures)
    assert {t.node for t in tasks} == {"generate"}
    assert [t.alias for t in tasks[: len(gen.temperatures)]] == [gen.models[0]] * 3
    assert tasks[4].detail == f"path 4 · T={gen.temperatures[1]}"
    assert tasks[0].model == CONFIG.models[gen.models[0]].model


def test_sends_and_edges_name_their_agent_models() -> None:
    values = {
        "paths": [],
        "branch:to:classify": None,
        "__pregel_tasks": [
            Send("verify", {"question": {}, "path": {"index": 3}}),
            Send(
                "refine", {"question": {}, "tier": "medium", "kept": {"slot": 1, "source_index": 6}}
            ),
        ],
    }
    tasks = planned_tasks(values, CONFIG)
    assert [t.node for t in tasks] == ["classify", "verify", "refine"]
    assert tasks[0].alias is None and tasks[0].describe() == "classify"
    verifier, refiner = CONFIG.agents.verifier.model, CONFIG.agents.refiner.model
    assert tasks[1].alias == verifier and tasks[1].detail == "path 3"
    assert tasks[2].alias == refiner and tasks[2].detail == "slot 1 (from path 6)"
    assert (
        tasks[2].describe()
        == f"refine → {refiner} ({CONFIG.models[refiner].model}) · slot 1 (from path 6)"
    )


def test_a_swapped_model_shows_in_the_plan() -> None:
    swapped = load_config(MOCK_CONFIG, ["agents.refiner.model=o1mini"])
    values = {"__pregel_tasks": [Send("refine", {"kept": {"slot": 0, "source_index": 1}})]}
    (task,) = planned_tasks(values, swapped)
    assert task.alias == "o1mini" and task.model == swapped.models["o1mini"].model
