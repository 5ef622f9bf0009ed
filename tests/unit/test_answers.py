"""Answer extraction, reasoning splitting and CoT cleaning, over the hand-written reply corpus."""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from reasonmed.replies.answers import extract_answer
from reasonmed.replies.parsing import clean_cot, split_reasoning

REPLIES = Path(__file__).resolve().parents[1] / "fixtures" / "replies"
MANIFEST: dict[str, Any] = json.loads((REPLIES / "expected.json").read_text(encoding="utf-8"))
ANSWER_CASES = sorted(
    (name, case) for name, case in MANIFEST["cases"].items() if case["task"] == "answer"
)
TISSUE = MANIFEST["options"]["tissue"]  # A Hyperplasia, B Atrophy, C Metaplasia, D Dysplasia


def reply(name: str) -> str:
    return (REPLIES / name).read_text(encoding="utf-8")


def test_corpus_and_manifest_list_the_same_files() -> None:
    on_disk = {path.name for path in REPLIES.iterdir() if path.name != "expected.json"}
    assert on_disk == set(MANIFEST["cases"])
    assert len(on_disk) >= 40


@pytest.mark.parametrize(("name", "case"), ANSWER_CASES, ids=[name for name, _ in ANSWER_CASES])
def test_extract_answer_on_corpus(name: str, case: dict[str, Any]) -> None:
    result = extract_answer(reply(name), MANIFEST["options"][case["options"]])
    assert result.letter == case["letter"], result
    if "method" in case:
        assert result.method == case["method"], result


@pytest.mark.parametrize(("name", "case"), ANSWER_CASES, ids=[name for name, _ in ANSWER_CASES])
def test_split_reasoning_on_corpus(name: str, case: dict[str, Any]) -> None:
    text = reply(name)
    reasoning, final = split_reasoning(text)
    wrapper = case["wrapper"]
    if wrapper == "none":
        assert (reasoning, final) == ("", text.strip())
    elif wrapper.endswith("_unclosed"):
        assert reasoning and final == ""
    else:
        assert reasoning and final
    for marker in ("<think>", "</think>", "## Thinking", "## Final Response"):
        assert marker not in reasoning and marker not in final


@pytest.mark.parametrize(("name", "case"), ANSWER_CASES, ids=[name for name, _ in ANSWER_CASES])
def test_clean_cot_keeps_reasoning_and_answer_without_wrappers(
    name: str, case: dict[str, Any]
) -> None:
    text = reply(name)
    cleaned = clean_cot(text)
    reasoning, final = split_reasoning(text)
    for marker in ("<think>", "</think>", "## Thinking", "## Final Response", "\n\n\n"):
        assert marker not in cleaned
    assert cleaned == cleaned.strip()
    for part in (reasoning, final):
        if part:
            assert part.splitlines()[0].strip() in cleaned
            assert part.splitlines()[-1].strip() in cleaned


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("Reasoning.\n\n**Answer: B**", "B"),
        ("Reasoning.\n\n### Final answer\nB", "B"),
        ("The answer is (B) Atrophy.", "B"),
        ("Answer: B.", "B"),
        ("so the final answer is B", "B"),
        ("correct option: **C**", "C"),
        ("The correct answer is: Option D - Dysplasia", "D"),
        ("Discussion of all four.\n\nOption D", "D"),
        ("Discussion of all four.\n\n(C)", "C"),
        ("Answer: (b)", "B"),
        ("the answer is c.", "C"),
        ("The correct answer is atrophy.", "B"),
        ("The correct answer is METAPLASIA!", "C"),
        ("Thus, the best answer is Hyperplasia (A).", "A"),
        ("The answer is A because the cells increased in number.", "A"),
        ("Final answer: C, metaplasia", "C"),
        ("Therefore, option D (Dysplasia) is the correct answer.", "D"),
        ("Option C is correct.", "C"),
        ("The answer is \\boxed{\\text{B}}", "B"),
        ("The answer is not A. The answer is B.", "B"),
        ("At first glance the answer is A.\n\nOn closer reading, the answer is C.", "C"),
        ("Final answer:\nB. Atrophy\n\nDisuse shrinks the fibres.", "B"),
        ("If we weigh all of the findings together, the answer is C.", "C"),
        ("The presentation is most consistent with metaplasia.", "C"),
        ("**Correct Answer:** B) Atrophy", "B"),
        # refusals: non-options, hedges, negations, questions, conflicts, articles
        ("A is wrong because the cells did not increase in number.", None),
        ("Answer: E", None),
        ("The answer is not A.", None),
        ("Could the answer be B? It might be.", None),
        ("Is the answer B? We need more data.", None),
        ("The answer is B or C.", None),
        ("Final answer: C. Atrophy", None),
        ("Final answer: B\n\nFinal answer: D", None),
        ("The answer is a benign process.", None),
        ("If the cells were atypical, the answer would be D.", None),
        ("So the answer is C? That does not fit the history.", None),
        ("This is most consistent with hyperplasia, but the history argues against it.", None),
        ("Final answer:\nA reduction in cell size after disuse.", None),
        ("The correct answer is atrophy (C).", None),
        ("The answer is atrophy or metaplasia.", None),
        ("A. Hyperplasia\nB. Atrophy\nC. Metaplasia\nD. Dysplasia", None),
        ("", None),
    ],
)
def test_extract_answer_phrasings(text: str, letter: str | None) -> None:
    assert extract_answer(text, TISSUE).letter == letter


