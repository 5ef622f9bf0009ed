"""Export benchmark: examples/s and peak memory of every export format on a large made-up run.

Run: `.venv/bin/python benchmarks/bench_export.py [--examples 370000] [--db PATH] [--hf]`

The run is written straight into a SQLite file (questions and examples rows, no pipeline, no
model calls) the size of the ReasonMed release, 370,000 examples by default: about 195,000
questions over four sources, 60/30/10% easy/medium/difficult (two examples per easy or medium
question, one per difficult), CoTs of about 1,800 characters, summaries of about 300, a
question of about 400 and a PubMedQA-style context on a quarter of them. The file is kept
(`--db`, default in the temp directory) and reused by later runs of the same size.

Each configuration then exports the whole run to JSONL in this one process, baseline first: the
original alpaca export (`exports.jsonl_export.export_examples`), then every `--format` through
`export_dataset` (plus splits, and with `--hf` the Hugging Face directory). Peak RSS is the
process's high-water mark (VmHWM), reset before each run by writing 5 to /proc/self/clear_refs,
so each row shows its own peak; ratios are against the baseline row (speed: per CPU second).
On a shared machine wall-clock rates move with the load average (printed), so examples per CPU
second of this process are shown too, and `--repeats N` keeps the best of N.
"""

from __future__ import annotations

import argparse
import gc
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sqlalchemy import func, insert, select

from reasonmed.exports.dataset_export import ExportRequest, export_dataset
from reasonmed.exports.jsonl_export import export_examples
from reasonmed.exports.record_formats import FORMATS, RecordStyle
from reasonmed.exports.splits import SplitSpec
from reasonmed.storage.db import Database
from reasonmed.storage.runs import RunStore
from reasonmed.storage.schema import examples as E
from reasonmed.storage.schema import questions as Q

RUN = "bench"
SOURCES = ("medqa", "medmcqa", "pubmedqa", "mmlu")
MODELS = ("qwen72b", "huatuo70b", "r1distill70b")
TEMPERATURES = (0.7, 0.9, 1.0)
WORDS = (
    "patient presents with fever tachycardia hypotension lactate sepsis cultures antibiotics "
    "fluids option excluded because the mechanism involves renal tubular acidosis anion gap "
    "therefore the most likely diagnosis is consistent with findings on examination of the "
    "abdomen chest radiograph shows bilateral infiltrates serum sodium low urine osmolality"
).split()
BATCH = 5000


def _texts(rng: random.Random, count: int, words: int) -> list[str]:
    return [" ".join(rng.choice(WORDS) for _ in range(words)) for _ in range(count)]


def _rows(n_examples: int) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(question row, its example rows) until n_examples examples exist."""
    rng = random.Random(0)
    cots, summaries = _texts(rng, 300, 260), _texts(rng, 100, 45)
    stems, contexts = _texts(rng, 300, 60), _texts(rng, 50, 180)
    written, position = 0, 0
    while written < n_examples:
        qid = f"q-{position:09d}"
        tier = rng.choices(("easy", "medium", "difficult"), (6, 3, 1))[0]
        slots = min(1 if tier == "difficult" else 2, n_examples - written)
        options = {letter: f"option {letter} {rng.choice(WORDS)}" for letter in "ABCDE"}
        question = {
            "id": qid,
            "question": stems[position % 300],
            "options": options,
            "answer": rng.choice("ABCDE"),
            "context": contexts[position % 50] if position % 4 == 0 else "",
            "source": SOURCES[position % 4],
            "source_id": str(100000 + position),
            "subject": "medicine",
            "metadata": {},
        }
        instruction = (
            question["question"] + "\n\n" + "\n".join(f"{k}. {v}" for k, v in options.items())
        )
        origin = {"easy": "generated", "medium": "refined", "difficult": "regenerated"}[tier]
        examples = [
            {
                "run_id": RUN, "question_id": qid, "slot": slot, "tier": tier, "origin": origin,
                "cot": f"{qid} {cots[(position + slot) % 300]}",
                "summary": summaries[(position * 3 + slot) % 100],
                "instruction": instruction, "input": question["context"],
                "provenance": {
                    "model": MODELS[(position + slot) % 3],
                    "temperature": TEMPERATURES[position % 3], "source_index": slot * 4,
                    "origin": origin, "verdict": "Correct", "reason": "sound",
                    "score": rng.randint(3, 5), "note": "",
                },
                "created_at": "2025-01-01T00:00:00+00:00",
            }
            for slot in range(slots)
        ]  # fmt: skip
        row = {
            "run_id": RUN, "question_id": qid, "position": position, "thread_id": f"{RUN}:{qid}",
            "question": question, "fingerprint": qid, "status": "done", "tier": tier,
            "errors": {"easy": 2, "medium": 6, "difficult": 9}[tier], "reason": "",
            "examples": slots, "attempts": 1, "updated_at": "2025-01-01T00:00:00+00:00",
        }  # fmt: skip
        yield row, examples
        written += slots
        position += 1


def build(db: Database, n_examples: int) -> None:
    """Write the made-up run (reused when the file already holds one of this size)."""
    with db.connect(write=False) as conn:
        have = conn.execute(select(func.count()).select_from(E)).scalar_one()
    if have == n_examples:
        return
    if have:
        raise SystemExit(f"{db.engines.url} holds another run; remove it or pass another --db")
    started = time.perf_counter()
    RunStore(db).create_run(RUN, "made-up", {"agents": {}}, "bench", {})
    questions: list[dict[str, Any]] = []
    examples: list[dict[str, Any]] = []
    for question, kept in _rows(n_examples):
        questions.append(question)
        examples += kept
        if len(examples) >= BATCH:
            _flush(db, questions, examples)
    _flush(db, questions, examples)
    print(f"built {n_examples} examples in {time.perf_counter() - started:.0f} s", flush=True)


def _flush(db: Database, questions: list[dict[str, Any]], examples: list[dict[str, Any]]) -> None:
    with db.connect(write=True) as conn:
        if questions:
            conn.execute(insert(Q), questions)
        if examples:
            conn.execute(insert(E), examples)
    questions.clear()
    examples.clear()


def peak_mb() -> float:
    """The process's resident high-water mark since the last reset, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> None:
    """Start a new high-water mark at the current RSS (Linux: clear_refs 5)."""
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")


