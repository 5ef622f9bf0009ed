"""JSON repair and the typed verifier / ranker / judge replies, over the hand-written corpus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from reasonmed.agents.output_readers import parse_judge_score, parse_score, parse_verdict
from reasonmed.agents.outputs import JudgeScore, Score, Verdict
from reasonmed.replies.json_repair import _closes_string, _matching_brace
from reasonmed.replies.parsing import parse_json_object
from reasonmed.replies.reply_types import AnswerExtraction, ParseFailure

REPLIES = Path(__file__).resolve().parents[1] / "fixtures" / "replies"
MANIFEST: dict[str, Any] = json.loads((REPLIES / "expected.json").read_text(encoding="utf-8"))
PARSERS = {"verdict": parse_verdict, "score": parse_score, "judge": parse_judge_score}
TYPED_CASES = sorted(
    (name, case) for name, case in MANIFEST["cases"].items() if case["task"] in PARSERS
)


@pytest.mark.parametrize(("name", "case"), TYPED_CASES, ids=[name for name, _ in TYPED_CASES])
def test_typed_replies_on_corpus(name: str, case: dict[str, Any]) -> None:
    result = PARSERS[case["task"]]((REPLIES / name).read_text(encoding="utf-8"))
    if "failure" in case:
        assert isinstance(result, ParseFailure), result
        assert result.kind == case["failure"]
    elif case["task"] == "verdict":
        assert isinstance(result, Verdict), result
        assert result.verdict == case["verdict"]
        assert case["reason_contains"] in result.reason
        assert bool(result.reason) == bool(case["reason_contains"])
    else:
        assert isinstance(result, Score | JudgeScore), result
        assert result.score == case["score"]
        assert case["justification_contains"] in result.justification


OBJECT = {"verdict": "Error", "reason": "It picks A."}


@pytest.mark.parametrize(
    "text",
    [
        '{"verdict": "Error", "reason": "It picks A."}',
        '```json\n{"verdict": "Error", "reason": "It picks A."}\n```',
        '```\n{"verdict": "Error", "reason": "It picks A."}\n```',
        'My assessment: {"verdict": "Error", "reason": "It picks A."} Hope this helps.',
        "{'verdict': 'Error', 'reason': 'It picks A.'}",
        '{"verdict": "Error", "reason": "It picks A.",}',
        "{“verdict”: “Error”, “reason”: “It picks A.”}",
        "{verdict: 'Error', reason: 'It picks A.'}",
        '<think>Maybe {"verdict": "Correct"}?</think>{"verdict": "Error", "reason": "It picks A."}',
        '{"verdict": "Error", "reason": "It picks A."}\n{"verdict": "Correct", "reason": "x"}',
        'e.g. {"verdict": "Correct"}\n```json\n{"verdict": "Error", "reason": "It picks A."}\n```',
    ],
)
def test_parse_json_object_repairs(text: str) -> None:
    assert parse_json_object(text) == OBJECT


def test_parse_json_object_literals_and_nesting() -> None:
    text = "{'ok': True, 'skip': False, 'note': None, 'inner': {'a': [1, 2,],},}"
    assert parse_json_object(text) == {
        "ok": True,
        "skip": False,
        "note": None,
        "inner": {"a": [1, 2]},
    }
    assert parse_json_object("{'reason': 'the patient's gland is tender'}") == {
        "reason": "the patient's gland is tender"
    }
    assert parse_json_object("{'reason': 'the patient's } trend', 'verdict': 'Error'}") == {
        "reason": "the patient's } trend",
        "verdict": "Error",
    }
    assert parse_json_object("{'reason': 'a } inside', 'verdict': 'Error'}") == {
        "reason": "a } inside",
        "verdict": "Error",
    }
    assert parse_json_object('{"reason": "the term "atrophy" is apt"}') == {
        "reason": 'the term "atrophy" is apt'
    }


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("", "empty"),
        ("   \n\t", "empty"),
        ("The reasoning is correct.", "no_json"),
        ('{"verdict": "Correct", "reason": "cut off', "invalid_json"),
        ('{"verdict" "Correct"}', "invalid_json"),
        ("[1, 2, 3] {", "invalid_json"),
    ],
)
def test_parse_json_object_failures(text: str, kind: str) -> None:
    result = parse_json_object(text)
    assert isinstance(result, ParseFailure) and result.kind == kind
    assert result.excerpt == text[:200]


@pytest.mark.parametrize(
    ("value", "verdict"),
    [
        ("Correct", "Correct"),
        ("correct", "Correct"),
        ("CORRECT", "Correct"),
        ("**Correct**", "Correct"),
        ("Error", "Error"),
        ("Error.", "Error"),
        ("error", "Error"),
        ("Incorrect", "Error"),
        ("wrong", "Error"),
        ("Partially correct", None),
        ("Correct and Error", None),
        ("", None),
        (True, None),
        (1, None),
    ],
)
def test_parse_verdict_values(value: object, verdict: str | None) -> None:
    result = parse_verdict(json.dumps({"verdict": value, "reason": "r"}))
    if verdict is None:
        assert isinstance(result, ParseFailure) and result.kind == "schema"
    else:
        assert result == Verdict(verdict=verdict, reason="r")


@pytest.mark.parametrize("verdict_key", ["verdict", "Verdict", "judgement", "result", "RESULT"])
@pytest.mark.parametrize("reason_key", ["reason", "reasoning", "explanation", "Reason"])
def test_parse_verdict_key_variants(verdict_key: str, reason_key: str) -> None:
    result = parse_verdict(json.dumps({verdict_key: "Correct", reason_key: "Sound."}))
    assert result == Verdict(verdict="Correct", reason="Sound.")


def test_wrapper_tags_quoted_inside_json_strings_survive() -> None:
    for reason in ["<think></think>", "ends with </think> here", "## Final Response"]:
        text = json.dumps({"reason": reason, "verdict": "Correct"}, indent=2)
        assert parse_verdict(text) == Verdict(verdict="Correct", reason=reason)


def test_parse_verdict_skips_objects_without_a_verdict() -> None:
    text = 'Schema: {"type": "object"}\nReply: {"verdict": "Error", "reason": "x"}'
    assert parse_verdict(text) == Verdict(verdict="Error", reason="x")
    assert parse_verdict('{"verdict": "Correct"}') == Verdict(verdict="Correct", reason="")


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("Correct", "Correct"),
        ("  **Error.**\n", "Error"),
        ("<think>Looks fine.</think>\nCorrect", "Correct"),
        ('"Incorrect"', "Error"),
        ("The reasoning is correct.", None),
        ("Correct, because it identifies the nerve.", None),
        ("Verdict: Error", None),
    ],
)
def test_parse_verdict_single_word_rule(text: str, verdict: str | None) -> None:
    result = parse_verdict(text)
    if verdict is None:
        assert isinstance(result, ParseFailure) and result.kind == "no_json"
    else:
        assert result == Verdict(verdict=verdict, reason="")


@pytest.mark.parametrize(
    ("value", "score"),
    [
        (4, 4),
        (0, 0),
        (5, 5),
        (4.0, 4),
        ("4", 4),
        (" 3 ", 3),
        ("4/5", 4),
        ("2 points", 2),
        (6, None),
        (-1, None),
        (4.5, None),
        ("4/10", None),
        ("four", None),
        (True, None),
        (None, None),
    ],
)
def test_parse_score_values(value: object, score: int | None) -> None:
    result = parse_score(json.dumps({"score": value, "justification": "j"}))
    if score is None:
        assert isinstance(result, ParseFailure) and result.kind == "schema"
    else:
        assert result == Score(score=score, justification="j")


@pytest.mark.parametrize(
    ("value", "score"),
    [(1, 1), (10, 10), ("8/10", 8), ("7", 7), (0, None), (11, None), ("8/5", None)],
)
def test_parse_judge_score_values(value: object, score: int | None) -> None:
    result = parse_judge_score(json.dumps({"score": value, "justification": "j"}))
    if score is None:
        assert isinstance(result, ParseFailure) and result.kind == "schema"
    else:
        assert result == JudgeScore(score=score, justification="j")


def test_parse_score_key_variants_and_missing_score() -> None:
    assert parse_score('{"Rating": 3, "reason": "ok"}') == Score(score=3, justification="ok")
    missing = parse_score('{"justification": "no number"}')
    assert isinstance(missing, ParseFailure) and missing.kind == "schema"


def test_schemas_validate_and_stay_small() -> None:
    with pytest.raises(ValidationError):
        Score(score=6, justification="")
    with pytest.raises(ValidationError):
        JudgeScore(score=0, justification="")
    with pytest.raises(ValidationError):
        Verdict(verdict="Maybe", reason="")  # type: ignore[arg-type]
    assert len(ParseFailure(kind="schema", detail="d", excerpt="x" * 500).excerpt) == 200
    extraction = AnswerExtraction(letter="B", method="final_answer_line", span="Answer: B")
    with pytest.raises(ValidationError):
        extraction.letter = "C"  # type: ignore[misc]


# --- properties ------------------------------------------------------------------------------

FRAGMENTS = [
    "{",
    "}",
    "[",
    "]",
    '"',
    "'",
    "“",
    ":",
    ",",
    "\\",
    "```json\n",
    "```",
    "<think>",
    "</think>",
    "True",
    "None",
    "verdict",
    "score",
    "Correct",
    "4/5",
    " ",
    "\n",
]
MESSY = st.one_of(
    st.text(), st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=4)).map("".join)
)


@settings(max_examples=400, deadline=None)
@given(MESSY)
def test_parsers_never_raise(text: str) -> None:
    parsed = parse_json_object(text)
    assert isinstance(parsed, dict | ParseFailure)
    assert isinstance(parse_verdict(text), Verdict | ParseFailure)
    assert isinstance(parse_score(text), Score | ParseFailure)
    assert isinstance(parse_judge_score(text), JudgeScore | ParseFailure)


WRAPPER_BITS = ["<think>", "</think>", "\n## Thinking\n", "\n## Final Response\n", "```", "{", "'"]
REASONS = st.one_of(
    st.text(), st.lists(st.sampled_from(WRAPPER_BITS) | st.text(max_size=6)).map("".join)
)
VERDICT_DICTS = st.fixed_dictionaries(
    {"verdict": st.sampled_from(["Correct", "Error"]), "reason": REASONS}
)


@st.composite
def wrapped(draw: st.DrawFn, payload: str, prose: st.SearchStrategy[str]) -> str:
    fence = draw(st.sampled_from([("", ""), ("```json\n", "\n```"), ("```\n", "```")]))
    return f"{draw(prose)}{fence[0]}{payload}{fence[1]}{draw(prose)}"


@settings(max_examples=300, deadline=None)
@given(data=st.data(), obj=VERDICT_DICTS, indent=st.sampled_from([None, 2]))
def test_dumped_verdict_in_arbitrary_prose_parses_back(
    data: st.DataObject, obj: dict[str, str], indent: int | None
) -> None:
    text = data.draw(wrapped(json.dumps(obj, indent=indent), st.text()))
    assert parse_verdict(text) == Verdict(**obj)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), obj=VERDICT_DICTS, ascii_only=st.booleans())
def test_dumped_object_in_brace_free_prose_is_the_first_object(
    data: st.DataObject, obj: dict[str, str], ascii_only: bool
) -> None:
    prose = st.text().filter(lambda text: "{" not in text)
    text = data.draw(wrapped(json.dumps(obj, ensure_ascii=ascii_only), prose))
    assert parse_json_object(text) == obj


@settings(max_examples=200, deadline=None)
@given(score=st.integers(-3, 12), as_text=st.booleans(), reason=st.text())
def test_scores_in_range_round_trip_and_others_fail(score: int, as_text: bool, reason: str) -> None:
    text = json.dumps({"score": str(score) if as_text else score, "justification": reason})
    result = parse_score(text)
    if 0 <= score <= 5:
        assert result == Score(score=score, justification=reason)
    else:
        assert isinstance(result, ParseFailure) and result.kind == "schema"


def test_object_quoting_a_think_tag_is_read_whole() -> None:
    """Found by hypothesis: a reason containing "</THINK>```{" split the reply at a fake tag."""
    reply = 'Verdict follows. {"reason": "</THINK>```{", "verdict": "Correct"} Done.'
    assert parse_json_object(reply) == {"reason": "</THINK>```{", "verdict": "Correct"}


def _reference_matching_brace(text: str, start: int, stop: int) -> int | None:
    """The character-by-character scan `_matching_brace` replaced; kept as its specification."""
    depth, quote, index, previous = 0, "", start, ""
    while index < stop:
        char = text[index]
        if quote:
            if char == "\\":
                index += 2
                continue
            if char == quote and (quote == '"' or _closes_string(text, index)):
                quote, previous = "", char
        elif char == '"' or (char == "'" and previous in "{[,:"):
            quote = char
        elif char in "{[}]":  # (starting on a brace, depth is >= 1 after any opener)
            depth += 1 if char in "{[" else -1
            if depth == 0:
                return index if char == "}" else None
        if not char.isspace():
            previous = char if not quote or char == quote else previous
        index += 1
    return None


_BRACE_TEXT = st.text(alphabet=st.sampled_from(list("{}[]\"'\\,: \n\ta’“")), max_size=40)


@settings(max_examples=3000, deadline=None)
@given(_BRACE_TEXT, st.integers(min_value=0, max_value=45))
@example('"\\"}', 45)  # an escaped quote does not close the string
@example("'it\\'s'}", 45)  # nor an escaped apostrophe
@example("a: 'b'} c", 45)  # an apostrophe after ':' opens a string
@example("x 'b}'", 45)  # one after a letter does not
@example("'}'", 45)  # one right after the opening brace does
@example('"a" \'b}', 45)  # after a closed string, the last visible character is its quote
@example("[{]}", 45)  # a bracket closes at depth 0 only as a brace
def test_matching_brace_agrees_with_the_character_scan(text: str, cut: int) -> None:
    text = "{" + text
    stop = min(len(text), cut + 1)
    for start in (i for i, char in enumerate(text) if char == "{"):
        for end in (stop, len(text)):
            expected = _reference_matching_brace(text, start, end)
            assert _matching_brace(text, start, end) == expected, (text, start, end)


def test_matching_brace_agrees_on_the_reply_corpus() -> None:
    texts = [p.read_text(encoding="utf-8") for p in sorted(REPLIES.glob("*.txt"))]
    assert texts
    for text in texts:
        for start in (i for i, char in enumerate(text) if char == "{"):
            expected = _reference_matching_brace(text, start, len(text))
            assert _matching_brace(text, start, len(text)) == expected


def test_a_copy_of_the_prompts_example_is_no_verdict_and_no_score() -> None:
    """A small model copies the prompt's example object; it judged nothing."""
    copied = '{"verdict": "Correct", "reason": "one or two sentences explaining the verdict"}'
    assert isinstance(parse_verdict(copied), ParseFailure)
    assert isinstance(parse_score('{"score": 4, "justification": "One sentence."}'), ParseFailure)
    assert parse_verdict('{"verdict": "Correct", "reason": "one sentence fits"}') == Verdict(
        verdict="Correct", reason="one sentence fits"
    )
