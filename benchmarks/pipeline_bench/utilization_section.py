"""utilization: mean requests in flight per alias against what the caps allow, at 200 ms latency.

The real CLI with `--concurrency 64`, one mock process per model alias; each alias's /stats
integral of requests in flight over the steady window, against X_max (see bench_pipeline.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline_bench.bench_support import (
    FINISHED,
    QUESTIONS,
    Db,
    aliases,
    cli_run,
    finish_cli,
    point_at,
    server_cpu,
    synthetic_questions,
    target_verdict,
    tree_cpu,
)
from reasonmed.mockserver.process import MockServerProcess


@dataclass
class Poll:
    t: float
    stats: dict[str, dict[str, Any]]  # alias -> its server's /stats
    status: dict[str, int]  # questions by status
    cpu: float = 0.0  # CPU seconds of the run process so far
    endpoint_cpu: float = 0.0  # CPU seconds of all mock endpoint processes so far


@dataclass
class UtilRun:
    polls: list[Poll] = field(default_factory=list)
    wall: float = 0.0
    n: int = 0
    durations: list[float] = field(default_factory=list)  # seconds per question, from its calls
    latencies: list[float] = field(default_factory=list)  # client-side seconds per request


def poll_run(
    proc: subprocess.Popen[bytes],
    db: Db,
    run_id: str,
    servers: dict[str, MockServerProcess],
    every: float,
) -> list[Poll]:
    """Snapshots of every server's /stats and the question counts until the run exits."""
    polls = []
    while True:
        alive = proc.poll() is None
        poll = Poll(
            time.perf_counter(),
            {alias: server.stats() for alias, server in servers.items()},
            db.status_counts(run_id),
            tree_cpu(proc.pid),
            sum(server_cpu(server) for server in servers.values()),
        )
        polls.append(poll)
        if not alive:
            return polls
        time.sleep(every)


def run_util(
    n: int, concurrency: int, servers: dict[str, MockServerProcess], tmp: Path, kind: str
) -> UtilRun:
    questions = synthetic_questions(tmp / f"util-{n}-{concurrency}.jsonl", n)
    db = Db.fresh(kind, tmp)
    try:
        overrides = point_at({alias: s.base_url for alias, s in servers.items()})
        t0 = time.perf_counter()
        proc = cli_run(questions, db, "util", overrides, concurrency)
        polls = poll_run(proc, db, "util", servers, 0.25)
        finish_cli(proc, questions)
        return UtilRun(polls, time.perf_counter() - t0, n, *db.call_times("util"))
    finally:
        db.drop()


def steady_window(run: UtilRun, concurrency: int) -> tuple[Poll, Poll, str]:
    """From `concurrency` questions finished to the last question started (see module doc)."""
    ps = run.polls
    done = [sum(p.status.get(s, 0) for s in FINISHED) for p in ps]
    start = next((i for i, d in enumerate(done) if d >= concurrency), None)
    end = next(
        (i for i, p in enumerate(ps) if p.status and p.status.get("pending", 0) == 0 and i > 0),
        None,
    )
    if start is not None and end is not None and end > start + 1:
        how = f"from {concurrency} questions finished to the last question started"
        return ps[start], ps[end], how
    # Too few questions for a steady part: the middle 80% of the run's requests instead.
    total = [sum(s["requests"] for s in p.stats.values()) for p in ps]
    lo = next(i for i, r in enumerate(total) if r - total[0] >= 0.1 * (total[-1] - total[0]))
    hi = next(i for i, r in enumerate(total) if r - total[0] >= 0.9 * (total[-1] - total[0]))
    return ps[lo], ps[max(hi, lo + 1)], "middle 80% of requests (run too short for a steady part)"


@dataclass
class AliasFlow:
    in_flight: float  # mean requests in flight over the window (server side)
    per_question: float  # requests per question, whole run
    latency: float  # server-side seconds per request over the window


def flows(run: UtilRun, a: Poll, b: Poll) -> dict[str, AliasFlow]:
    first, last = run.polls[0], run.polls[-1]
    out = {}
    for alias in a.stats:
        sa, sb = a.stats[alias], b.stats[alias]
        span = sb["uptime_seconds"] - sa["uptime_seconds"]
        integral = sb["in_flight_seconds"] - sa["in_flight_seconds"]
        reqs = sb["requests"] - sa["requests"]
        total = last.stats[alias]["requests"] - first.stats[alias]["requests"]
        out[alias] = AliasFlow(
            in_flight=integral / span if span > 0 else 0.0,
            per_question=total / run.n,
            latency=integral / reqs if reqs else 0.0,
        )
    return out


def steady_throughput(a: Poll, b: Poll) -> float:
    done = [sum(p.status.get(s, 0) for s in FINISHED) for p in (a, b)]
    return (done[1] - done[0]) / (b.t - a.t)


