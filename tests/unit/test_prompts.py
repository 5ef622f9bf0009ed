"""Prompt templates: the question-block layout, strict rendering and the recorded hashes."""

from __future__ import annotations

import hashlib
import json
import re
from importlib import resources

import pytest

from reasonmed.prompts import (
    AGENTS,
    PromptError,
    format_question_block,
    render,
    template_hashes,
    template_variables,
)

OPTIONS = {"A": "Hyperplasia", "B": "Hypertrophy", "C": "Atrophy"}
BLOCK = format_question_block("Which adaptation explains a thick ventricle?", OPTIONS)
VARIABLES: dict[str, dict[str, str]] = {
    "generator": {"question_block": BLOCK},
    "examinee": {"question_block": BLOCK},
    "summarizer": {"question_block": BLOCK, "cot": "Some reasoning."},
    "verifier": {"question_block": BLOCK, "gold_answer": "B. Hypertrophy", "cot": "Reasoning."},
    "ranker": {"question_block": BLOCK, "gold_answer": "B. Hypertrophy", "cot": "Reasoning."},
    "refiner": {
        "question_block": BLOCK,
        "gold_answer": "B. Hypertrophy",
        "cot": "Reasoning.",
        "error_reasons": "- Picked A without weighing pressure overload.",
    },
    "regenerator": {
        "question_block": BLOCK,
        "gold_answer": "B. Hypertrophy",
        "cot": "Reasoning.",
        "error_reasons": "- (none recorded)",
    },
    "judge": {"instruction": "Question with options", "response": "An answer."},
}


def test_question_block_layout_with_context() -> None:
    block = format_question_block("What is it?", {"A": "x", "B": "y"}, context="A case.")
    assert block == "Context:\nA case.\n\nQuestion:\nWhat is it?\n\nOptions:\nA. x\nB. y"


def test_question_block_without_context_has_no_context_section() -> None:
    block = format_question_block("What is it?", {"A": "x", "B": "y"}, context="  ")
    assert block == "Question:\nWhat is it?\n\nOptions:\nA. x\nB. y"


def test_question_block_needs_options() -> None:
    with pytest.raises(PromptError):
        format_question_block("What is it?", {})


def test_every_agent_has_a_variables_fixture() -> None:
    assert set(VARIABLES) == set(AGENTS)
    for agent in AGENTS:
        assert template_variables(agent) == set(VARIABLES[agent]), agent


@pytest.mark.parametrize("agent", AGENTS)
def test_render_fills_both_messages(agent: str) -> None:
    rendered = render(agent, **VARIABLES[agent])
    assert rendered.agent == agent
    assert [m["role"] for m in rendered.messages] == ["system", "user"]
    text = "\n".join(m["content"] for m in rendered.messages)
    assert not re.search(r"\{[a-z_]+\}", text), "a placeholder was left unfilled"
    for value in VARIABLES[agent].values():
        assert value in rendered.messages[1]["content"]


@pytest.mark.parametrize(
    ("agent", "keys"),
    [("verifier", {"verdict", "reason"}), ("ranker", {"score", "justification"}),
     ("judge", {"score", "justification"})],
)  # fmt: skip
def test_json_agents_show_their_reply_shape_with_single_braces(agent: str, keys: set[str]) -> None:
    system = render(agent, **VARIABLES[agent]).messages[0]["content"]
    example = re.search(r"^\{.*\}$", system, re.MULTILINE)
    assert example is not None and "{{" not in system
    assert set(re.findall(r'"(\w+)":', example.group(0))) == keys


def test_generator_asks_for_the_final_answer_line() -> None:
    rendered = render("generator", question_block=BLOCK)
    assert "Final answer: <letter>. <option text>" in rendered.messages[0]["content"]
    assert rendered.messages[1]["content"].startswith(BLOCK)


def test_missing_variable_names_agent_and_variable() -> None:
    with pytest.raises(PromptError, match=r"'verifier'.*gold_answer"):
        render("verifier", question_block=BLOCK, cot="x")


def test_unused_variable_is_an_error() -> None:
    with pytest.raises(PromptError, match=r"'generator'.*gold_answer"):
        render("generator", question_block=BLOCK, gold_answer="B. Hypertrophy")


def test_non_string_variable_is_an_error() -> None:
    with pytest.raises(PromptError, match="question_block"):
        render("generator", question_block=123)  # type: ignore[arg-type]


def test_unknown_agent_is_an_error() -> None:
    with pytest.raises(PromptError, match="unknown agent"):
        render("oracle", question_block=BLOCK)


def test_braces_in_values_are_kept_verbatim() -> None:
    cot = 'The reply {"verdict": "Error"} and {placeholder} stay as written.'
    rendered = render("summarizer", question_block=BLOCK, cot=cot)
    assert cot in rendered.messages[1]["content"]


def test_template_hash_is_sha256_of_the_two_files() -> None:
    files = resources.files("reasonmed.prompts")
    for agent in AGENTS:
        digest = hashlib.sha256()
        for role in ("system", "user"):
            digest.update(files.joinpath(f"{agent}.{role}.txt").read_bytes() + b"\0")
        assert template_hashes()[agent] == digest.hexdigest()
        assert render(agent, **VARIABLES[agent]).template_hash == digest.hexdigest()


def test_template_hashes_are_stable_and_distinct() -> None:
    first, second = template_hashes(), template_hashes()
    assert first == second
    assert set(first) == set(AGENTS)
    assert len(set(first.values())) == len(AGENTS)


def test_text_hash_follows_the_rendered_text() -> None:
    one = render("generator", question_block=BLOCK)
    again = render("generator", question_block=BLOCK)
    other = render("generator", question_block=BLOCK.replace("thick", "thin"))
    assert one.text_hash == again.text_hash != other.text_hash
    canonical = json.dumps(one.messages, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    assert one.text_hash == hashlib.sha256(canonical.encode()).hexdigest()
    assert one.template_hash == other.template_hash


def test_every_shipped_template_belongs_to_an_agent() -> None:
    names = {
        p.name for p in resources.files("reasonmed.prompts").iterdir() if p.name[-4:] == ".txt"
    }
    assert names == {f"{agent}.{role}.txt" for agent in AGENTS for role in ("system", "user")}


def test_rendered_prompt_is_frozen() -> None:
    rendered = render("examinee", question_block=BLOCK)
    with pytest.raises(AttributeError):
        rendered.agent = "generator"  # type: ignore[misc]
