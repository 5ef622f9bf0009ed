"""API keys never reach the database, traces, logs, exception messages or exports.

Each test runs the CLI in subprocesses with keys that are distinctive random strings, then
searches everything the commands wrote: every file under the test's directory (the CLI's working
directory and HOME; the database, its WAL, the exports), the stdout and stderr of every command,
and every value of every table, zstd-compressed values decompressed. An endpoint that echoes the
Authorization header in its errors and its replies, and one that is not listening, make sure
exception messages and model output are covered too.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
import zstandard
from sqlalchemy import inspect, text

from reasonmed.llm.model_registry import REDACTED
from reasonmed.mockserver.process import MockServerProcess
from reasonmed.storage.db import Database
from tests.support.chat_server import QuietHTTPServer
from tests.support.pipeline import MOCK_CONFIG, QUESTIONS

KEYS = {
    "REASONMED_TEST_KEY_A": f"sk-reasonmed-SECRET-{secrets.token_hex(16)}",
    "REASONMED_TEST_KEY_B": f"sk-reasonmed-SECRET-{secrets.token_hex(16)}",
}
# The whole key, and its random part alone (a key echoed with another prefix or quoting).
NEEDLES = [*KEYS.values(), *(key.rsplit("-", 1)[1] for key in KEYS.values())]
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
VARIANTS = ("reasonmed", "cotmed", "responsemed")
READ_COMMANDS = ("status", "questions", "failures")


class EchoEndpoint(BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint that repeats the caller's Authorization header.

    The model name picks the behaviour: `echo-401` (a bad-key error quoting the key, as real
    providers do), `echo-500` (a retried server error quoting it) and `echo-200` (a reply quoting
    it, which no agent can parse). Every response also carries the header back.
    """

    seen: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        auth = self.headers.get("Authorization", "")
        self.seen.append(auth)
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        model = body.get("model", "")
        if model == "echo-200":
            content = f"Called with {auth} (key {auth.removeprefix('Bearer ')}).\nFinal answer: B"
            self._send(200, _completion(model, content))
        else:
            status = 401 if model == "echo-401" else 500
            message = f"Incorrect API key provided: {auth.removeprefix('Bearer ')} ({auth})"
            self._send(status, {"error": {"message": message, "type": "invalid_request_error"}})

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Echo-Authorization", self.headers.get("Authorization", ""))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _completion(model: str, content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-echo",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServerProcess]:
    with MockServerProcess(answer_key=QUESTIONS) as server:
        yield server


@pytest.fixture(scope="module")
def echo() -> Iterator[str]:
    server = QuietHTTPServer(("127.0.0.1", 0), EchoEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Workspace:
    """A directory the CLI runs in (also its HOME and TMPDIR), and everything it printed."""

    def __init__(self, root: Path, db_url: str) -> None:
        self.root = root
        self.db_url = db_url
        self.printed: list[tuple[str, str]] = []
        (root / "home").mkdir()
        (root / "tmp").mkdir()
        self.env = {
            **os.environ,
            **KEYS,
            "HOME": str(root / "home"),
            "TMPDIR": str(root / "tmp"),
            "OPENAI_LOG": "debug",  # the SDK's own request logging goes to stderr too
        }

    def cli(self, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "reasonmed.cli.main", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        self.printed.append((f"{args[0]} stdout", done.stdout))
        self.printed.append((f"{args[0]} stderr", done.stderr))
        assert done.returncode == expect, done.stderr[-3000:]
        return done

    def config(self, name: str, models: dict[str, Any], agents: dict[str, Any], **pipeline) -> Path:
        path = self.root / f"{name}.yaml"
        body = {"models": models, "agents": agents} | ({"pipeline": pipeline} if pipeline else {})
        path.write_text(yaml.safe_dump(body))
        return path

    def questions(self, name: str, lines: slice) -> Path:
        path = self.root / f"{name}.jsonl"
        path.write_text("".join(QUESTIONS.read_text().splitlines(keepends=True)[lines]))
        return path

    def run(self, questions: Path, config: Path, *, expect: int = 0) -> str:
        run_id = questions.stem
        self.cli("run", str(questions), "--config", str(config), "--db", self.db_url, expect=expect)
        return run_id

    def inspect(self, runs: dict[str, str], *, every_command: bool = True) -> None:
        """The read commands over the runs, four at a time; their output is searched too.

        `every_command=False`: `runs --json` and each run's unabridged JSON trace only. Else also
        each run's status, questions and failures, the tables of the failed run, and every export
        variant of the normal run (the other runs produce no examples).
        """
        db = ("--db", self.db_url)
        commands = [("runs", *db, "--json")]
        traces = {}
        for run_id in runs.values():
            first = question_ids(self.db_url, run_id)[0]
            traces[run_id] = ("trace", "--run-id", run_id, "--question", first, *db)
            commands.append((*traces[run_id], "--json", "--full"))
            if every_command:
                commands += [(c, "--run-id", run_id, *db, "--json") for c in READ_COMMANDS]
        if every_command:
            failed = runs["errors"]
            commands += [("runs", *db), (*traces[failed], "--full")]
            commands += [(c, "--run-id", failed, *db) for c in READ_COMMANDS]
            for variant in VARIANTS:
                out = str(self.root / f"{variant}.jsonl")
                export = ("export", "--run-id", runs["normal"], "--variant", variant, "--out", out)
                commands.append((*export, *db))
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda args: self.cli(*args), commands))