def measure(name: str, run: Callable[[], int], repeats: int) -> dict[str, Any]:
    """Run one export `repeats` times; its best examples/s (wall clock and per CPU second of
    this process, which a busy machine disturbs less) and its highest peak RSS."""
    best = {"rate": 0.0, "cpu_rate": 0.0, "peak": 0.0}
    for _ in range(repeats):
        reset_peak()
        wall, cpu = time.perf_counter(), time.process_time()
        count = run()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        for key, value in (("rate", count / wall), ("cpu_rate", count / cpu), ("peak", peak_mb())):
            best[key] = max(best[key], value)
    return {"name": name, "examples": count, **best}


def configurations(db: Database, out: Path, hf: bool) -> list[tuple[str, Callable[[], int]]]:
    """Baseline first, then every format, splits, and optionally the HF directory."""

    def new(**kw: Any) -> Callable[[], int]:
        def go() -> int:
            summary = export_dataset(db, ExportRequest(run_id=RUN, **kw))
            return sum(summary.examples.values())

        return go

    def baseline() -> int:
        return export_examples(db, RUN, "reasonmed", out / "baseline.jsonl")

    messages = RecordStyle(format="messages")
    splits = (SplitSpec("validation", 0.02), SplitSpec("test", 0.01))
    runs: list[tuple[str, Callable[[], int]]] = [("alpaca (export_examples, baseline)", baseline)]
    for fmt in FORMATS:
        runs.append(
            (f"--format {fmt}", new(style=RecordStyle(format=fmt), out=out / f"{fmt}.jsonl"))
        )
    runs.append(("--format messages --split x2", new(style=messages, out=out / "s", splits=splits)))
    if hf:
        runs.append(
            ("--format messages --hf", new(style=messages, hf_dir=out / "hf", splits=splits))
        )
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=370_000)
    parser.add_argument("--db", type=Path, help="the run's SQLite file (built if missing)")
    parser.add_argument("--hf", action="store_true", help="also time --hf (needs the hf extra)")
    parser.add_argument("--repeats", type=int, default=1, help="best rate of N runs each")
    args = parser.parse_args()
    path = args.db or Path(tempfile.gettempdir()) / f"reasonmed-bench-export-{args.examples}.db"
    db = Database.from_url(f"sqlite:///{path}")
    out = Path(tempfile.mkdtemp(prefix="reasonmed-bench-export-"))
    load = Path("/proc/loadavg").read_text().split()[0]
    try:
        build(db, args.examples)
        runs = configurations(db, out, args.hf)
        results = [measure(name, run, args.repeats) for name, run in runs]
    finally:
        db.close()
        shutil.rmtree(out, ignore_errors=True)
    base = results[0]
    print(f"load average {load} at start, {Path('/proc/loadavg').read_text().split()[0]} at end")
    head = ("configuration", "examples", "ex/s", "ex/CPU-s", "peak MB", "speed x", "peak x")
    print(f"{head[0]:34} {head[1]:>9} {head[2]:>8} {head[3]:>9} {head[4]:>8} {head[5]:>8} "
          f"{head[6]:>7}")  # fmt: skip
    for r in results:
        speed, peak = r["cpu_rate"] / base["cpu_rate"], r["peak"] / base["peak"]
        print(
            f"{r['name']:34} {r['examples']:>9} {r['rate']:>8.0f} {r['cpu_rate']:>9.0f} "
            f"{r['peak']:>8.0f} {speed:>8.2f} {peak:>7.2f}"
        )


if __name__ == "__main__":
    main()
