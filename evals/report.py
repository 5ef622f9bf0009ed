"""`reasonmed eval report`: one run's numbers as report.json and a self-contained report.html.

Three layers, so each can be checked alone: `report_data` reads the rows (the only database
access), `report_numbers` computes every number as a pure function of them, and
`report_sections` / `report_plots` render those numbers without computing any. The JSON and the
HTML are written from the same dict, so they cannot disagree.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reasonmed.evals import report_sections as sections
from reasonmed.evals.report_data import load_inputs
from reasonmed.evals.report_html import page
from reasonmed.evals.report_numbers import compute_report
from reasonmed.evals.report_plots import all_plots
from reasonmed.storage.db import Database

HTML_NAME, JSON_NAME = "report.html", "report.json"


def build_report(db: Database, run_id: str) -> dict[str, Any]:
    """Every number of the run's report, JSON-ready (LookupError for an unknown run)."""
    report = compute_report(load_inputs(db, run_id))
    return {**report, "generated_at": datetime.now(UTC).isoformat(timespec="seconds")}


def render_html(report: dict[str, Any]) -> str:
    """The report as one HTML document, plots embedded as PNG data URIs."""
    plots = all_plots(report)
    return page(
        f"ReasonMed report: {report['run']['run_id']}",
        [
            sections.run_section(report),
            sections.questions_section(report, plots),
            sections.pass_rate_section(report, plots),
            sections.agreement_section(report),
            sections.rewrite_section(report),
            sections.rejection_section(report),
            sections.usage_section(report, plots),
            sections.length_section(report, plots),
        ],
    )


def _write_atomic(path: Path, text: str) -> None:
    """Write aside, then rename: a reader never sees half a report (mode as umask allows)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_report(report: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """report.html and report.json in `out_dir` (created if needed); their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path, json_path = out_dir / HTML_NAME, out_dir / JSON_NAME
    _write_atomic(json_path, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    _write_atomic(html_path, render_html(report))
    return html_path, json_path


def make_report(db: Database, run_id: str, out_dir: Path) -> tuple[dict[str, Any], Path, Path]:
    """Build the run's report and write both files: (report, html path, json path)."""
    report = build_report(db, run_id)
    html_path, json_path = write_report(report, out_dir)
    return report, html_path, json_path
