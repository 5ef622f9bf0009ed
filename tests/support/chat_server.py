"""A local OpenAI-style endpoint in a thread, for tests of the HTTP clients (real sockets).

It records every request (body, Authorization header) and how many it served at once; a
``respond`` hook scripts the reply (status, headers, raw body) so error paths can be exercised.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Response = tuple[int, dict[str, str], bytes]
Responder = Callable[[dict[str, Any]], Response]


def completion(body: dict[str, Any], content: str = "ok", **message: Any) -> dict[str, Any]:
    """A chat.completion reply to ``body``; ``finish_reason`` and message fields by keyword."""
    finish = message.pop("finish_reason", "stop")
    return {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": body["model"],
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, **message},
                "finish_reason": finish,
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


def ok(body: dict[str, Any]) -> Response:
    """The default reply: 200 with content "ok"."""
    return 200, {"Content-Type": "application/json"}, json.dumps(completion(body)).encode()


class QuietHTTPServer(ThreadingHTTPServer):
    """A threading test server with daemon handler threads that does not report hang-ups."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client hung up first (timeout tests do): that is the test's point."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class LocalChatServer:
    """Counts requests in flight (``peak``), records ``bodies`` and ``auth``, replies via
    ``respond`` after ``delay_s``."""

    def __init__(self, delay_s: float = 0.0, respond: Responder = ok) -> None:
        self.in_flight = 0
        self.peak = 0
        self.auth: list[str | None] = []
        self.bodies: list[dict[str, Any]] = []
        self.respond = respond
        lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    server.in_flight += 1
                    server.peak = max(server.peak, server.in_flight)
                    server.auth.append(self.headers.get("Authorization"))
                    server.bodies.append(body)
                time.sleep(delay_s)
                with lock:
                    server.in_flight -= 1
                status, headers, data = server.respond(body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"


@contextmanager
def serving(server: LocalChatServer) -> Iterator[LocalChatServer]:
    """Serve in a daemon thread for the block."""
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
