"""Reading a rendered report page back: its numeric cells, images and text, for assertions."""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser
from typing import Any

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class ReportPage(HTMLParser):
    """The cells (JSON pointer -> (value, shown text)), images and all text of a report page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.cells: dict[str, tuple[Any, str]] = {}
        self.images: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []
        self._open: tuple[str, Any] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append(tag)
        if tag == "td" and "data-json" in found:
            self._open = (found["data-json"] or "", json.loads(found["data-value"] or "null"))
        if tag == "img":
            self.images.append(found.get("src") or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._open is not None:
            pointer, value = self._open
            self.cells[pointer] = (value, data)
            self._open = None

    def png_images(self) -> list[bytes]:
        """Every embedded image, decoded; an image that is not a PNG data URI fails."""
        prefix = "data:image/png;base64,"
        assert all(src.startswith(prefix) for src in self.images)
        return [base64.b64decode(src[len(prefix) :], validate=True) for src in self.images]


def resolve(document: Any, pointer: str) -> Any:
    """The value at an RFC 6901 JSON pointer."""
    for raw in pointer.split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        document = document[int(part)] if isinstance(document, list) else document[part]
    return document
