"""The mock endpoint over real HTTP, through the langchain-openai client a real endpoint gets."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from langchain_core.messages import AIMessageChunk
from langchain_openai import ChatOpenAI

from reasonmed.mockserver import AnswerKey, MockServerProcess, Scenario
from reasonmed.mockserver.reader import read_conclusion
from reasonmed.mockserver.server import main
from reasonmed.prompts import format_question_block, render

OPTIONS = {"A": "Hyperplasia", "B": "Hypertrophy", "C": "Atrophy", "D": "Metaplasia"}
GENERATORS = ("Qwen2.5-72B-Instruct", "DeepSeek-R1-Distill-Llama-70B", "HuatuoGPT-o1-70B")
TEMPERATURES = (0.7, 0.9, 1.0)
QUESTIONS = [
    f"Case {i}: a patient with long-standing hypertension has a thick left ventricle. "
    "Which cellular adaptation explains it?"
    for i in range(6)
]


@pytest.fixture(scope="module")
def answer_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("key") / "questions.jsonl"
    rows = [{"question": q, "options": OPTIONS, "answer": "B"} for q in QUESTIONS]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture(scope="module")
def server(answer_key: Path) -> Iterator[MockServerProcess]:
    with MockServerProcess(answer_key=answer_key) as running:
        yield running


def chat(server: MockServerProcess, model: str = "Qwen2.5-72B-Instruct", **kwargs) -> ChatOpenAI:
    return ChatOpenAI(
        model=model, base_url=server.base_url, api_key="not-needed", max_retries=0, **kwargs
    )


def generator_messages(question: str = QUESTIONS[0]) -> list[dict[str, str]]:
    return render("generator", question_block=format_question_block(question, OPTIONS)).messages


def json_object(text: str) -> dict:
    match = re.search(r"\{.*\}", text, re.DOTALL)
    assert match is not None, text
    return json.loads(match.group(0))


def test_chat_openai_gets_a_reply_with_usage(server: MockServerProcess) -> None:
    reply = chat(server, seed=1).invoke(generator_messages())
    assert read_conclusion(str(reply.content), OPTIONS) in OPTIONS
    assert reply.usage_metadata is not None and reply.usage_metadata["input_tokens"] > 0
    assert reply.usage_metadata["output_tokens"] == -(-len(str(reply.content)) // 4)
    assert reply.response_metadata["finish_reason"] == "stop"
    assert reply.response_metadata["model_name"] == "Qwen2.5-72B-Instruct"


def test_same_request_same_reply_new_seed_new_sample(server: MockServerProcess) -> None:
    messages = generator_messages()
    first = chat(server, temperature=0.9, seed=7).invoke(messages).content
    again = chat(server, temperature=0.9, seed=7).invoke(messages).content
    others = {chat(server, temperature=0.9, seed=s).invoke(messages).content for s in range(8, 12)}
    assert first == again
    assert others - {first}


async def test_streaming_matches_the_plain_reply(server: MockServerProcess) -> None:
    messages = generator_messages()
    plain = await chat(server, seed=3).ainvoke(messages)
    streamed: AIMessageChunk | None = None
    pieces = 0
    async for chunk in chat(server, seed=3, streaming=True, stream_usage=True).astream(messages):
        streamed = chunk if streamed is None else streamed + chunk
        pieces += 1
    assert streamed is not None and pieces > 5
    assert streamed.content == plain.content
    assert streamed.usage_metadata == plain.usage_metadata


def test_max_tokens_cuts_the_reply(server: MockServerProcess) -> None:
    reply = chat(server, seed=1, max_tokens=12).invoke(generator_messages())
    assert len(str(reply.content).split()) == 12
    assert reply.response_metadata["finish_reason"] == "length"


def test_easy_question_generators_mostly_conclude_with_gold(
    server: MockServerProcess, answer_key: Path
) -> None:
    key = AnswerKey.load(answer_key)
    easy = next(q for q in QUESTIONS if key.scenario(q) == Scenario.EASY)
    concluded = [
        read_conclusion(
            str(
                chat(server, model, temperature=t, seed=11).invoke(generator_messages(easy)).content
            ),
            OPTIONS,
        )
        for model in GENERATORS
        for t in TEMPERATURES
    ]
    assert 6 <= concluded.count("B") <= 8


def test_reply_styles_follow_the_model_name(server: MockServerProcess) -> None:
    r1 = chat(server, "DeepSeek-R1-Distill-Llama-70B", seed=1).invoke(generator_messages())
    huatuo = chat(server, "HuatuoGPT-o1-70B", seed=1).invoke(generator_messages())
    assert str(r1.content).startswith("<think>\n") and "</think>" in str(r1.content)
    assert str(huatuo.content).startswith("## Thinking") and "## Final Response" in huatuo.content


@pytest.mark.parametrize(("conclusion", "verdict"), [("B. Hypertrophy", "Correct"), ("C", "Error")])
def test_verifier_judges_the_conclusion(
    server: MockServerProcess, conclusion: str, verdict: str
) -> None:
    cot = f"1. Restate the question: ...\n\nFinal answer: {conclusion}"
    block = format_question_block(QUESTIONS[1], OPTIONS)
    messages = render("verifier", question_block=block, gold_answer="B. Hypertrophy", cot=cot)
    for seed in range(3):
        reply = chat(server, temperature=1.0, seed=seed).invoke(messages.messages)
        assert json_object(str(reply.content))["verdict"] == verdict


def test_stats_count_requests_by_role(server: MockServerProcess) -> None:
    before = server.stats()
    block = format_question_block(QUESTIONS[2], OPTIONS)
    chat(server, seed=1).invoke(render("examinee", question_block=block).messages)
    after = server.stats()
    assert after["requests"] == before["requests"] + 1
    role_counts = after["requests_by_role"]
    assert role_counts["examinee"] == before["requests_by_role"].get("examinee", 0) + 1
    assert after["in_flight"] == 0 and after["uptime_seconds"] > before["uptime_seconds"]


def test_models_health_and_bad_requests(server: MockServerProcess) -> None:
    with httpx.Client(trust_env=False) as client:
        assert client.get(f"{server.root_url}/health").json() == {"status": "ok"}
        models = client.get(f"{server.base_url}/models").json()
        assert models["object"] == "list" and models["data"]
        bad = client.post(f"{server.base_url}/chat/completions", json={"model": "m"})
        assert bad.status_code == 400 and "messages" in bad.json()["error"]["message"]


def test_rate_limit_faults_carry_retry_after() -> None:
    with MockServerProcess(fault_rate=1.0, fault_kinds=["429"]) as server:
        body = {"model": "m", "messages": generator_messages(), "seed": 1}
        with httpx.Client(trust_env=False) as client:
            response = client.post(f"{server.base_url}/chat/completions", json=body)
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "1"
        assert response.headers["retry-after-ms"] == "200"
        with pytest.raises(openai.RateLimitError):
            chat(server).invoke(generator_messages())
        assert server.stats()["faults_by_kind"] == {"429": 2}


def test_malformed_faults_break_json_and_empty_text() -> None:
    with MockServerProcess(fault_rate=1.0, fault_kinds=["malformed"]) as server:
        block = format_question_block(QUESTIONS[0], OPTIONS)
        verifier = render("verifier", question_block=block, gold_answer="B", cot="Final answer: B")
        reply = chat(server).invoke(verifier.messages)
        with pytest.raises(json.JSONDecodeError):
            json.loads(str(reply.content))
        assert chat(server).invoke(generator_messages()).content == ""


def test_identical_retries_eventually_succeed() -> None:
    with MockServerProcess(fault_rate=0.6, fault_kinds=["500"]) as server:
        body = {"model": "m", "messages": generator_messages(), "seed": 5}
        with httpx.Client(trust_env=False) as client:
            url = f"{server.base_url}/chat/completions"
            statuses = [client.post(url, json=body).status_code for _ in range(30)]
        assert 500 in statuses and 200 in statuses
        stats = server.stats()
        assert stats["faults_by_kind"]["500"] == statuses.count(500)


async def test_latency_and_concurrency_show_in_stats() -> None:
    async with MockServerProcess(latency_ms=300) as server:
        llm = chat(server)
        start = time.monotonic()
        await asyncio.gather(*(llm.ainvoke(generator_messages(), seed=s) for s in range(4)))
        elapsed = time.monotonic() - start
        stats = await server.astats()
    assert elapsed > 0.15
    assert stats["max_in_flight"] >= 2
    assert stats["in_flight_seconds"] > 4 * 0.15 * 0.9


def test_process_stops_on_exit() -> None:
    with MockServerProcess() as server:
        root = server.root_url
    with pytest.raises(RuntimeError):
        _ = server.base_url
    with pytest.raises(httpx.ConnectError), httpx.Client(trust_env=False) as client:
        client.get(f"{root}/health")


def test_main_rejects_a_missing_answer_key(tmp_path: Path) -> None:
    assert main(["--answer-key", str(tmp_path / "absent.jsonl")]) == 2


def test_process_reports_a_server_that_fails_to_start() -> None:
    with pytest.raises(RuntimeError, match="code 2"), MockServerProcess(fault_rate=2.0):
        pass
