"""In-memory request counters behind ``GET /stats``.

Besides plain counts it keeps the time integral of the number of requests in flight, so a
benchmark can take two snapshots and compute the mean concurrency it achieved between them:
``(b.in_flight_seconds - a.in_flight_seconds) / (b.uptime_seconds - a.uptime_seconds)``.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any


class Stats:
    """Counters for one server process (single event loop, so no locking is needed)."""

    def __init__(self) -> None:
        self._started = time.monotonic()
        self._last_change = self._started
        self._integral = 0.0
        self.requests = 0
        self.by_role: Counter[str] = Counter()
        self.by_model: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.by_status: Counter[str] = Counter()
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.in_flight = 0
        self.max_in_flight = 0

    def _advance(self) -> float:
        now = time.monotonic()
        self._integral += self.in_flight * (now - self._last_change)
        self._last_change = now
        return now

    def started(self, role: str | None, model: str) -> None:
        """A chat request arrived."""
        self._advance()
        self.requests += 1
        self.by_role[role or "unknown"] += 1
        self.by_model[model] += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def finished(self, status: int, fault: str | None, usage: dict[str, int] | None) -> None:
        """A chat request was answered (with ``fault`` when one was injected)."""
        self._advance()
        self.in_flight -= 1
        self.by_status[str(status)] += 1
        if fault:
            self.faults[fault] += 1
        if usage:
            self.prompt_tokens += usage["prompt_tokens"]
            self.completion_tokens += usage["completion_tokens"]

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready view of the counters."""
        now = self._advance()
        return {
            "requests": self.requests,
            "requests_by_role": dict(self.by_role),
            "requests_by_model": dict(self.by_model),
            "faults_by_kind": dict(self.faults),
            "responses_by_status": dict(self.by_status),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "in_flight_seconds": self._integral,
            "uptime_seconds": now - self._started,
        }
