"""The HTML run report: numbers tagged with their place in the JSON, text escaped, PNGs inline."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reasonmed.evals.report import render_html
from reasonmed.evals.report_data import ExampleData, QuestionData, ReportInputs
from reasonmed.evals.report_numbers import compute_report
from tests.support.report_page import PNG_MAGIC, ReportPage, resolve

HOSTILE = '<script>alert("x")</script> & <b>'


def _report() -> dict[str, Any]:
    paths = [
        {
            "model": "m/1",
            "temperature": 0.7,
            "verdict": "Correct",
            "answer_ok": True,
            "correct": True,
        },
        {
            "model": "m/1",
            "temperature": 1.0,
            "verdict": "Error",
            "answer_ok": True,
            "correct": False,
        },
        {
            "model": "m~2",
            "temperature": 0.7,
            "verdict": "Error",
            "answer_ok": False,
            "correct": False,
        },
    ]
    inputs = ReportInputs(
        run_id=f"run {HOSTILE}",
        config_hash="cafe",
        prompt_hashes={"verifier": "v1"},
        questions=[
            QuestionData("q1", "done", "easy", paths=paths, calls=9, prompt_tokens=90),
            QuestionData("q2", "rejected", "difficult", reason=f"no chain passed: {HOSTILE}"),
        ],
        examples=[ExampleData.of("q1", 0, "easy", "generated", "a b c", "d")],
    )
    return {**compute_report(inputs), "generated_at": "2026-01-01T00:00:00+00:00"}


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return json.loads(json.dumps(_report()))  # as report.json reads back


@pytest.fixture(scope="module")
def html(report: dict[str, Any]) -> str:
    return render_html(report)  # once: drawing the plots is the slow part


def test_every_number_is_tagged_with_its_value_in_the_json(
    report: dict[str, Any], html: str
) -> None:
    page = ReportPage(html)
    assert len(page.cells) > 50
    for pointer, (value, _) in page.cells.items():
        assert resolve(report, pointer) == value, pointer
    # model names with "/" and "~" survive the pointer escaping
    assert page.cells["/pass_rates/by_model/m~11/rate"][0] == 0.5
    assert page.cells["/pass_rates/by_model/m~02/paths"] == (1, "1")
    assert page.cells["/pass_rates/overall/rate"] == (1 / 3, "33.3%")
    assert page.cells["/questions/by_tier/difficult"][1] == "1"
    assert page.cells["/usage/total/cost"] == (None, "unpriced")


def test_model_text_is_escaped(html: str) -> None:
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    page = ReportPage(html)
    assert "script" not in page.tags
    assert any(HOSTILE in text for text in page.text)  # shown, as text


def test_plots_are_embedded_pngs(html: str) -> None:
    page = ReportPage(html)
    images = page.png_images()
    assert len(images) == 5  # tiers, pass rates, tokens, CoT and summary lengths
    assert all(image.startswith(PNG_MAGIC) for image in images)
    assert "http" not in "".join(page.images)


def test_an_empty_run_renders_without_plots_of_nothing() -> None:
    inputs = ReportInputs(run_id="empty", config_hash="h", prompt_hashes={})
    report = {**compute_report(inputs), "generated_at": "now"}
    page = ReportPage(render_html(report))
    assert page.cells["/questions/total"] == (0, "0")
    assert page.cells["/pass_rates/overall/rate"] == (None, "–")
    assert page.images == []