def test_extract_answer_prefers_final_part_over_reasoning() -> None:
    text = "<think>First I thought the answer is A.</think>\n\nFinal answer: B. Atrophy"
    result = extract_answer(text, TISSUE)
    assert (result.letter, result.method) == ("B", "final_answer_line")


def test_extract_answer_refuses_unfinished_reasoning() -> None:
    assert extract_answer("<think>So the answer is B, but let me check", TISSUE).letter is None
    assert extract_answer("## Thinking\nThe answer is B, though", TISSUE).letter is None
    closed = extract_answer("<think>So the answer is B.</think>\nAtrophy of muscle.", TISSUE)
    assert (closed.letter, closed.method) == ("B", "reasoning:answer_statement")


def test_extract_answer_returns_the_key_as_given() -> None:
    options = {"a": "Hyperplasia", "b": "Atrophy"}
    assert extract_answer("Final answer: B", options).letter == "b"


def test_split_reasoning_variants() -> None:
    assert split_reasoning("<think>\nwhy\n</think>\nB") == ("why", "B")
    assert split_reasoning("why</think>B") == ("why", "B")
    assert split_reasoning("<think>why, unfinished") == ("why, unfinished", "")
    huatuo = "## Thinking\nwhy\n\n## Final Response\nB. Atrophy"
    assert split_reasoning(huatuo) == ("why", "B. Atrophy")
    assert split_reasoning("  plain answer  ") == ("", "plain answer")


def test_clean_cot_joins_parts_and_drops_markup() -> None:
    r1 = "<think>\nDisuse shrinks fibres.\n</think>\n\n\n\nAnswer: B<|im_end|>"
    assert clean_cot(r1) == "Disuse shrinks fibres.\n\nAnswer: B"
    huatuo = "## Thinking\n\nDisuse shrinks fibres.\n\n## Final Response\n\nAtrophy."
    assert clean_cot(huatuo) == "Disuse shrinks fibres.\n\nAtrophy."
    assert clean_cot("  Step 1: restate.\nFinal answer: B  ") == "Step 1: restate.\nFinal answer: B"


# --- properties ------------------------------------------------------------------------------

OPTION_POOL = [
    "Atrophy",
    "Hyperplasia",
    "Metaplasia",
    "Dysplasia",
    "Radial nerve",
    "Ulnar nerve",
    "Thiamine",
    "Folate",
    "Right coronary artery",
    "Intravenous isotonic saline",
    "Ethosuximide",
    "Graves disease",
]
FRAGMENTS = [
    "<think>",
    "</think>",
    "## Thinking\n",
    "## Final Response\n",
    "Answer:",
    "Final answer: ",
    "the answer is ",
    "Option ",
    "(",
    ")",
    "**",
    "\\boxed{",
    "}",
    "\n",
    "\n\n",
    " is the correct answer",
    " or ",
    "not ",
    "A",
    "b",
    "E",
    "atrophy",
    "?",
    ". ",
]
NEUTRAL_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " ,;()-\n", max_size=80)


@st.composite
def option_sets(draw: st.DrawFn) -> dict[str, str]:
    texts = draw(st.lists(st.sampled_from(OPTION_POOL), min_size=2, max_size=5, unique=True))
    return dict(zip("ABCDE", texts, strict=False))


