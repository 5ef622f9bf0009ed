"""`reasonmed eval report` on a real small run: the HTML's numbers against the database.

The run is made through the CLI against the mock endpoint; the report's numbers are then checked
against values computed here straight from the tables (the pass rate from the call log, not
from the checkpoints the report reads), and the HTML against report.json.
"""

from __future__ import annotations

import json
from argparse import Namespace
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from reasonmed.cli.report_command import cmd_report
from reasonmed.mockserver.process import MockServerProcess
from reasonmed.replies.answers import extract_answer
from tests.support.cli import mock_sets, reasonmed
from tests.support.pipeline import MOCK_CONFIG, QUESTIONS, query
from tests.support.report_page import PNG_MAGIC, ReportPage, resolve

RUN = "eight"
PRICED = "qwen72b"  # the one alias given prices, so the run's cost is partial


@pytest.fixture(scope="module")
def report_run(tmp_path_factory) -> Iterator[dict[str, Any]]:
    """A finished 8-question run and its report: db url, report.json, the parsed page."""
    tmp = tmp_path_factory.mktemp("report")
    questions = tmp / f"{RUN}.jsonl"
    questions.write_text("".join(QUESTIONS.read_text().splitlines(keepends=True)[:8]))
    db = f"sqlite:///{tmp / 'run.db'}"
    prices = ["--set", f"models.{PRICED}.price_input_per_mtok=2.5"]
    prices += ["--set", f"models.{PRICED}.price_output_per_mtok=10"]
    with MockServerProcess(answer_key=QUESTIONS) as mock:
        done = reasonmed(
            "run", str(questions), "--config", str(MOCK_CONFIG), "--db", db,
            *mock_sets(mock), *prices,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = tmp / "report"
    made = reasonmed("eval", "report", "--run-id", RUN, "--db", db, "--out", str(out))
    assert made.returncode == 0, made.stderr
    assert made.stdout.split() == [str(out / "report.html"), str(out / "report.json")]
    yield {
        "db": db,
        "json": json.loads((out / "report.json").read_text()),
        "page": ReportPage((out / "report.html").read_text()),
    }


def _questions_by(db: str, column: str) -> dict[Any, int]:
    sql = f"SELECT {column}, count(*) FROM rm_questions WHERE run_id='{RUN}' GROUP BY {column}"
    return dict(query(db, sql))


def _shown(page: ReportPage, pointer: str) -> Any:
    return page.cells[pointer][0]


def test_question_and_example_counts_match_the_database(report_run) -> None:
    db, page = report_run["db"], report_run["page"]
    tiers = dict(
        query(db, f"SELECT tier, count(*) FROM rm_questions WHERE run_id='{RUN}' GROUP BY tier")
    )
    states = dict(
        query(db, f"SELECT status, count(*) FROM rm_questions WHERE run_id='{RUN}' GROUP BY status")
    )
    assert sum(states.values()) == 8 and set(states) <= {"done", "rejected"}
    for tier in ("easy", "medium", "difficult"):
        assert _shown(page, f"/questions/by_tier/{tier}") == tiers.get(tier, 0)
    for state in ("done", "rejected"):
        assert _shown(page, f"/questions/by_state/{state}") == states.get(state, 0)
    (examples,) = query(db, f"SELECT count(*) FROM rm_examples WHERE run_id='{RUN}'")[0]
    assert examples > 0 and _shown(page, "/examples/total") == examples


def _pass_rate_from_call_log(db: str, alias: str) -> tuple[int, int]:
    """(Correct, judged) for `alias`'s paths: the last verify reply per path, and the answer
    extracted from the generator's reply compared with the gold one."""
    gold = {
        qid: json.loads(q)
        for qid, q in query(
            db, f"SELECT question_id, question FROM rm_questions WHERE run_id='{RUN}'"
        )
    }
    rows = query(
        db,
        f"SELECT question_id, node, alias, sampling, reply, parsed FROM rm_llm_calls "
        f"WHERE run_id='{RUN}' AND node IN ('generate', 'verify') ORDER BY id",
    )
    generated: dict[tuple[str, int], tuple[str, str]] = {}
    verdicts: dict[tuple[str, int], str | None] = {}
    for qid, node, who, sampling, reply, parsed in rows:
        key = (qid, json.loads(sampling)["index"])
        if node == "generate":
            generated[key] = (who, reply)
        else:
            verdicts[key] = (json.loads(parsed) if parsed else {}).get("verdict")
    correct = judged = 0
    for key, (who, reply) in generated.items():
        if who != alias or key not in verdicts:
            continue
        question = gold[key[0]]
        answer = extract_answer(reply, question["options"]).letter
        judged += 1
        correct += verdicts[key] == "Correct" and answer == question["answer"]
    return correct, judged


def test_pass_rate_of_a_model_matches_the_call_log(report_run) -> None:
    correct, judged = _pass_rate_from_call_log(report_run["db"], "huatuo70b")
    page = report_run["page"]
    assert judged == 8 * 3  # one path per temperature per question
    assert _shown(page, "/pass_rates/by_model/huatuo70b/paths") == judged
    assert _shown(page, "/pass_rates/by_model/huatuo70b/correct") == correct
    assert _shown(page, "/pass_rates/by_model/huatuo70b/rate") == pytest.approx(correct / judged)
    shown = page.cells["/pass_rates/by_model/huatuo70b/rate"][1]
    assert shown == f"{correct / judged:.1%}"
    per_temp = [
        _shown(page, f"/pass_rates/by_model_temperature/huatuo70b/{t}/paths")
        for t in ("0.7", "0.9", "1")
    ]
    assert per_temp == [8, 8, 8]


def test_tokens_and_cost_match_the_call_log(report_run) -> None:
    db, page = report_run["db"], report_run["page"]
    tokens, cost, priced, calls = query(
        db,
        f"SELECT sum(prompt_tokens + completion_tokens), sum(cost), count(cost), count(*) "
        f"FROM rm_llm_calls WHERE run_id='{RUN}'",
    )[0]
    assert 0 < priced < calls  # one alias priced: a partial total, with the rest counted
    assert _shown(page, "/usage/total/tokens") == tokens
    assert _shown(page, "/usage/total/cost") == pytest.approx(cost)
    assert _shown(page, "/usage/total/unpriced_calls") == calls - priced
    examples = _shown(page, "/examples/total")
    assert _shown(page, "/usage/total/cost_per_example") == pytest.approx(cost / examples)
    by_tier = query(
        db,
        "SELECT q.tier, count(*) FROM rm_llm_calls c JOIN rm_questions q "
        "ON q.run_id = c.run_id AND q.question_id = c.question_id "
        f"WHERE c.run_id='{RUN}' GROUP BY q.tier",
    )
    assert sum(n for _, n in by_tier) == calls
    for tier, n in by_tier:
        assert _shown(page, f"/usage/by_tier/{tier}/calls") == n


def test_html_agrees_with_report_json_and_embeds_pngs(report_run) -> None:
    report, page, db = report_run["json"], report_run["page"], report_run["db"]
    for pointer, (value, _) in page.cells.items():
        assert resolve(report, pointer) == value, pointer
    config_hash, prompt_hashes = query(
        db, f"SELECT config_hash, prompt_hashes FROM rm_runs WHERE run_id='{RUN}'"
    )[0]
    assert report["schema"] == "reasonmed.report/1"
    assert report["run"]["config_hash"] == config_hash and config_hash in "".join(page.text)
    assert report["run"]["prompt_hashes"] == json.loads(prompt_hashes)
    images = page.png_images()
    assert len(images) >= 4 and all(image.startswith(PNG_MAGIC) for image in images)
    assert report["agreement"]["pairs"] == report["pass_rates"]["overall"]["paths"] == 72
    rewrites = report["rewrites"]
    assert rewrites["refinement"]["records"] + rewrites["regeneration"]["records"] > 0


def test_unknown_run_is_a_lookup_error(tmp_path: Path, report_run) -> None:
    args = Namespace(run_id="nope", db=report_run["db"], out=tmp_path / "r")
    with pytest.raises(LookupError, match="runs here: eight"):
        cmd_report(args, Console(stderr=True))  # the CLI's main turns this into exit code 2
    assert not (tmp_path / "r").exists()
