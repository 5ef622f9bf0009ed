"""The sections of the HTML run report, each a function of the computed report and its plots.

Numbers come from `report_numbers` through `cell`, so each one is tagged with its place in
report.json; prose explains how each number was derived, next to it.
"""

from __future__ import annotations

from html import escape
from typing import Any

from reasonmed.evals.report_html import cell, grid, header, image, reason_table

STATES = ("done", "rejected", "failed", "unfinished")
PASS_COLUMNS = ("paths", "correct", "rate", "verdict_correct", "answer_ok", "unparsed_verdicts")
USAGE_COLUMNS = (
    "questions",
    "examples",
    "calls",
    "prompt_tokens",
    "completion_tokens",
    "tokens",
    "tokens_per_example",
    "cost",
    "cost_per_example",
    "unpriced_calls",
)
LENGTH_COLUMNS = ("count", "min", "p25", "p50", "mean", "p75", "p90", "max")
LENGTH_LABELS = {
    "cot_chars": "CoT characters",
    "cot_words": "CoT words",
    "summary_chars": "summary characters",
    "summary_words": "summary words",
}
REWRITE_COLUMNS = (
    "records",
    "passed",
    "failed",
    "in_progress",
    "success_rate",
    "rounds",
    "pass_per_round",
    "rounds_per_pass",
)


def run_section(report: dict[str, Any]) -> str:
    """What the numbers are of: the run, its config hash and prompt hashes."""
    run = report["run"]
    hashes = "".join(
        f"<tr><th>{escape(agent)}</th><td><code>{escape(digest)}</code></td></tr>"
        for agent, digest in run["prompt_hashes"].items()
    )
    return (
        f"<h1>ReasonMed run report: {escape(run['run_id'])}</h1>"
        f"<p>Run status <b>{escape(run['status'])}</b>; created {escape(run['created_at'])}, "
        f"updated {escape(run['updated_at'])}; report generated {escape(report['generated_at'])}."
        f"</p><table><tr><th>config hash</th><td><code>{escape(run['config_hash'])}</code></td>"
        f"</tr>{hashes}</table>"
    )


def questions_section(report: dict[str, Any], plots: dict[str, str]) -> str:
    """Questions by tier and final state, and the examples they produced."""
    questions = report["questions"]
    tiers = list(questions["by_tier_and_state"])
    rows = [header("tier", *STATES, "total")]
    for tier in tiers:
        cells = "".join(cell(report, "questions", "by_tier_and_state", tier, s) for s in STATES)
        total = cell(report, "questions", "by_tier", tier)
        rows.append(f"<tr><th>{escape(tier)}</th>{cells}{total}</tr>")
    totals = "".join(cell(report, "questions", "by_state", s) for s in STATES)
    rows.append(f"<tr><th>all</th>{totals}{cell(report, 'questions', 'total')}</tr>")
    ex_rows = [header("", "examples")]
    ex_rows.append(f"<tr><th>all</th>{cell(report, 'examples', 'total')}</tr>")
    for group in ("by_tier", "by_origin"):
        for name in report["examples"][group]:
            label = f"{group[3:]} {name}"
            ex_rows.append(
                f"<tr><th>{escape(label)}</th>{cell(report, 'examples', group, name)}</tr>"
            )
    return (
        "<h2>Questions and examples</h2><p>Final state of every question, by tier (a question "
        "that failed or is unfinished is counted in the tier it was classified in, if any).</p>"
        f"<table>{''.join(rows)}</table>{image(plots, 'tiers', 'questions per tier')}"
        f"<table>{''.join(ex_rows)}</table>"
    )


def pass_rate_section(report: dict[str, Any], plots: dict[str, str]) -> str:
    """Which generator models and temperatures write CoTs that pass."""
    rates = report["pass_rates"]
    by_model_temp = [
        header("model", "temperature", *PASS_COLUMNS),
        *(
            f"<tr><th>{escape(m)}</th><th>{escape(t)}</th>"
            + "".join(
                cell(report, "pass_rates", "by_model_temperature", m, t, c) for c in PASS_COLUMNS
            )
            + "</tr>"
            for m, row in rates["by_model_temperature"].items()
            for t in row
        ),
    ]
    return (
        "<h2>Generator pass rates</h2><p>Share of generated paths that count as Correct (the "
        "verifier said Correct and, with the answer check on, the extracted answer is the gold "
        "one), over every judged path in the latest checkpoint of each question's thread.</p>"
        + grid(report, ["pass_rates"], ["overall"], PASS_COLUMNS)
        + "<h3>By model</h3>"
        + grid(report, ["pass_rates", "by_model"], list(rates["by_model"]), PASS_COLUMNS)
        + "<h3>By temperature</h3>"
        + grid(
            report, ["pass_rates", "by_temperature"], list(rates["by_temperature"]), PASS_COLUMNS
        )
        + image(plots, "pass_rates", "pass rate by model and temperature")
        + f"<h3>By model and temperature</h3><table>{''.join(by_model_temp)}</table>"
    )


