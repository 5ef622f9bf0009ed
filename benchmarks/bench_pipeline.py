"""Whole-pipeline benchmark against the mock endpoint: checkpoint overhead, utilization, scale.

Run: `.venv/bin/python benchmarks/bench_pipeline.py [--quick] [--only overhead,utilization,scale]`
(PostgreSQL from REASONMED_TEST_POSTGRES_URL, default
postgresql+psycopg://postgres@127.0.0.1:5432/test; each PostgreSQL run gets a fresh schema, dropped
afterwards; `--no-postgres` skips it). A summary table of every figure is printed at the end.

The mock endpoint always runs in its own process (`MockServerProcess`), so requests cross a real
socket and the server's CPU is not charged to the client. Questions are the 41 of
examples/questions.jsonl repeated with unique ids (`bench-000123`), so the mock plays the same
scenario mix (easy, medium, difficult, rejected) and no request is ever a cache hit.

overhead     zero latency, questions/s of the whole pipeline: `run_pipeline` (SQLAlchemySaver +
             call log + run bookkeeping) on SQLite and on PostgreSQL, against `build_graph(None)`
             driven the same way (same worker pool, context, call log and bookkeeping on the same
             database, only no checkpointer), and against `build_graph(None)` with an in-memory
             call log (no database at all). All in this process, interleaved, median of the
             repeats. Both wall-clock q/s and client CPU per question are reported: on a shared
             machine the CPU figure is the steadier one.
utilization  200 ms latency (0.5x-1.5x jitter), the real CLI with `--concurrency 64`, one mock
             process per model alias, so each alias's /stats integral of requests in flight gives
             its mean in-flight exactly. The steady window starts when `concurrency` questions
             have finished (the first, synchronized wave is over) and ends when the last question
             has started (no `pending` row left; after that fewer than `concurrency` questions
             are in flight). "Allowed" is what the caps and the question concurrency permit:
             X_max = min(min over aliases of cap / (requests per question x latency), Q / T1),
             T1 the mean time of one question when nothing is contended (a calibration run at
             `--calibrate-concurrency`, first request sent to last reply, from the call log),
             and allowed in-flight = X_max x requests per question x latency (Little's law), per
             alias and summed. The sum of the caps is not a fair denominator: one question's
             calls reach the aliases in sequence, mostly qwen72b.
scale        zero latency, the real CLI over one big synthetic file (the config's concurrency);
             the run process's VmRSS and VmHWM (from /proc/PID/status) when 1k / 5k / 10k
             questions have finished.
client       (only with `--only client`) the same request through aiohttp, httpx, the openai SDK
             and ChatOpenAI from `ModelRegistry`: CPU milliseconds per request of each layer.

`--profile CONFIG` adds a cProfile of one overhead configuration (own time by package, top
functions); `--tracemalloc N1,N2` runs `run_pipeline` under tracemalloc and prints what grew between
N1 and N2 finished questions.

Sizes: `--quick` (12 / 180 / 150 questions) takes a few minutes. The full sizes (100 x 3
repeats / 600 / 10,000) took 4 minutes for overhead, 2 for utilization and about 45 for the
10,000-question scale run on this 2-core machine: one run process is CPU-bound at about 9-14 q/s.
`--model-client sdk` measures ChatOpenAI instead of the lean `client: http`; `--workers N`
runs the CLI sections with `run --workers N` (with `--util-db postgres`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pipeline_bench.bench_support import MODEL_CLIENT, WORKERS
from pipeline_bench.client_section import section_client
from pipeline_bench.overhead_section import OVERHEAD_CONFIGS, section_overhead
from pipeline_bench.profile_section import section_profile, section_tracemalloc
from pipeline_bench.scale_section import section_scale
from pipeline_bench.utilization_section import section_utilization

SECTIONS: dict[str, Callable[[argparse.Namespace, Path], list[tuple[str, str, str]]]] = {
    "overhead": section_overhead,
    "utilization": section_utilization,
    "scale": section_scale,
    "client": section_client,  # not run by default: a breakdown for the findings
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--only",
        default="overhead,utilization,scale",
        help="comma-separated sections (also: client)",
    )
    p.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    p.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL configurations")
    p.add_argument("--overhead-questions", type=int)
    p.add_argument("--overhead-repeats", type=int)
    p.add_argument("--overhead-concurrency", type=int, default=16, help="the config's default")
    p.add_argument("--util-questions", type=int)
    p.add_argument("--util-db", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--latency-ms", type=float, default=200.0)
    p.add_argument("--concurrency", type=int, default=64, help="utilization: questions in flight")
    p.add_argument("--calibrate", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--calibrate-questions", type=int)
    p.add_argument("--calibrate-concurrency", type=int, default=4)
    p.add_argument("--scale-sizes", help="questions at which RSS is read; the largest is run")
    p.add_argument("--scale-db", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--scale-concurrency", type=int, help="default: the config's (16)")
    p.add_argument("--scale-log-every", type=int, default=500, help="log RSS every N questions")
    p.add_argument(
        "--scale-restarts", type=int, default=3, help="continue a run killed from outside"
    )
    p.add_argument("--client-requests", type=int, default=400, help="client: per stack")
    p.add_argument("--profile", choices=OVERHEAD_CONFIGS, help="also cProfile one configuration")
    p.add_argument("--profile-top", type=int, default=30)
    p.add_argument(
        "--tracemalloc",
        metavar="N1,N2,...",
        help="also run in-process under tracemalloc and diff snapshots at these counts",
    )
    p.add_argument("--tracemalloc-frames", type=int, default=4)
    p.add_argument(
        "--model-client",
        choices=("http", "sdk"),
        default="http",
        help="every alias's `client` (http: the lean client; sdk: ChatOpenAI)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="utilization and scale: `run --workers N` (needs --util-db/--scale-db postgres)",
    )
    args = p.parse_args(argv)
    MODEL_CLIENT[0] = args.model_client
    WORKERS[0] = args.workers
    quick = args.quick
    defaults = {
        "overhead_questions": 12 if quick else 100,
        "overhead_repeats": 1 if quick else 3,
        "util_questions": 180 if quick else 600,
        "calibrate_questions": 8 if quick else 24,
        "scale_sizes": "50,100,150" if quick else "1000,5000,10000",
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        print(f"unknown section(s) {unknown}; choose from {list(SECTIONS)}", file=sys.stderr)
        return 2
    rows: list[tuple[str, str, str]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        for section in sections:
            t0 = time.perf_counter()
            rows += SECTIONS[section](args, Path(tmp))
            rows.append((f"{section}: section wall time", f"{time.perf_counter() - t0:.0f} s", ""))
        if args.profile:
            rows += section_profile(args, Path(tmp))
        if args.tracemalloc:
            rows += section_tracemalloc(args, Path(tmp))
    took = time.perf_counter() - started
    print(
        f"\n== summary ({'quick' if args.quick else 'full'}, "
        f"client: {args.model_client}, {took:.0f} s)"
    )
    width = max(len(r[0]) for r in rows)
    for name, value, target in rows:
        print(f"{name:{width}s}  {value:>28s}  {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
