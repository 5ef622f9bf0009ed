"""Agent nodes and the shared call path, with fakes only at the model's edge."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langgraph.runtime import Runtime

from reasonmed.agents.generator import generate
from reasonmed.agents.ranker import rank
from reasonmed.agents.refiner import refine
from reasonmed.agents.reverifier import reverify
from reasonmed.agents.verifier import verify
from reasonmed.core.call_record import CallRecord
from reasonmed.core.config import ModelSpec, RunConfig, load_config
from reasonmed.core.question import Question
from reasonmed.llm import model_calls as calls
from reasonmed.llm.context import PipelineContext
from reasonmed.llm.model_calls import ModelCallError, call_model
from reasonmed.prompts.render import render

CONFIG_PATH = Path(__file__).resolve().parents[2] / "examples" / "config.mock.yaml"
SECRET = "sk-test-0123456789abcdefSECRET"
QUESTION = Question(
    id="q1",
    question="Which adaptation explains a thick left ventricle in long-standing hypertension?",
    options={"A": "Hyperplasia", "B": "Hypertrophy", "C": "Atrophy", "D": "Metaplasia"},
    answer="B",
)
CORRECT_JSON = '{"verdict": "Correct", "reason": "Sound reasoning."}'
ERROR_JSON = '{"verdict": "Error", "reason": "Confuses hypertrophy with hyperplasia."}'


@dataclass
class Reply:
    """A scripted model reply."""

    text: str
    finish_reason: str = "stop"


Scripted = str | Reply | Exception
Responder = Callable[[list[BaseMessage]], Scripted]


class FakeChat(BaseChatModel):
    """A chat model that answers from a script and reports usage like a real endpoint."""

    registry: Any
    alias: str
    seed: int | None = None

    @property
    def _llm_type(self) -> str:
        return "fake"

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        raise NotImplementedError("the agents call ainvoke")

    async def _agenerate(self, messages: list[BaseMessage], *a: Any, **kw: Any) -> ChatResult:
        self.registry.requests.append({"alias": self.alias, "seed": self.seed})
        item = self.registry.respond(messages)
        if isinstance(item, Exception):
            raise item
        reply = item if isinstance(item, Reply) else Reply(item)
        message = AIMessage(
            content=reply.text,
            usage_metadata={"input_tokens": 11, "output_tokens": 7, "total_tokens": 18},
            response_metadata={"finish_reason": reply.finish_reason},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


class FakeRegistry:
    """Stands in for ModelRegistry: same calls, scripted models, no network."""

    def __init__(self, config: RunConfig, respond: Responder) -> None:
        self.config, self.respond = config, respond
        self.requests: list[dict[str, Any]] = []
        self.sampling: list[dict[str, Any]] = []

    def spec(self, alias: str) -> ModelSpec:
        return self.config.models[alias]

    def secrets(self) -> list[str]:
        return [SECRET]

    def chat_model(self, alias: str, *, seed: int | None = None, **sampling: Any) -> FakeChat:
        self.sampling.append(sampling)
        return FakeChat(registry=self, alias=alias, seed=seed)

    def caller(self, alias: str, *, seed: int | None = None, **sampling: Any) -> Any:
        return self.chat_model(alias, seed=seed, **sampling).ainvoke


@dataclass
class Recorder:
    """Collects call records the way the call log would, handing out ids."""

    records: list[CallRecord] = field(default_factory=list)

    async def arecord(self, record: CallRecord) -> int:
        self.records.append(record)
        return len(self.records)

    async def acached(self, request_key: str) -> CallRecord | None:
        """Like the call log: the first real reply to exactly this request."""
        for record in self.records:
            if record.request_key == request_key and record.error is None and not record.cache_hit:
                return record
        return None


def sequence(*items: Scripted) -> Responder:
    """Reply with each item in turn."""
    queue = list(items)
    return lambda messages: queue.pop(0)


def make_runtime(respond: Responder, *overrides: str) -> tuple[Runtime[PipelineContext], Any]:
    config = load_config(CONFIG_PATH, overrides)
    registry = FakeRegistry(config, respond)
    ctx = PipelineContext(run_id="run1", config=config, models=registry, calls=Recorder())  # type: ignore[arg-type]
    return Runtime(context=ctx), ctx


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    delays: list[float] = []

    async def fake_sleep(delay: float) -> None:
        delays.append(delay)

    monkeypatch.setattr(calls, "_sleep", fake_sleep)
    return delays


def api_error(cls: type[openai.APIStatusError], status: int, message: str, **headers: str) -> Any:
    response = httpx.Response(status, headers=headers, request=httpx.Request("POST", "http://x"))
    return cls(message, response=response, body=None)  # type: ignore[arg-type]


def path(index: int, *, answer: str = "B", correct: bool = True, cot: str = "") -> dict[str, Any]:
    return {
        "index": index,
        "answer": answer,
        "cot": cot or f"reasoning of path {index}",
        "verdict": "Correct" if correct else "Error",
        "reason": "",
        "correct": correct,
        "generate_call": 100 + index,
        "verify_call": 200 + index,
    }


async def test_generator_extracts_the_answer_from_an_r1_reply() -> None:
    reply = (
        "<think>\nPressure overload makes myocytes grow larger, not more numerous.\n</think>\n\n"
        "The wall thickens through larger cells.\n\nFinal answer: B"
    )
    runtime, ctx = make_runtime(sequence(reply))
    task = {"question": QUESTION.model_dump(), "index": 4, "model": "huatuo70b", "temperature": 0.9}
    (record,) = (await generate(task, runtime))["paths"]  # type: ignore[arg-type]
    assert record["answer"] == "B"
    assert record["answer_method"] == "final_answer_line"
    assert "<think>" not in record["cot"] and "Pressure overload" in record["cot"]
    assert record["generate_call"] == 1
    assert ctx.models.requests[0]["alias"] == "huatuo70b"
    assert ctx.models.sampling[0] == {"temperature": 0.9, "top_p": 0.9, "max_tokens": 8192}
    (row,) = ctx.calls.records
    assert (row.node, row.agent, row.prompt_tokens, row.completion_tokens) == (
        "generate",
        "generator",
        11,
        7,
    )


@pytest.mark.parametrize(("answer", "expected"), [("A", False), ("B", True)])
async def test_verifier_needs_the_gold_answer_even_when_the_llm_says_correct(
    answer: str, expected: bool
) -> None:
    runtime, _ = make_runtime(sequence(CORRECT_JSON))
    task = {"question": QUESTION.model_dump(), "path": path(3, answer=answer)}
    (record,) = (await verify(task, runtime))["paths"]  # type: ignore[arg-type]
    assert record["verdict"] == "Correct"
    assert record["answer_ok"] is expected
    assert record["correct"] is expected


async def test_unparseable_verdicts_are_reasked_then_stored_as_a_failure() -> None:
    prose = "Looks mostly fine to me, though I am not sure."
    runtime, ctx = make_runtime(sequence(prose, prose, prose))
    task = {"question": QUESTION.model_dump(), "path": path(2)}
    (record,) = (await verify(task, runtime))["paths"]  # type: ignore[arg-type]
    assert record["verdict"] is None
    assert record["correct"] is False
    assert record["verify_failure"].startswith("no_json:")
    rows = ctx.calls.records
    assert [row.attempt for row in rows] == [0, 1, 2]
    assert rows[-1].parsed["failure"]["kind"] == "no_json"
    seeds = [request["seed"] for request in ctx.models.requests]
    assert len(set(seeds)) == 3

    rerun, rerun_ctx = make_runtime(sequence(prose, prose, prose))
    await verify(task, rerun)  # type: ignore[arg-type]
    assert [request["seed"] for request in rerun_ctx.models.requests] == seeds


async def test_rate_limit_is_retried_after_the_servers_delay(no_sleep: list[float]) -> None:
    limited = api_error(openai.RateLimitError, 429, "slow down", **{"retry-after-ms": "1500"})
    runtime, ctx = make_runtime(sequence(limited, CORRECT_JSON))
    (record,) = (await verify({"question": QUESTION.model_dump(), "path": path(0)}, runtime))[
        "paths"
    ]  # type: ignore[arg-type]
    assert record["verdict"] == "Correct"
    (row,) = ctx.calls.records
    assert (row.retries, row.error) == (1, None)
    assert len(no_sleep) == 1 and no_sleep[0] >= 1.5
    assert ctx.models.requests[0]["seed"] == ctx.models.requests[1]["seed"]


async def test_bad_request_is_not_retried_and_secrets_are_redacted() -> None:
    bad = api_error(openai.BadRequestError, 400, f"invalid request for key {SECRET}")
    runtime, ctx = make_runtime(sequence(bad, CORRECT_JSON))
    with pytest.raises(ModelCallError) as raised:
        await verify({"question": QUESTION.model_dump(), "path": path(0)}, runtime)  # type: ignore[arg-type]
    assert len(ctx.models.requests) == 1
    assert SECRET not in str(raised.value)
    (row,) = ctx.calls.records
    assert row.retries == 0 and row.reply is None
    assert SECRET not in row.error and "[REDACTED]" in row.error


async def test_transport_errors_stop_after_max_retries() -> None:
    down = api_error(openai.InternalServerError, 503, "unavailable")
    runtime, ctx = make_runtime(sequence(down, down, down, CORRECT_JSON))
    with pytest.raises(ModelCallError) as raised:
        await verify({"question": QUESTION.model_dump(), "path": path(0)}, runtime)  # type: ignore[arg-type]
    assert raised.value.attempts == 3  # max_retries is 2 in the mock config
    assert ctx.calls.records[-1].retries == 2


async def test_empty_replies_are_resampled_twice_then_accepted() -> None:
    _, ctx = make_runtime(sequence("", Reply("cut off", "length"), ""))
    prompt = render("summarizer", question_block="Q", cot="C")
    outcome = await call_model(
        ctx,
        question_id="q1",
        node="summarize",
        agent="summarizer",
        alias="gpt4omini",
        sampling={"temperature": 0.5, "top_p": None, "max_tokens": 512, "slot": 0},
        prompt=prompt,
    )
    assert outcome.reply == "" and outcome.call_id == 3
    assert [row.extra.get("discarded") for row in ctx.calls.records] == ["empty", "length", None]
    assert len({request["seed"] for request in ctx.models.requests}) == 3


def score_by_cot(scores: dict[str, str]) -> Responder:
    """A ranker that grades each CoT by its text, whatever order the calls arrive in."""

    def respond(messages: list[BaseMessage]) -> str:
        text = str(messages[-1].content)
        return next(reply for cot, reply in scores.items() if cot in text)

    return respond


async def test_ranker_keeps_the_top_scores_with_ties_in_generator_order() -> None:
    replies = {
        "cot-zero": "no score here",
        "cot-two": '{"score": 5, "justification": "best"}',
        "cot-three": '{"score": 4, "justification": "good"}',
        "cot-five": '{"score": 4, "justification": "good too"}',
    }
    runtime, ctx = make_runtime(score_by_cot(replies))
    paths = [path(0, cot="cot-zero"), path(1, correct=False, cot="cot-one")]
    paths += [path(2, cot="cot-two"), path(3, cot="cot-three"), path(5, cot="cot-five")]
    state = {"question": QUESTION.model_dump(), "paths": paths, "tier": "medium"}
    result = await rank(state, runtime)  # type: ignore[arg-type]
    assert [(k["slot"], k["source_index"], k["score"]) for k in result["kept"]] == [
        (0, 2, 5),
        (1, 3, 4),
    ]
    assert all(k["status"] == "pending" and k["attempts"] == 0 for k in result["kept"])
    assert {s["index"]: s["score"] for s in result["scores"]} == {0: None, 2: 5, 3: 4, 5: 4}
    assert len(ctx.calls.records) == 3 + 3  # the unparseable one is asked 3 times


async def test_ranker_makes_no_call_when_few_paths_are_correct() -> None:
    runtime, ctx = make_runtime(sequence())
    paths = [path(4), path(1, correct=False), path(2)]
    state = {"question": QUESTION.model_dump(), "paths": paths, "tier": "easy"}
    result = await rank(state, runtime)  # type: ignore[arg-type]
    assert [k["source_index"] for k in result["kept"]] == [2, 4]
    assert all(k["status"] == "ready" for k in result["kept"])
    assert result["scores"] == [] and ctx.calls.records == []


def kept_task(tier: str, attempts: int, candidate: str = "New text.\n\nFinal answer: B") -> Any:
    kept = {
        "slot": 1,
        "source_index": 3,
        "origin": "generated",
        "cot": "original verified cot",
        "candidate": candidate,
        "attempts": attempts,
        "status": "pending",
        "calls": [7],
    }
    return {"question": QUESTION.model_dump(), "tier": tier, "kept": kept, "error_reasons": []}


async def test_refiner_builds_a_candidate_and_counts_the_round() -> None:
    runtime, ctx = make_runtime(sequence("<think>x</think>\n\nBetter reasoning. Answer: B"))
    task = kept_task("medium", 0, candidate="")
    task["error_reasons"] = ["Missed the pressure overload.", " "]
    (update,) = (await refine(task, runtime))["kept"]
    assert update == {
        "slot": 1,
        "candidate": "x\n\nBetter reasoning. Answer: B",
        "attempts": 1,
        "calls": [7, 1],
    }
    assert "- Missed the pressure overload." in ctx.calls.records[0].messages[1]["content"]


@pytest.mark.parametrize(
    ("tier", "attempts", "status"),
    [("medium", 1, "pending"), ("medium", 2, "ready"), ("difficult", 2, "failed")],
)
async def test_reverify_failures(tier: str, attempts: int, status: str) -> None:
    runtime, _ = make_runtime(sequence(ERROR_JSON))
    (update,) = (await reverify(kept_task(tier, attempts), runtime))["kept"]
    assert update["status"] == status
    assert update["candidate"] is None
    assert "cot" not in update  # the original verified CoT stays
    if status == "ready":
        assert update["note"] == "refinement failed re-verification 2 times; original kept"
    if status == "failed":
        assert "hyperplasia" in update["note"]


async def test_reverify_pass_replaces_the_cot() -> None:
    runtime, _ = make_runtime(sequence(CORRECT_JSON))
    (update,) = (await reverify(kept_task("difficult", 1), runtime))["kept"]
    assert (update["status"], update["origin"], update["verdict"]) == (
        "ready",
        "regenerated",
        "Correct",
    )
    assert update["cot"].startswith("New text.")
    assert json.dumps(update)  # plain data, checkpoint-safe


async def test_an_identical_request_is_served_from_the_call_log() -> None:
    """The request cache: the same generation task again costs no model call; --no-cache does."""
    reply = "Reasoning about the wall.\n\nFinal answer: B"
    runtime, ctx = make_runtime(sequence(reply, reply, reply))
    task = {"question": QUESTION.model_dump(), "index": 0, "model": "qwen72b", "temperature": 0.7}
    first = (await generate(task, runtime))["paths"][0]  # type: ignore[arg-type]
    second = (await generate(task, runtime))["paths"][0]  # type: ignore[arg-type]
    assert len(ctx.models.requests) == 1  # the second answer came from the log
    assert second["cot"] == first["cot"] and second["answer"] == "B"
    original, hit = ctx.calls.records
    assert not original.cache_hit and hit.cache_hit
    assert hit.request_key == original.request_key and hit.extra["cached_from"] is None
    other = {**task, "temperature": 0.9}  # a different request is sent
    await generate(other, runtime)  # type: ignore[arg-type]
    assert len(ctx.models.requests) == 2
    ctx.use_cache = False
    await generate(task, runtime)  # type: ignore[arg-type]
    assert len(ctx.models.requests) == 3