def agreement_section(report: dict[str, Any]) -> str:
    """How often the LLM verifier and the rule-based answer check agree."""
    base = ("agreement", "table")
    rows = [header("verifier verdict", "answer matches gold", "answer does not match")]
    for verdict in ("Correct", "Error"):
        rows.append(
            f"<tr><th>{verdict}</th>{cell(report, *base, verdict, 'match')}"
            f"{cell(report, *base, verdict, 'mismatch')}</tr>"
        )
    stats = grid(
        report,
        [],
        ["agreement"],
        ["pairs", "agreement", "kappa", "unparsed_verdicts", "answer_check_off"],
    )
    return (
        "<h2>LLM verifier vs deterministic answer check</h2><p>Each judged path's verdict "
        "against whether its extracted final answer is the gold one; Cohen's kappa over the "
        "paths that have both (unparsed verdicts and paths judged with the check off are left "
        f"out and counted).</p><table>{''.join(rows)}</table>{stats}"
    )


def rewrite_section(report: dict[str, Any]) -> str:
    """Whether refining and regenerating CoTs pays off, and why they fail."""
    rewrites = report["rewrites"]
    rows = [header("", "re-verified Correct", "Error", "unparsed")]
    for name in rewrites:
        cells = "".join(
            cell(report, "rewrites", name, "reverify_verdicts", v)
            for v in ("Correct", "Error", "unparsed")
        )
        rows.append(f"<tr><th>{escape(name)}</th>{cells}</tr>")
    notes = "".join(
        f"<h3>Why {escape(name)} failed</h3>"
        + reason_table(report, ("rewrites", name, "failure_notes"), "note")
        for name in rewrites
    )
    return (
        "<h2>Refinement and regeneration</h2><p>Kept CoTs sent to the refiner (medium tier) or "
        "the regenerator (difficult tier). Passed: the rewrite passed re-verification; failed: "
        "every round failed, so a refined CoT fell back to its original verified text and a "
        "regenerated one left its question rejected. Success rate is over the "
        "finished ones; a round is one rewrite and its re-verification.</p>"
        + grid(report, ["rewrites"], list(rewrites), REWRITE_COLUMNS)
        + f"<p>The verifier's replies at re-verification:</p><table>{''.join(rows)}</table>"
        + notes
    )


def rejection_section(report: dict[str, Any]) -> str:
    """Why questions yielded no examples, grouped."""
    return (
        "<h2>Rejections and failures</h2><p>Rejected questions grouped by the leading phrase of "
        "their recorded reason (numbers shown as N); failed questions by their error kind.</p>"
        + reason_table(report, ("rejections",), "rejection reason")
        + reason_table(report, ("failures",), "failure kind")
    )


def usage_section(report: dict[str, Any], plots: dict[str, str]) -> str:
    """What the data cost, per tier and per example."""
    tiers = list(report["usage"]["by_tier"])
    return (
        "<h2>Tokens and cost</h2><p>Every logged call of the run, by the tier of its question; "
        "per example is over the exported examples of that tier. Cost is at the prices the run "
        "had when each call was made; unpriced calls are left out of it.</p>"
        + grid(report, ["usage"], ["total"], USAGE_COLUMNS)
        + grid(report, ["usage", "by_tier"], tiers, USAGE_COLUMNS)
        + image(plots, "tokens", "tokens per example by tier")
    )


def length_section(report: dict[str, Any], plots: dict[str, str]) -> str:
    """How long the exported CoTs and summaries are."""
    lengths = report["lengths"]
    rows = [header("", *LENGTH_COLUMNS)]
    for name, label in LENGTH_LABELS.items():
        cells = "".join(cell(report, "lengths", name, c) for c in LENGTH_COLUMNS)
        rows.append(f"<tr><th>{escape(label)}</th>{cells}</tr>")
    origins = grid(
        report, ["lengths", "by_origin"], list(lengths["by_origin"]), ["examples", "cot_words_mean"]
    )
    return (
        "<h2>Example lengths</h2><p>Over the exported examples; words are whitespace-separated "
        f"tokens.</p><table>{''.join(rows)}</table>{origins}"
        + image(plots, "cot_words", "CoT length histogram")
        + image(plots, "summary_words", "summary length histogram")
    )
