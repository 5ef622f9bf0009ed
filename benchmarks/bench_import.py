"""`reasonmed import` at the paper's size: read, check, deduplicate, decontaminate, write.

Run: `.venv/bin/python benchmarks/bench_import.py [--rows 182822] [--benchmark-rows 12000]
[--sizes 0.25,0.5,1] [--container parquet|jsonl]`.

Input (made up, deterministic, no download): MedMCQA-layout rows as the Hub publishes them
(`id`, `question`, `opa`..`opd`, `cop` 0-3, `choice_type`, `exp`, `subject_name`, `topic_name`)
from `bench_dedup`'s corpus, with its planted exact copies, reworded copies and benchmark copies;
and a MedQA-layout test split (`question`, `options`, `answer_idx`, `answer`) of the benchmark
rows. Each size runs the real CLI in a subprocess, as a user would:

    reasonmed import train.parquet --out q.jsonl --decontaminate-against test.jsonl --json

and prints rows/s and the subprocess's peak RSS (ru_maxrss of the child). The target on this
2-core machine: the whole paper-sized set in under 2 minutes and under 1 GB; the sizes show how
memory grows with rows (at most linearly).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_dedup import Corpus, benchmark_rows, training_rows

from reasonmed.core.question import Question

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 20_000  # rows per Parquet row group and per write


def medmcqa_row(question: Question, index: int) -> dict[str, Any]:
    """A made-up question as a MedMCQA Hub row (cop counted from 0)."""
    options = list(question.options.values())
    return {
        "id": f"bench-{index:06d}",
        "question": question.question,
        "opa": options[0],
        "opb": options[1],
        "opc": options[2],
        "opd": options[3],
        "cop": "ABCD".index(question.answer),
        "choice_type": "single",
        "exp": f"Explanation {index}: " + question.options[question.answer],
        "subject_name": "Medicine",
        "topic_name": None,
    }


def medqa_row(question: Question) -> dict[str, Any]:
    return {
        "question": question.question,
        "options": question.options,
        "answer_idx": question.answer,
        "answer": question.options[question.answer],
        "meta_info": "step1",
    }


def write_inputs(tmp: Path, rows: int, bench_rows: int, container: str) -> tuple[Path, Path]:
    """The training file (MedMCQA layout) and the test split (MedQA layout, JSONL)."""
    corpus = Corpus(seed=11)
    bench = benchmark_rows(corpus, bench_rows)
    test = tmp / "test.jsonl"
    with test.open("w", encoding="utf-8") as stream:
        for question in bench:
            stream.write(json.dumps(medqa_row(question)) + "\n")
    train = tmp / f"train.{container}"
    generated = (medmcqa_row(q, i) for i, (q, _) in enumerate(training_rows(corpus, rows, bench)))
    if container == "jsonl":
        with train.open("w", encoding="utf-8") as stream:
            for row in generated:
                stream.write(json.dumps(row) + "\n")
        return train, test
    writer = None
    chunk: list[dict[str, Any]] = []
    for row in generated:
        chunk.append(row)
        if len(chunk) == CHUNK:
            writer = _write_chunk(writer, train, chunk)
            chunk = []
    writer = _write_chunk(writer, train, chunk)
    writer.close()
    return train, test


def _write_chunk(
    writer: pq.ParquetWriter | None, path: Path, chunk: list[dict[str, Any]]
) -> pq.ParquetWriter:
    if not chunk:
        assert writer is not None
        return writer
    table = pa.Table.from_pylist(chunk)
    writer = writer or pq.ParquetWriter(path, table.schema)
    writer.write_table(table)
    return writer


def run_import(train: Path, test: Path, out: Path) -> tuple[float, float, dict[str, Any]]:
    """Seconds, the child's peak RSS in MB, and its JSON summary."""
    command = [sys.executable, "-m", "reasonmed.cli.main", "import", str(train), "--out", str(out),
               "--decontaminate-against", str(test), "--json"]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if done.returncode != 0:
        raise SystemExit(f"import failed ({done.returncode}):\n{done.stderr}")
    if peak <= before:  # ru_maxrss of children is the largest so far: a smaller run hides
        print("  (peak RSS not above an earlier, larger run's: run sizes in increasing order)")
    return seconds, peak / 1024, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=182_822, help="MedMCQA's train size")
    parser.add_argument("--benchmark-rows", type=int, default=12_000)
    parser.add_argument("--sizes", default="0.25,0.5,1", help="fractions of --rows, increasing")
    parser.add_argument("--container", choices=("parquet", "jsonl"), default="parquet")
    args = parser.parse_args()
    fractions = [float(x) for x in args.sizes.split(",")]
    print(f"import + dedup + decontamination, {args.container} input, machine: {os.cpu_count()} "
          f"cores; benchmark split {args.benchmark_rows} rows (MedQA layout)")  # fmt: skip
    print(f"{'rows':>8} {'seconds':>8} {'rows/s':>8} {'peak MB':>8} {'MB/1k rows':>10}  dropped")
    with tempfile.TemporaryDirectory(prefix="bench-import-") as name:
        tmp = Path(name)
        for fraction in fractions:
            rows = int(args.rows * fraction)
            train, test = write_inputs(tmp, rows, args.benchmark_rows, args.container)
            seconds, peak, summary = run_import(train, test, tmp / "questions.jsonl")
            total = rows + args.benchmark_rows
            print(f"{rows:>8} {seconds:>8.1f} {total / seconds:>8.0f} {peak:>8.0f} "
                  f"{1000 * peak / total:>10.2f}  {summary['dropped']}")  # fmt: skip
    print("target: the full size in < 120 s and < 1024 MB peak")


if __name__ == "__main__":
    main()
