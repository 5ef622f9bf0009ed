"""The quick-start demo: the whole pipeline on the bundled sample questions, on embedded SQLite.

Starts the project's deterministic mock endpoint on 127.0.0.1:8765 (the address in
examples/config.mock.yaml), then runs the real CLI exactly as a user would:

    reasonmed run examples/questions.jsonl --config examples/config.mock.yaml --db sqlite:///out/demo.db
    reasonmed status --run-id questions --db sqlite:///out/demo.db
    reasonmed export --run-id questions --variant reasonmed|cotmed|responsemed --out out/...
    reasonmed eval report --run-id questions --db sqlite:///out/demo.db --out out/report

Running it again continues the same run: finished questions are skipped and no model is called.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from reasonmed.mockserver.process import MockServerProcess

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "out"
DB = f"sqlite:///{OUT / 'demo.db'}"
REPORT = OUT / "report"
QUESTIONS = ROOT / "examples" / "questions.jsonl"
CONFIG = ROOT / "examples" / "config.mock.yaml"


def reasonmed(*args: str) -> int:
    """Run one `reasonmed` command in a subprocess, echoing it first."""
    print(f"\n$ reasonmed {' '.join(args)}", flush=True)
    return subprocess.call([sys.executable, "-m", "reasonmed.cli.main", *args], cwd=ROOT)


def main() -> int:
    OUT.mkdir(exist_ok=True)
    with MockServerProcess(answer_key=QUESTIONS, extra_args=["--port", "8765"]) as mock:
        print(f"mock endpoint at {mock.base_url}", flush=True)
        code = reasonmed("run", str(QUESTIONS), "--config", str(CONFIG), "--db", DB)
        if code != 0:
            return code
        reasonmed("status", "--run-id", "questions", "--db", DB)
        for variant in ("reasonmed", "cotmed", "responsemed"):
            out = OUT / f"train.{variant}.jsonl"
            if (
                reasonmed(
                    "export",
                    "--run-id",
                    "questions",
                    "--variant",
                    variant,
                    "--out",
                    str(out),
                    "--db",
                    DB,
                )
                != 0
            ):
                return 1
        if reasonmed("eval", "report", "--run-id", "questions", "--db", DB, "--out", str(REPORT)):
            return 1
        calls = mock.stats()["requests"]
    print(f"\nmodel requests served by the mock endpoint in this demo: {calls}")
    print(f"training data in {OUT}/train.*.jsonl, the run's report in {REPORT}/report.html")
    print("run `make demo` again: nothing is recomputed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
