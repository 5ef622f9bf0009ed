"""A stand-in for the Hugging Face Hub, for `HF_ENDPOINT`: only the requests that
`HfApi.create_repo` and `HfApi.upload_folder` make (huggingface_hub 1.x/2.x), nothing else.

- POST /api/repos/create                     {name, organization, type, visibility?}
- POST /api/validate-yaml                     {content, repoType}: the card's YAML header
- POST /api/{type}s/{org}/{name}/preupload/{rev}   which files go as LFS: here none ("regular")
- POST /api/{type}s/{org}/{name}/commit/{rev}      NDJSON: a header, then base64 files

Regular (non-LFS) upload keeps the whole exchange in these four requests, so the files arrive
in the commit body and are kept in memory for the test. Any other request is answered 404 and
recorded in `unexpected`. `reject_commits` makes the commit fail with a 403 whose message
quotes the request's Authorization header, the way a careless server could.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import yaml

_COMMIT = re.compile(r"^/api/(\w+)s/([^/]+/[^/]+)/(preupload|commit)/([^/?]+)")


@dataclass
class Repo:
    """One repository the stand-in holds."""

    repo_type: str
    visibility: str | None
    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[str] = field(default_factory=list)


class HubStandIn:
    """Serves on 127.0.0.1 in a thread for the length of a `with` block."""

    def __init__(self, *, reject_commits: bool = False) -> None:
        self.reject_commits = reject_commits
        self.repos: dict[str, Repo] = {}
        self.authorizations: list[str] = []
        self.unexpected: list[str] = []
        self.yaml_checked: list[dict[str, Any]] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        """What to put in HF_ENDPOINT."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> HubStandIn:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hub.authorizations.append(self.headers.get("Authorization", ""))
                status, reply = hub.answer(self.path, body, self.headers.get("Authorization", ""))
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                hub.unexpected.append(f"GET {self.path}")
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_HEAD = do_GET

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def answer(self, path: str, body: bytes, authorization: str) -> tuple[int, dict[str, Any]]:
        """Status and JSON reply for one POST."""
        if path == "/api/repos/create":
            return self._create(json.loads(body))
        if path == "/api/validate-yaml":
            return self._validate(json.loads(body))
        match = _COMMIT.match(path)
        if match and match.group(2) in self.repos:
            repo = self.repos[match.group(2)]
            if match.group(3) == "preupload":
                files = json.loads(body)["files"]
                modes = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                          "oid": None} for f in files]  # fmt: skip
                return 200, {"files": modes}
            if self.reject_commits:
                return 403, {"error": f"token rejected: {authorization}"}
            return 200, self._commit(match.group(2), repo, body)
        self.unexpected.append(f"POST {path}")
        return 404, {"error": f"not served by the stand-in: {path}"}

    def _create(self, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        repo_id = f"{payload['organization']}/{payload['name']}"
        if repo_id in self.repos:
            return 409, {"error": "You already created this dataset repo", "url": ""}
        self.repos[repo_id] = Repo(payload.get("type") or "model", payload.get("visibility"))
        return 200, {"url": f"{self.endpoint}/datasets/{repo_id}", "name": repo_id}

    def _validate(self, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        content = payload["content"]
        header = content.split("---\n")[1] if content.startswith("---\n") else ""
        try:
            data = yaml.safe_load(header) or {}
        except yaml.YAMLError as exc:
            return 400, {"errors": [{"message": str(exc)}], "warnings": []}
        self.yaml_checked.append(data)
        return 200, {"errors": [], "warnings": []}

    def _commit(self, repo_id: str, repo: Repo, body: bytes) -> dict[str, Any]:
        for line in body.splitlines():
            item = json.loads(line)
            if item["key"] == "header":
                repo.commits.append(item["value"]["summary"])
            elif item["key"] == "file":
                value = item["value"]
                repo.files[value["path"]] = base64.b64decode(value["content"])
            else:
                self.unexpected.append(f"commit item {item['key']}")
        oid = f"{len(repo.commits):040x}"
        return {"commitUrl": f"{self.endpoint}/datasets/{repo_id}/commit/{oid}",
                "commitOid": oid, "pullRequestUrl": None}  # fmt: skip
