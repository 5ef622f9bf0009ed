"""Deterministic checks made before the judge, and reading external records to score."""

from __future__ import annotations

import json

import pytest

from reasonmed.evals.checks import check_response, options_from_text
from reasonmed.evals.score_items import sample_file

OPTIONS = {"A": "Hyperplasia", "B": "Atrophy", "C": "Metaplasia", "D": "Dysplasia"}
COT = "Squamous cells replaced columnar epithelium, a change of cell type.\n\nFinal answer: C"


@pytest.mark.parametrize("output", ["", "   \n\t", None])
def test_empty_output_is_blocked(output) -> None:
    result = check_response(output, options=OPTIONS, gold="C")
    assert result.blocked == ["empty"] and not result.judgeable


def test_unfinished_reasoning_is_truncated_and_long_text_too_long() -> None:
    assert check_response("<think>The cells look", options=OPTIONS).blocked == ["truncated"]
    assert check_response("## Thinking\nThe cells look").blocked == ["truncated"]
    assert check_response("<think>done</think>\n\n" + COT, options=OPTIONS, gold="C").blocked == []
    both = check_response("<think>" + "x" * 200, max_chars=100)
    assert both.blocked == ["truncated", "too_long"]
    assert check_response(COT, max_chars=len(COT)).blocked == []


def test_answer_checks_flag_but_do_not_block() -> None:
    right = check_response(COT, options=OPTIONS, gold="C")
    assert (right.flags, right.answer, right.answer_checked) == ([], "C", True)
    wrong = check_response(COT, options=OPTIONS, gold="B")
    assert wrong.flags == ["answer_mismatch"] and wrong.judgeable
    vague = check_response("It could be several of these.", options=OPTIONS, gold="C")
    assert vague.flags == ["no_answer"] and vague.answer is None and vague.judgeable
    unknown = check_response("It could be several of these.")  # no options: nothing to read
    assert unknown.flags == [] and not unknown.answer_checked


def test_cot_and_summary_are_read_apart() -> None:
    summary = "The answer is C. Metaplasia, a reversible change of cell type."
    agree = check_response(COT + "\n\n" + summary, options=OPTIONS, gold="C", parts=(COT, summary))
    assert agree.flags == [] and agree.answer == "C"
    other = "The answer is B. Atrophy."
    disagree = check_response(COT + "\n\n" + other, options=OPTIONS, gold="C", parts=(COT, other))
    assert disagree.flags == ["answer_mismatch"] and disagree.answer is None


def test_a_summary_after_the_final_answer_line_is_the_conclusion() -> None:
    # A refined CoT quoting an earlier draft's "final answer B", then its own "Final answer: C"
    # line, then the summary: that line no longer ends the text, so as a whole it reads as a
    # conflict (as the pipeline's exported ReasonMed records do); the last paragraph concludes.
    text = (
        "A reviewer noted that the final answer B (Atrophy) is wrong: the cells changed type."
        "\n\nFinal answer: C. Metaplasia\n\n"
        "The answer is C. Metaplasia, because the epithelium changed type."
    )
    result = check_response(text, options=OPTIONS, gold="C")
    assert result.flags == [] and result.answer == "C"
    assert result.answer_method.startswith("last_paragraph:")


def test_options_from_instruction_text() -> None:
    instruction = "Which change is this?\n\nA. Hyperplasia\nB. Atrophy\nC) Metaplasia"
    assert options_from_text(instruction) == {"A": "Hyperplasia", "B": "Atrophy", "C": "Metaplasia"}
    assert options_from_text("A. lone line") == {}
    assert options_from_text("no options here") == {}


def _write(path, records) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def test_external_file_sample_is_seeded_and_reads_options_and_answers(tmp_path) -> None:
    path = tmp_path / "other.jsonl"
    records = [
        {"instruction": f"Q{i}?\nA. yes\nB. no", "output": f"Answer: {'AB'[i % 2]}", "answer": "A"}
        for i in range(30)
    ]
    records[3] = {"instruction": "Q3", "input": "ctx", "output": "o", "options": ["x", "y"]}
    _write(path, records)
    first = sample_file(path, 10, seed=1)
    assert [i.item_id for i in first.items] == [i.item_id for i in sample_file(path, 10, 1).items]
    assert [i.item_id for i in first.items] != [i.item_id for i in sample_file(path, 10, 2).items]
    assert first.population == 30 and len(first.items) == 10
    everything = sample_file(path, None, seed=1).items
    assert everything[0].options == {"A": "yes", "B": "no"} and everything[0].gold == "A"
    assert everything[3].options == {"A": "x", "B": "y"} and everything[3].gold is None
    assert everything[3].judge_instruction() == "Q3\n\nContext:\nctx"


def test_external_file_lists_every_bad_record(tmp_path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"instruction": "q", "output": "a"}\nnot json\n[1]\n{"instruction": 3, "output": "a"}\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError) as error:
        sample_file(path, 10, seed=0)
    message = str(error.value)
    assert "3 bad record(s)" in message
    assert all(f"line {n}" in message for n in (2, 3, 4)) and "line 1:" not in message
