"""Write a run's real model replies as parsing-corpus rows (tests/fixtures/real_replies/).

Run once after a real-model run, then read each reply and fill in its `expected` field by hand:
    python -m tests.real_model.collect_replies QUESTIONS --db URL --run-id ID --out FILE
The real-model tests call `collect` themselves when REASONMED_REAL_REPLIES_OUT names a folder.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from reasonmed.sources.question_files import load_questions
from tests.support.cli import reasonmed
from tests.support.pipeline import query


def _prompt_summary(call: dict[str, Any]) -> str:
    temperature = call["temperature"]
    sampled = "" if temperature is None else f" T={temperature:g}"
    chars = sum(len(m["content"]) for m in call["prompt"])
    return f"{call['node']} attempt {call['attempt']} via {call['alias']}{sampled}, {chars} chars"


def collect(db_url: str, run_id: str, questions: Path) -> list[dict[str, Any]]:
    """One row per reply the model gave in the run (no cache hits, no transport errors).

    `discarded` marks a reply the pipeline threw away unread ("length": cut at max_tokens,
    "empty") and asked again for.
    """
    logged = {
        call_id: (finish, json.loads(extra) if isinstance(extra, str) else extra or {})
        for call_id, finish, extra in query(
            db_url, f"SELECT id, finish_reason, extra FROM rm_llm_calls WHERE run_id = '{run_id}'"
        )
    }
    rows: list[dict[str, Any]] = []
    for question in load_questions(questions):
        done = reasonmed(
            "trace", "--run-id", run_id, "--question", question.id, "--db", db_url, "--json"
        )
        if done.returncode != 0:
            raise RuntimeError(done.stderr)
        trace = json.loads(done.stdout)
        steps = [*trace["steps"], *(s for b in trace["branches"] for s in b["steps"])]
        for call in (c for step in steps for c in step["calls"]):
            if call["cache_hit"] or call["error"] is not None:
                continue
            finish, extra = logged[call["id"]]
            rows.append(
                {
                    "agent": call["agent"],
                    "question_id": question.id,
                    "options": question.options,
                    "gold": question.answer,
                    "prompt_summary": _prompt_summary(call),
                    "finish_reason": finish,
                    "discarded": extra.get("discarded"),
                    "reply": call["reply"],
                    "stored_parse": call["parsed"],
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("--db", required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rows = collect(args.db, args.run_id, args.questions)
    with args.out.open("a", encoding="utf-8") as out:
        out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


if __name__ == "__main__":
    main()