def question_ids(db_url: str, run_id: str) -> list[str]:
    db = Database.from_url(db_url)
    try:
        with db.engines.sync.connect() as conn:
            sql = text("SELECT question_id FROM rm_questions WHERE run_id = :r ORDER BY position")
            return [row[0] for row in conn.execute(sql, {"r": run_id})]
    finally:
        db.close()


def expanded(data: bytes) -> Iterator[bytes]:
    """The bytes, and whatever decompresses from every zstd frame found in them."""
    yield data
    start = data.find(ZSTD_MAGIC)
    while start != -1:
        try:
            yield zstandard.ZstdDecompressor().decompressobj().decompress(data[start:])
        except zstandard.ZstdError:
            yield b""  # not a frame, only bytes that look like its start
        start = data.find(ZSTD_MAGIC, start + 1)


def leaks(where: str, value: Any) -> list[str]:
    """`where` once per needle found in `value` (text, bytes, or JSON-like data)."""
    if value is None or isinstance(value, bool | int | float):
        return []
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, str):
        value = value.encode("utf-8")
    elif not isinstance(value, bytes):
        value = json.dumps(value).encode("utf-8")
    found = {n for chunk in expanded(value) for n in NEEDLES if n.encode() in chunk}
    return [f"{where}: {needle[:24]}..." for needle in sorted(found)]


def leaks_in_files(root: Path) -> list[str]:
    found: list[str] = []
    files = [path for path in root.rglob("*") if path.is_file()]
    assert files
    for path in files:
        found += leaks(str(path.relative_to(root)), path.read_bytes())
    return found


def leaks_in_sqlite(path: Path) -> list[str]:
    found: list[str] = []
    conn = sqlite3.connect(path)
    try:
        found += leaks("sqlite iterdump", "\n".join(conn.iterdump()))
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        assert "rm_llm_calls" in tables
        for table in tables:
            cursor = conn.execute(f'SELECT * FROM "{table}"')
            names = [d[0] for d in cursor.description]
            for row in cursor:
                for name, value in zip(names, row, strict=True):
                    found += leaks(f"{table}.{name}", value)
    finally:
        conn.close()
    return found


def leaks_in_database(db_url: str) -> tuple[list[str], int]:
    """Leaks in every column of every rm_* table, and how many values were searched."""
    found: list[str] = []
    searched = 0
    db = Database.from_url(db_url)
    try:
        with db.engines.sync.connect() as conn:
            tables = [t for t in inspect(conn).get_table_names() if t.startswith("rm_")]
            assert "rm_llm_calls" in tables and "rm_checkpoint_blobs" in tables
            for table in tables:
                result = conn.execute(text(f'SELECT * FROM "{table}"'))
                names = list(result.keys())
                for row in result:
                    for name, value in zip(names, row, strict=True):
                        searched += 1
                        found += leaks(f"{table}.{name}", value)
    finally:
        db.close()
    return found, searched