def section_utilization(args: argparse.Namespace, tmp: Path) -> list[tuple[str, str, str]]:
    n, conc, latency = args.util_questions, args.concurrency, args.latency_ms
    caps = {alias: int(spec.get("max_concurrency", 16)) for alias, spec in aliases().items()}
    print(f"\n== utilization: {n} questions, {latency:g} ms latency, --concurrency {conc}")
    servers = {alias: MockServerProcess(answer_key=QUESTIONS, latency_ms=latency) for alias in caps}
    try:
        starting = [threading.Thread(target=server.start) for server in servers.values()]
        for thread in starting:
            thread.start()
        for thread in starting:
            thread.join()
        t1 = None
        if args.calibrate:
            c_n, c_conc = args.calibrate_questions, args.calibrate_concurrency
            cal = run_util(c_n, c_conc, servers, tmp, args.util_db)
            t1 = statistics.mean(cal.durations)
            print(
                f"  calibration: {c_n} questions at --concurrency {c_conc}: one uncontended "
                f"question takes T1 = {t1:.2f} s on average, first call sent to last reply "
                f"({cal.wall:.0f} s run)"
            )
        run = run_util(n, conc, servers, tmp, args.util_db)
    finally:
        for server in servers.values():
            server.stop()
    a, b, how = steady_window(run, conc)
    flow = flows(run, a, b)
    x = steady_throughput(a, b)
    x_caps = min(caps[al] / (f.per_question * f.latency) for al, f in flow.items() if f.latency)
    x_q = conc / t1 if t1 else float("inf")
    x_max = min(x_caps, x_q)
    bound = "the per-alias caps" if x_caps <= x_q else "the question concurrency"
    print(
        f"  run: {run.wall:.1f} s; steady window {b.t - a.t:.1f} s ({how}); "
        f"{x:.2f} questions/s in it; a question took {statistics.mean(run.durations):.1f} s "
        "on average (first request to last reply)"
    )
    lat = sorted(run.latencies)
    server_lat = statistics.mean(f.latency for f in flow.values())
    print(
        f"  client-side latency per request (call log, whole run): mean "
        f"{statistics.mean(lat):.2f} s, p50 {lat[len(lat) // 2]:.2f} s, p99 "
        f"{lat[int(len(lat) * 0.99)]:.2f} s, against {server_lat:.3f} s at the server (the rest "
        "is waiting for an alias slot and for the client's event loop)"
    )
    busy = (b.cpu - a.cpu) / (b.t - a.t)
    endpoints = (b.endpoint_cpu - a.endpoint_cpu) / (b.t - a.t)
    print(
        f"  the run process(es) used {busy:.2f} CPU cores in the window "
        f"({busy / x * 1000:.0f} CPU ms per question), the mock endpoints {endpoints:.2f}; "
        f"1-min load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(
        f"  allowed throughput X_max = min(caps: {x_caps:.2f} q/s, "
        f"concurrency {conc} / T1: {x_q:.2f} q/s) = {x_max:.2f} q/s, bound by {bound}"
    )
    print(
        f"\n{'alias':13s} {'cap':>4s} {'req/q':>6s} {'lat s':>6s} {'mean in flight':>15s} "
        f"{'allowed':>8s} {'util':>6s} {'of cap':>7s}"
    )
    tot_in = tot_allowed = 0.0
    for alias, f in flow.items():
        allowed = x_max * f.per_question * f.latency
        tot_in, tot_allowed = tot_in + f.in_flight, tot_allowed + allowed
        util = f.in_flight / allowed if allowed else 0.0
        print(
            f"{alias:13s} {caps[alias]:4d} {f.per_question:6.2f} {f.latency:6.3f} "
            f"{f.in_flight:15.1f} {allowed:8.1f} {util:6.2f} {f.in_flight / caps[alias]:7.2f}"
        )
    util = tot_in / tot_allowed if tot_allowed else 0.0
    # Sizing: at the CPU each question cost here, what 0.9 of X_max takes (run and endpoints).
    need_run, need_mock = 0.9 * x_max * busy / x, 0.9 * x_max * endpoints / x
    print(
        f"{'total':13s} {sum(caps.values()):4d} {'':13s} {tot_in:15.1f} {tot_allowed:8.1f} "
        f"{util:6.2f}"
    )
    print(
        "  allowed = X_max x requests per question x server latency (Little's law): the mean "
        "in-flight each alias would carry if questions flowed at the fastest rate the caps and "
        f"the {conc} questions in flight permit; the sum of the caps ({sum(caps.values())}) is "
        "not reachable, since one question's calls hit the aliases in sequence, mostly qwen72b."
    )
    print(
        f"  sizing: 0.9 of X_max is {0.9 * x_max:.1f} q/s; at {busy / x * 1000:.0f} CPU ms per "
        f"question the run needs {need_run:.2f} cores for it (`run --workers N` spreads it over "
        f"N processes), and the mock endpoints {need_mock:.2f} more; this machine has "
        f"{os.cpu_count()}"
    )
    return [
        ("utilization: steady q/s", f"{x:.2f}", f"allowed {x_max:.2f} q/s ({bound})"),
        ("utilization: run process CPU in window", f"{busy:.2f} cores", ""),
        (
            "utilization: cores 0.9 of X_max needs",
            f"{need_run:.2f} run + {need_mock:.2f} endpoints",
            f"this machine: {os.cpu_count()}",
        ),
        (
            "utilization: mean in flight / allowed",
            f"{tot_in:.1f} / {tot_allowed:.1f} = {util:.2f}",
            target_verdict(util >= 0.9, ">= 0.9"),
        ),
    ]
