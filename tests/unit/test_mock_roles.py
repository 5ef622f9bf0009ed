"""The mock server's pure parts: role detection on the real templates, prompt parsing, its own
answer reader, the deterministic scenarios and what each role replies (no HTTP here)."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path

import pytest

from reasonmed.mockserver import ROLE_SIGNATURES, AnswerKey, Scenario, detect_role, parse_messages
from reasonmed.mockserver.answer_key import KeyEntry, letter_for
from reasonmed.mockserver.faults import FaultConfig, decide_fault, parse_fault_kinds
from reasonmed.mockserver.protocol import ChatRequest, chunk_bodies, cut_to_max_tokens
from reasonmed.mockserver.reader import read_conclusion
from reasonmed.mockserver.reply_builder import ReplyConfig, reply_text
from reasonmed.mockserver.scenarios import (
    SCENARIO_PROPORTIONS,
    WRONG_PATHS,
    assign_scenarios,
    hashed_scenario,
    path_slot,
    wrong_path_count,
    wrong_slots,
)
from reasonmed.mockserver.writer import Case, generator_cot
from reasonmed.prompts import AGENTS, format_question_block, render

OPTIONS = {"A": "Hyperplasia", "B": "Hypertrophy", "C": "Atrophy", "D": "Metaplasia"}
GENERATORS = ("Qwen2.5-72B-Instruct", "DeepSeek-R1-Distill-Llama-70B", "HuatuoGPT-o1-70B")
TEMPERATURES = (0.7, 0.9, 1.0)


def questions(n: int) -> list[str]:
    return [
        f"Synthetic question number {i} about pressure overload of the heart?" for i in range(n)
    ]


def key_for(texts: list[str], answer: str = "B") -> AnswerKey:
    return AnswerKey.from_entries([KeyEntry(q, OPTIONS, answer) for q in texts])


def variables(agent: str, question: str, cot: str = "Reasoning.") -> dict[str, str]:
    block = format_question_block(question, OPTIONS, context="A 62-year-old with hypertension.")
    extra = {
        "verifier": {"gold_answer": "B. Hypertrophy", "cot": cot},
        "ranker": {"gold_answer": "B. Hypertrophy", "cot": cot},
        "refiner": {
            "gold_answer": "B. Hypertrophy",
            "cot": cot,
            "error_reasons": "- Chose A.\n- x",
        },
        "regenerator": {"gold_answer": "B. Hypertrophy", "cot": cot, "error_reasons": "- Chose A."},
        "summarizer": {"cot": cot},
    }
    if agent == "judge":
        return {"instruction": block, "response": cot}
    return {"question_block": block, **extra.get(agent, {})}


def ask(agent: str, question: str, config: ReplyConfig, **request: object) -> str:
    cot = str(request.pop("cot", "Reasoning."))
    messages = render(agent, **variables(agent, question, cot)).messages
    fields = {"model": "Qwen2.5-72B-Instruct", "temperature": 0.7, "seed": 1, **request}
    chat = ChatRequest(messages=messages, **fields)  # type: ignore[arg-type]
    return reply_text(chat, parse_messages(messages), config)


@pytest.mark.parametrize("agent", AGENTS)
def test_every_template_is_classified_as_its_agent(agent: str) -> None:
    messages = render(agent, **variables(agent, "Which adaptation?")).messages
    assert detect_role(messages[0]["content"]) == agent
    assert parse_messages(messages).role == agent
    as_developer = [{**messages[0], "role": "developer"}, messages[1]]
    assert parse_messages(as_developer).role == agent


def test_signature_table_covers_each_agent_once() -> None:
    assert sorted(role for _, role in ROLE_SIGNATURES) == sorted(AGENTS)
    assert detect_role("You are a helpful assistant.") is None


def test_parser_reads_question_block_gold_cot_and_reasons() -> None:
    cot = "Step one.\n<think>x</think>\nFinal answer: A. Hyperplasia"
    parsed = parse_messages(render("refiner", **variables("refiner", "Which one?", cot)).messages)
    assert (parsed.question, parsed.context) == ("Which one?", "A 62-year-old with hypertension.")
    assert parsed.options == OPTIONS
    assert parsed.gold_letter == "B"
    assert parsed.cot == cot
    assert parsed.error_reasons == ("Chose A.", "x")


def test_parser_reads_judge_instruction_and_response() -> None:
    parsed = parse_messages(render("judge", **variables("judge", "Which one?", "Resp.")).messages)
    assert parsed.question == "Which one?" and parsed.options == OPTIONS
    assert parsed.response == "Resp."


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("reasoning mentions A. Hyperplasia\n\nFinal answer: B. Hypertrophy", "B"),
        ("The answer is (C) Atrophy.", "C"),
        ("Option A looks wrong.\n\n**Answer: D**", "D"),
        ("Final answer: Metaplasia", "D"),
        ("<think>Final answer: A</think>\nSo the answer is B.", "B"),
        ("## Thinking\nFinal answer: A\n## Final Response\nFinal answer: C. Atrophy", "C"),
        ("I cannot decide between these.", None),
        ("Final answer: Z", None),
    ],
)
def test_reader_finds_the_concluded_option(text: str, letter: str | None) -> None:
    assert read_conclusion(text, OPTIONS) == letter


@pytest.mark.parametrize("family", ["plain", "r1", "huatuo"])
def test_written_cots_conclude_with_the_chosen_option(family: str) -> None:
    case = Case("A man with hypertension and exertional dyspnea: which adaptation?", OPTIONS)
    for seed in range(30):
        chosen = "ABCD"[seed % 4]
        text = generator_cot(family, case, chosen, random.Random(seed))
        assert read_conclusion(text, OPTIONS) == chosen
        assert 150 < len(text.split()) < 600


def test_letter_for_accepts_letters_and_option_text() -> None:
    assert letter_for("B. Hypertrophy", OPTIONS) == letter_for("(B)", OPTIONS) == "B"
    assert letter_for("atrophy", OPTIONS) == "C"
    assert letter_for("B. Atrophy", OPTIONS) is None


def test_answer_key_loads_list_options_and_text_answers(tmp_path: Path) -> None:
    path = tmp_path / "key.jsonl"
    rows = [{"question": "Q one?", "options": list(OPTIONS.values()), "answer": "Atrophy"}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    key = AnswerKey.load(path)
    assert key.gold_letter("  q ONE? ", OPTIONS) == "C"
    shuffled = {"A": "Atrophy", "B": "Hyperplasia"}
    assert key.gold_letter("Q one?", shuffled) == "A"
    path.write_text(json.dumps({"question": "Q?", "options": ["x"], "answer": "nope"}))
    with pytest.raises(ValueError, match="record 1"):
        AnswerKey.load(path)


def test_scenarios_are_dealt_in_exact_proportions_over_a_key() -> None:
    dealt = Counter(assign_scenarios(questions(40)).values())
    assert {s: n / 40 for s, n in dealt.items()} == SCENARIO_PROPORTIONS
    assert set(assign_scenarios(questions(5)).values()) == set(Scenario)


def test_hashed_scenarios_follow_the_proportions() -> None:
    counts = Counter(hashed_scenario(q) for q in questions(4000))
    for scenario, share in SCENARIO_PROPORTIONS.items():
        assert abs(counts[scenario] / 4000 - share) < 0.03, scenario


def test_demo_generators_fill_all_nine_path_slots() -> None:
    slots = {path_slot(m, t) for m in GENERATORS for t in TEMPERATURES}
    assert slots == set(range(9))
    assert path_slot("custom-b", 0.9, models=("custom-a", "custom-b")) == 4


@pytest.mark.parametrize("scenario", list(Scenario))
def test_wrong_path_counts_fall_in_the_tier(scenario: Scenario) -> None:
    low, high = WRONG_PATHS[scenario]
    for q in questions(30):
        assert low <= len(wrong_slots(q, scenario)) == wrong_path_count(q, scenario) <= high


@pytest.mark.parametrize("scenario", list(Scenario))
def test_generator_replies_go_wrong_on_exactly_the_wrong_paths(scenario: Scenario) -> None:
    texts = questions(20)
    config = ReplyConfig(answer_key=key_for(texts))
    question = next(q for q in texts if config.answer_key.scenario(q) == scenario)
    concluded = [
        read_conclusion(ask("generator", question, config, model=m, temperature=t), OPTIONS)
        for m in GENERATORS
        for t in TEMPERATURES
    ]
    assert None not in concluded
    wrong = sum(letter != "B" for letter in concluded)
    assert wrong == wrong_path_count(question.lower(), scenario)


def test_generator_without_a_key_guesses_consistently_across_seeds() -> None:
    answers = {
        read_conclusion(ask("generator", "Unknown?", ReplyConfig(), seed=s), OPTIONS)
        for s in range(5)
    }
    assert len(answers) == 1 and answers <= set(OPTIONS)


def test_verifier_compares_the_conclusion_with_the_gold_answer() -> None:
    for seed in range(6):
        right = ask("verifier", "Q?", ReplyConfig(), cot="...\nFinal answer: B", seed=seed)
        wrong = ask("verifier", "Q?", ReplyConfig(), cot="...\nFinal answer: C", seed=seed)
        assert json_object(right)["verdict"] == "Correct"
        verdict = json_object(wrong)
        assert verdict["verdict"] == "Error" and "C (Atrophy)" in verdict["reason"]


@pytest.mark.parametrize(
    ("agent", "fails_in"),
    [("refiner", Scenario.REFINE_FAIL), ("regenerator", Scenario.REJECT)],
)
def test_rewrites_conclude_wrongly_only_in_their_failing_scenario(
    agent: str, fails_in: Scenario
) -> None:
    texts = questions(20)
    config = ReplyConfig(answer_key=key_for(texts))
    for question in texts[:10]:
        letter = read_conclusion(ask(agent, question, config, seed=3), OPTIONS)
        scenario = config.answer_key.scenario(question)
        assert (letter != "B") == (scenario == fails_in), (question, scenario)


def test_examinee_accuracy_is_exact_over_the_key() -> None:
    texts = questions(20)
    config = ReplyConfig(answer_key=key_for(texts), examinee_accuracy=0.7)
    correct = sum(read_conclusion(ask("examinee", q, config), OPTIONS) == "B" for q in texts)
    assert correct == 14


@pytest.mark.parametrize("agent", ["ranker", "judge"])
def test_scores_are_in_range(agent: str) -> None:
    low, high = (0, 5) if agent == "ranker" else (1, 10)
    scores = {json_object(ask(agent, "Q?", ReplyConfig(), seed=s))["score"] for s in range(40)}
    assert scores <= set(range(low, high + 1)) and len(scores) > 2


def test_summarizer_names_the_concluded_answer() -> None:
    summary = ask("summarizer", "Q?", ReplyConfig(), cot="Final answer: C. Atrophy")
    assert "C. Atrophy" in summary and summary.count(".") <= 3


def test_faults_follow_rate_and_kinds() -> None:
    assert decide_fault("abc", 0, FaultConfig(rate=0.0)) is None
    only = FaultConfig(rate=1.0, kinds=parse_fault_kinds("429"))
    assert {decide_fault(f"r{i}", 0, only) for i in range(50)} == {"429"}
    kinds = Counter(decide_fault(f"r{i}", 0, FaultConfig(rate=1.0)) for i in range(2000))
    assert abs(kinds["429"] / 2000 - 0.5) < 0.05 and abs(kinds["500"] / 2000 - 0.25) < 0.05
    half = FaultConfig(rate=0.5)
    assert any(decide_fault("same", k, half) is None for k in range(20))
    with pytest.raises(ValueError):
        parse_fault_kinds("429,teapot")


def test_max_tokens_cuts_by_words_and_chunks_rejoin() -> None:
    assert cut_to_max_tokens("one two  three four", 2) == ("one two", "length")
    assert cut_to_max_tokens("one two", 2) == ("one two", "stop")
    request = ChatRequest(model="m", messages=[{"role": "user", "content": "x"}])
    text = "  A reply with\nseveral   words in it, spread over lines.  "
    chunks = chunk_bodies(request, text, "stop", 0)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == text


@pytest.mark.parametrize("space", [" ", "\t", "\n", "\u00a0", "\u2003", "\u3000", "\x1c", "\x85"])
def test_max_tokens_counts_words_as_the_regex_does_for_unicode_spaces(space: str) -> None:
    # The word count's fast path is str.split(); a cut must still land where \S+ says.
    text = space.join(["alpha", "beta", "gamma", "delta"]) + space
    words = list(re.finditer(r"\S+", text))
    assert len(words) == 4
    assert cut_to_max_tokens(text, 4) == (text, "stop")
    assert cut_to_max_tokens(text, 3) == (text[: words[2].end()], "length")


def test_request_digest_is_computed_once_and_tracks_the_request() -> None:
    request = ChatRequest(model="m", messages=[{"role": "user", "content": "x"}], seed=1)
    assert request.digest is request.digest
    other = ChatRequest(model="m", messages=[{"role": "user", "content": "x"}], seed=2)
    assert other.digest != request.digest


def json_object(text: str) -> dict:
    match = re.search(r"\{.*\}", text, re.DOTALL)
    assert match is not None, text
    return json.loads(match.group(0))
