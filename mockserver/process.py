"""Run the mock server as a child process for the length of a ``with`` block.

A separate process (not an in-process app) keeps the client side honest: requests cross a real
socket, and the server's event loop cannot be starved by, or leak state into, the code under test.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

LISTENING_PREFIX = "mock-server listening on "
# Loopback traffic must never be routed through a proxy configured in the environment.
_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class MockServerProcess:
    """``python -m reasonmed.mockserver`` on a free port; ``base_url`` is ready inside the block."""

    def __init__(
        self,
        *,
        answer_key: str | Path | None = None,
        latency_ms: float = 0.0,
        fault_rate: float = 0.0,
        fault_kinds: Sequence[str] | None = None,
        examinee_accuracy: float | None = None,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 20.0,
        stop_timeout: float = 5.0,
    ) -> None:
        self.args = ["--host", "127.0.0.1", "--port", "0", "--latency-ms", str(latency_ms)]
        self.args += ["--fault-rate", str(fault_rate)]
        if fault_kinds:
            self.args += ["--fault-kinds", ",".join(fault_kinds)]
        if answer_key is not None:
            self.args += ["--answer-key", str(answer_key)]
        if examinee_accuracy is not None:
            self.args += ["--examinee-accuracy", str(examinee_accuracy)]
        self.args += list(extra_args)
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._process: subprocess.Popen[str] | None = None
        self._base_url: str | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, e.g. ``http://127.0.0.1:PORT/v1``."""
        if self._base_url is None:
            raise RuntimeError("the mock server is not running")
        return self._base_url

    @property
    def root_url(self) -> str:
        """The server root (where /stats and /health live)."""
        return self.base_url.removesuffix("/v1")

    def start(self) -> MockServerProcess:
        """Start the child and wait for its listening line (RuntimeError if it never comes)."""
        if self._process is not None:
            raise RuntimeError("the mock server is already running")
        command = [sys.executable, "-m", "reasonmed.mockserver", *self.args]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self._process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=env
        )
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_drain, args=(self._process, lines), daemon=True).start()
        try:
            while True:
                line = lines.get(timeout=self.startup_timeout)
                if line is None:
                    code = self._process.wait()
                    raise RuntimeError(f"mock server exited with code {code} before listening")
                if line.startswith(LISTENING_PREFIX):
                    self._base_url = line.removeprefix(LISTENING_PREFIX).strip()
                    return self
        except queue.Empty:
            self.stop()
            raise RuntimeError("mock server did not start in time") from None
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Terminate the child (SIGTERM, then SIGKILL after ``stop_timeout``)."""
        process, self._process, self._base_url = self._process, None, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stats(self) -> dict[str, Any]:
        """The server's ``GET /stats`` (blocking; use ``astats`` inside an event loop)."""
        with _NO_PROXY_OPENER.open(f"{self.root_url}/stats", timeout=10) as response:
            return json.load(response)

    async def astats(self) -> dict[str, Any]:
        """The server's ``GET /stats`` without blocking the event loop."""
        async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
            response = await client.get(f"{self.root_url}/stats")
            response.raise_for_status()
            return response.json()

    def __enter__(self) -> MockServerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> MockServerProcess:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)


def _drain(process: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
    """Forward the child's stdout lines (so its pipe never fills), then signal EOF with None."""
    assert process.stdout is not None
    for line in process.stdout:
        lines.put(line)
    lines.put(None)
