"""`langgraph dev` (the in-memory LangGraph API server) as a child process, for Studio tests.

It runs offline: analytics, tracing and the version check are off, every LangSmith credential is
dropped from its environment, it listens on 127.0.0.1 only and opens no browser. Its log goes to
a file, so a server that never gets ready fails with what it said.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import httpx
import yaml

from tests.support.pipeline import MOCK_CONFIG, ROOT

LANGGRAPH_JSON = ROOT / "langgraph.json"
# What the CLI and the server read to phone home; see langgraph_cli/analytics.py,
# langgraph_api/cli.py (version check, Studio org lookup) and langgraph_api/config.
OFFLINE_ENV = {
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGGRAPH_NO_VERSION_CHECK": "true",
    "LANGSMITH_TRACING": "false",
    "LANGSMITH_TRACING_V2": "false",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGCHAIN_TRACING": "false",
    "OTEL_ENABLED": "false",
    "PYTHONUNBUFFERED": "1",
}
DROPPED_ENV = (
    "LANGSMITH_API_KEY",
    "LANGCHAIN_API_KEY",
    "LANGSMITH_ENDPOINT",
    "LANGCHAIN_ENDPOINT",
    "LANGGRAPH_CLOUD_LICENSE_KEY",
    "LANGSMITH_CONTROL_PLANE_API_KEY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
)
# The banner line naming the address it really took (it moves to another port if ours is taken).
_API_LINE = re.compile(r"API:\s*(?:\x1b\[[0-9;]*m)?(http://127\.0\.0\.1:\d+)")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def write_mock_config(base_url: str, path: Path, config: Path = MOCK_CONFIG) -> Path:
    """A copy of `config` with every model alias pointed at `base_url`."""
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    for spec in data["models"].values():
        spec["base_url"] = base_url
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


class LangGraphDevServer:
    """`python -m langgraph_cli dev` in `workdir` (its `.langgraph_api/` lands there)."""

    def __init__(
        self,
        workdir: Path,
        env: Mapping[str, str],
        *,
        port: int = 0,
        startup_timeout: float = 90.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.workdir = workdir
        self.env = env
        self.port = port or _free_port()
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.log_path = workdir / "langgraph-dev.log"
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None

    def log(self) -> str:
        """What the server has written so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def errors(self) -> list[str]:
        """The log lines the server wrote at level error or above (tracebacks follow them)."""
        lines = _ANSI.sub("", self.log()).splitlines()
        return [line for line in lines if re.search(r"\[(error|critical|exception)\s*\]", line)]

    def start(self) -> LangGraphDevServer:
        """Start the server and wait until `/ok` answers; RuntimeError with its log otherwise."""
        env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
        env.update(OFFLINE_ENV)
        env.update(self.env)
        command = [sys.executable, "-m", "langgraph_cli", "dev", "--no-browser", "--no-reload"]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--config", str(LANGGRAPH_JSON)]
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                command,
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends all it started
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        with httpx.Client(trust_env=False, timeout=2) as client:
            while time.monotonic() < deadline:
                assert self._process is not None
                if self._process.poll() is not None:
                    raise RuntimeError(
                        f"langgraph dev exited with code {self._process.returncode}:\n{self.log()}"
                    )
                if found := _API_LINE.search(self.log()):
                    try:
                        if client.get(f"{found.group(1)}/ok").status_code == 200:
                            self.url = found.group(1)
                            return
                    except httpx.TransportError:
                        pass
                time.sleep(0.2)
        raise RuntimeError(
            f"langgraph dev was not ready after {self.startup_timeout:.0f} s:\n{self.log()}"
        )

    def stop(self) -> None:
        """SIGTERM to the server's process group, SIGKILL after `stop_timeout`."""
        process, self._process = self._process, None
        if process is None:
            return
        for sig, wait in ((signal.SIGTERM, self.stop_timeout), (signal.SIGKILL, None)):
            if process.poll() is not None:
                break
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self) -> LangGraphDevServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> LangGraphDevServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