@st.composite
def option_discussions(draw: st.DrawFn, options: dict[str, str]) -> str:
    """Misleading but non-final talk about options, as CoTs write before concluding."""
    templates = [
        "Option {l} ({t}) is wrong because it does not fit.",
        "{l} is incorrect here.",
        "The answer is not {l}.",
        "One might think the answer is {l}, but the findings argue against it.",
        "If the history were different, the answer would be {l}.",
        "{t} is a common distractor.",
        "Option {l} is correct in other settings, but not here.",
        "- {l}. {t}: unlikely.",
        "Could the answer be {l}?",
    ]
    sentences = []
    for _ in range(draw(st.integers(0, 8))):
        letter = draw(st.sampled_from(sorted(options)))
        template = draw(st.sampled_from(templates))
        sentences.append(template.format(l=letter, t=options[letter]))
        sentences.append(draw(NEUTRAL_TEXT))
    return draw(st.sampled_from([" ", "\n", "\n\n"])).join(sentences)


@settings(max_examples=300, deadline=None)
@given(
    text=st.one_of(
        st.text(), st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=5)).map("".join)
    ),
    options=st.one_of(option_sets(), st.dictionaries(st.text(max_size=2), st.text(max_size=12))),
)
def test_extract_answer_never_raises(text: str, options: dict[str, str]) -> None:
    result = extract_answer(text, options)
    assert result.letter is None or result.letter in options


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_canonical_final_line_after_discussion_is_found(data: st.DataObject) -> None:
    options = data.draw(option_sets())
    discussion = data.draw(option_discussions(options))
    lowered = discussion.lower()
    assume("answer" not in lowered.replace("the answer is", "").replace("the answer be", ""))
    assume("final" not in lowered)
    letter = data.draw(st.sampled_from(sorted(options)))
    suffix = data.draw(st.sampled_from(["", ".", f". {options[letter]}"]))
    result = extract_answer(f"{discussion}\n\nFinal answer: {letter}{suffix}", options)
    assert result.letter == letter, result


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_answer_given_as_option_text_maps_to_its_letter(data: st.DataObject) -> None:
    options = data.draw(option_sets())
    letter = data.draw(st.sampled_from(sorted(options)))
    shown = data.draw(st.sampled_from([str.lower, str.upper, str.title]))(options[letter])
    end = data.draw(st.sampled_from(["", ".", "!", f" (option {letter})."]))
    text = f"Step 6: Having compared them, the correct answer is {shown}{end}"
    assert extract_answer(text, options).letter == letter


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_letter_and_text_that_disagree_give_no_answer(data: st.DataObject) -> None:
    options = data.draw(option_sets())
    letter, other = data.draw(
        st.lists(st.sampled_from(sorted(options)), min_size=2, max_size=2, unique=True)
    )
    result = extract_answer(f"Final answer: {letter}. {options[other]}", options)
    assert (result.letter, result.method) == (None, "conflict")


def test_closing_final_answer_line_outweighs_quoted_mistakes() -> None:
    """A refined CoT quotes the earlier draft's wrong answer; its closing line decides."""
    options = {"A": "Repeat beta-hCG", "B": "Methotrexate", "C": "Dilation and curettage"}
    text = (
        "A reviewer noted that the final answer C (Dilation and curettage) is wrong and that "
        "the answer is not A.\n\nWeighing every finding, methotrexate fits best.\n\n"
        "Final answer: B. Methotrexate"
    )
    assert extract_answer(text, options).letter == "B"
    flip_flop = "Final answer: C\n\nOn reflection, no.\n\nFinal answer: B"
    assert extract_answer(flip_flop, options).letter is None


@pytest.mark.parametrize(
    "text",
    [
        "The correct answer is A. Isthmus. The reasoning concludes no clear final answer B.",
        "So the answer is A. There is not a final answer B here.",
        "The answer is A; without any final answer: B being supported.",
    ],
)
def test_a_negated_marker_names_no_answer(text: str) -> None:
    """Seen from a real small model: a negated "final answer B" must not outrank "the answer is
    A" (it exported an example whose chain concluded A for a gold B)."""
    options = {"A": "Isthmus", "B": "Ampulla", "C": "Fimbriae", "D": "Cervix"}
    assert extract_answer(text, options).letter == "A"