def redacted(db_url: str, column: str) -> int:
    """Call log rows whose `column` (error or reply) shows a redacted key."""
    db = Database.from_url(db_url)
    try:
        with db.engines.sync.connect() as conn:
            sql = text(f"SELECT count(*) FROM rm_llm_calls WHERE {column} LIKE :r")
            return conn.execute(sql, {"r": f"%{REDACTED}%"}).scalar_one()
    finally:
        db.close()


def mock_models(base_url: str) -> dict[str, dict[str, Any]]:
    """The mock config's aliases at `base_url`, each reading one of the two keys."""
    models = yaml.safe_load(MOCK_CONFIG.read_text())["models"]
    names = list(KEYS)
    return {
        alias: {**spec, "base_url": base_url, "api_key_env": names[i % 2]}
        for i, (alias, spec) in enumerate(models.items())
    }


def echo_models(echo: str) -> dict[str, dict[str, Any]]:
    """Aliases whose calls fail quoting the key, fail to connect, or reply quoting the key."""
    closed = f"http://127.0.0.1:{_closed_port()}/v1"
    models = {
        "bad_key": ("echo-401", echo, "REASONMED_TEST_KEY_A"),
        "flaky": ("echo-500", echo, "REASONMED_TEST_KEY_B"),
        "down": ("gpt-4o", closed, "REASONMED_TEST_KEY_A"),
        "parrot": ("echo-200", echo, "REASONMED_TEST_KEY_B"),
    }
    return {
        alias: {"model": model, "base_url": url, "api_key_env": env, "max_retries": 1}
        for alias, (model, url, env) in models.items()
    }


def on_parrot(generator: dict[str, Any]) -> dict[str, Any]:
    others = ("verifier", "ranker", "refiner", "regenerator", "summarizer", "judge")
    return {"generator": generator} | {agent: {"model": "parrot"} for agent in others}


def run_everything(
    ws: Workspace, mock: MockServerProcess, echo: str, *, every_command: bool = True
) -> None:
    """A normal run, one whose calls fail with the key in their errors, one whose replies quote
    the key; then the read commands over the three. Checks that the keys did go out and come
    back, so the searches that follow could find them."""
    EchoEndpoint.seen.clear()
    agents = yaml.safe_load(MOCK_CONFIG.read_text())["agents"]
    config = ws.config("mock", mock_models(mock.base_url), agents)
    runs = {"normal": ws.run(ws.questions("normal", slice(0, 3)), config)}

    failing = on_parrot({"models": ["bad_key", "flaky", "down"]})
    config = ws.config("errors", echo_models(echo), failing)
    runs["errors"] = ws.run(ws.questions("errors", slice(5, 6)), config, expect=1)

    parroting = on_parrot({"models": ["parrot"], "temperatures": [0.7, 1.0]})
    pipeline = {"easy_max_errors": 0, "medium_max_errors": 1}
    config = ws.config("echoed", echo_models(echo), parroting, **pipeline)
    runs["echoed"] = ws.run(ws.questions("echoed", slice(7, 8)), config)
    ws.inspect(runs, every_command=every_command)

    sent = " ".join(EchoEndpoint.seen)
    assert all(key in sent for key in KEYS.values())
    assert redacted(ws.db_url, "error") and redacted(ws.db_url, "reply")


def test_sqlite_run_writes_no_key_anywhere(tmp_path: Path, mock: MockServerProcess, echo: str):
    db_file = tmp_path / "run.db"
    ws = Workspace(tmp_path, f"sqlite:///{db_file}")
    run_everything(ws, mock, echo)

    found = leaks_in_files(tmp_path)  # the DB file, its WAL, exports, anything else
    found += leaks_in_sqlite(db_file)
    found += leaks_in_database(ws.db_url)[0]
    for where, printed in ws.printed:
        found += leaks(where, printed)
    assert found == []
    assert any(REDACTED in printed for _, printed in ws.printed)  # traces show the redaction


def test_postgres_rows_hold_no_key(
    tmp_path: Path, postgres_url: str, mock: MockServerProcess, echo: str
) -> None:
    ws = Workspace(tmp_path, postgres_url)
    run_everything(ws, mock, echo, every_command=False)

    found, searched = leaks_in_database(postgres_url)
    assert searched > 1000
    found += leaks_in_files(tmp_path)
    for where, printed in ws.printed:
        found += leaks(where, printed)
    assert found == []
