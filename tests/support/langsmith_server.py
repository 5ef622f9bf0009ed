"""A local stand-in for LANGSMITH_ENDPOINT, in a thread: it keeps every run the client sends.

It serves just what the `langsmith` client's tracing needs: `GET /info` (which says whether to
use the multipart endpoint and zstd compression), `POST /runs/multipart` (parts named
`post.<id>`, `patch.<id>` and `<op>.<id>.<field>`), `POST /runs/batch` (JSON `{"post": [...],
"patch": [...]}`) and the single-run `POST /runs` / `PATCH /runs/<id>`. Bodies are read whether
sized or chunked and decompressed (zstd or gzip), and every request is kept as it arrived
(headers and decoded body), so a test can both rebuild the runs and search all that was sent.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import zstandard

from tests.support.chat_server import QuietHTTPServer

RUN_FIELDS = ("inputs", "outputs", "events", "extra", "error", "serialized")


@dataclass
class Received:
    """One request as it arrived: method, path, headers, and the body decompressed."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class LangSmithSink:
    """Answers like LangSmith's API; ``ops`` are the ("post" | "patch", run fields) received."""

    compression: bool = False
    multipart: bool = True
    requests: list[Received] = field(default_factory=list)
    ops: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        return {
            "version": "0.0.0-test",
            "instance_flags": {"zstd_compression_enabled": self.compression},
            "batch_ingest_config": {
                "use_multipart_endpoint": self.multipart,
                "size_limit": 100,
                "size_limit_bytes": 20_971_520,
                "scale_up_nthreads_limit": 16,
                "scale_up_qsize_trigger": 1000,
                "scale_down_nempty_trigger": 4,
            },
        }

    def receive(self, request: Received) -> None:
        """Keep the request and the run operations in it."""
        self.requests.append(request)
        if request.method == "POST" and request.path == "/runs/multipart":
            boundary = _boundary(request.headers.get("content-type", ""))
            self.ops.extend(multipart_ops(request.body, boundary))
        elif request.method == "POST" and request.path == "/runs/batch":
            batch = json.loads(request.body)
            for op in ("post", "patch"):
                self.ops.extend((op, run) for run in batch.get(op) or [])
        elif request.method == "POST" and request.path == "/runs":
            self.ops.append(("post", json.loads(request.body)))
        elif request.method == "PATCH" and request.path.startswith("/runs/"):
            run = json.loads(request.body)
            self.ops.append(("patch", {"id": request.path.rsplit("/", 1)[1], **run}))

    def runs(self) -> dict[str, dict[str, Any]]:
        """Every run by id, its posts and patches merged in arrival order (metadata merged)."""
        merged: dict[str, dict[str, Any]] = {}
        for _, fields in self.ops:
            run = merged.setdefault(str(fields["id"]), {})
            for name, value in fields.items():
                if value is None:
                    continue
                if name == "extra" and isinstance(run.get("extra"), dict):
                    metadata = {**run["extra"].get("metadata", {}), **value.get("metadata", {})}
                    run["extra"] = {**run["extra"], **value, "metadata": metadata}
                else:
                    run[name] = value
        return merged


def _boundary(content_type: str) -> str:
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if match is None:
        raise ValueError(f"multipart without a boundary: {content_type!r}")
    return match.group(1)


def multipart_ops(body: bytes, boundary: str) -> list[tuple[str, dict[str, Any]]]:
    """The run operations of a /runs/multipart body, each part's JSON put back on its run."""
    runs: dict[tuple[str, str], dict[str, Any]] = {}
    for name, data in _parts(body, boundary):
        op, run_id, *rest = name.split(".")
        if op not in ("post", "patch"):
            continue  # attachments, feedback
        run = runs.setdefault((op, run_id), {"id": run_id})
        if not rest:
            run.update(json.loads(data))
        elif rest[0] in RUN_FIELDS:
            run[rest[0]] = json.loads(data)
    return [(op, run) for (op, _), run in runs.items()]


def _parts(body: bytes, boundary: str) -> Iterator[tuple[str, bytes]]:
    for section in body.split(b"--" + boundary.encode())[1:]:
        if section.startswith(b"--"):
            return
        head, _, data = section.partition(b"\r\n\r\n")
        match = re.search(rb'name="([^"]+)"', head)
        if match is not None:
            yield match.group(1).decode(), data.removesuffix(b"\r\n")


def _decompress(body: bytes, encoding: str) -> bytes:
    if encoding == "zstd":
        return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(body)).read()
    if encoding == "gzip":
        return gzip.decompress(body)
    return body


@contextmanager
def langsmith_sink(
    compression: bool = False, multipart: bool = True
) -> Iterator[tuple[LangSmithSink, str]]:
    """Serve a ``LangSmithSink`` on a free port for the block: (sink, endpoint URL)."""
    sink = LangSmithSink(compression=compression, multipart=multipart)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _handle(self) -> None:
            raw = self._body() if self.command in ("POST", "PATCH") else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            body = _decompress(raw, headers.get("content-encoding", ""))
            with lock:
                sink.receive(Received(self.command, self.path.split("?")[0], headers, body))
            reply = json.dumps(sink.info() if self.path.startswith("/info") else {}).encode()
            self.send_response(200 if self.command == "GET" else 202)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        do_GET = do_POST = do_PATCH = _handle

        def log_message(self, *args: object) -> None:
            pass

    server = QuietHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
