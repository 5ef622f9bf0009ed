"""JSON arrays and keyed objects decoded one member at a time, each with the line it starts on.

A published benchmark file can be a JSON array of rows or, like PubMedQA's ``ori_pqal.json``, one
object keyed by PMID, and the larger ones run to hundreds of megabytes. The file is read in chunks
and only the member being decoded is held, so memory stays flat in the number of rows. A syntax
error ends the file (nothing after it can be located reliably) and is raised as
``JsonSyntaxError`` with its line.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from typing import Any, BinaryIO

_CHUNK = 1 << 20
# A decode error this close to the end of the buffer may only mean the member goes on.
_NEAR_END = 16
_SPACE = " \t\r\n"


class JsonSyntaxError(Exception):
    """The file stops being JSON at ``line``."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(line, reason)
        self.line = line
        self.reason = reason


class KeyNotingDict(dict[str, Any]):
    """A decoded object that remembers keys given twice (``parse_record`` reports them)."""

    duplicate_keys: tuple[str, ...] = ()


def _note_duplicates(pairs: list[tuple[str, Any]]) -> KeyNotingDict:
    obj = KeyNotingDict()
    repeated: list[str] = []
    for key, value in pairs:
        if key in obj and key not in repeated:
            repeated.append(key)
        obj[key] = value
    obj.duplicate_keys = tuple(repeated)
    return obj


DECODER = json.JSONDecoder(object_pairs_hook=_note_duplicates)


class JsonTextStream:
    """A UTF-8 byte stream read as JSON text in chunks, with the line of the read position."""

    def __init__(self, stream: BinaryIO, chunk_size: int = _CHUNK) -> None:
        self._stream = stream
        self._chunk_size = chunk_size
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._buf = ""
        self._pos = 0
        self._line = 1  # the line of self._pos
        self._col0 = 0  # the column of self._buf[0] within its line
        self._eof = False
        self._started = False
        self._bad_byte: int | None = None  # met while reading ahead; raised once reached

    @property
    def line(self) -> int:
        return self._line

    def peek(self) -> str:
        """The next character that is not white space, not consumed; "" at the end."""
        while True:
            while self._pos < len(self._buf) and self._buf[self._pos] in _SPACE:
                self._advance(self._pos + 1)
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._fill():
                return ""

    def take(self, char: str, after: str) -> None:
        """Consume ``char`` (after white space), or raise naming what was found instead."""
        found = self.peek()
        if found != char:
            shown = repr(found) if found else "the end of the file"
            reason = f"not valid JSON: expected {char!r} {after}, found {shown}"
            raise JsonSyntaxError(self._line, reason)
        self._advance(self._pos + 1)

    def value(self) -> Any:
        """Decode the JSON value at the read position (after white space)."""
        self.peek()
        while True:
            try:
                value, end = DECODER.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                if not self._may_go_on(exc):
                    raise self._syntax_error(exc) from None
                self._fill()  # then decode again: filling moves the buffer under exc.pos
                continue
            if end >= len(self._buf) and not self._eof:
                self._fill()  # a number at the very end might go on in the next chunk
                continue
            self._advance(end)
            return value

    def _may_go_on(self, exc: json.JSONDecodeError) -> bool:
        near_end = exc.pos >= len(self._buf) - _NEAR_END
        return not self._eof and (near_end or exc.msg.startswith("Unterminated string"))

    def _syntax_error(self, exc: json.JSONDecodeError) -> JsonSyntaxError:
        line = self._line + self._buf.count("\n", self._pos, exc.pos)
        newline = self._buf.rfind("\n", 0, exc.pos)
        column = exc.pos - newline if newline >= 0 else self._col0 + exc.pos + 1
        return JsonSyntaxError(line, f"not valid JSON: {exc.msg} (column {column})")

    def _advance(self, end: int) -> None:
        self._line += self._buf.count("\n", self._pos, end)
        self._pos = end

    def _fill(self) -> bool:
        """Append the next chunk; False at the end of the file.

        Text before a byte that is not UTF-8 is still delivered, so the rows before it are
        read; the error is raised when reading reaches it, with its line.
        """
        if self._bad_byte is not None:
            line = self._line + self._buf.count("\n", self._pos)
            raise JsonSyntaxError(line, f"not valid UTF-8: byte 0x{self._bad_byte:02X}")
        if self._eof:
            return False
        chunk = self._stream.read(self._chunk_size)
        try:
            text = self._decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            text = exc.object[: exc.start].decode("utf-8")
            self._bad_byte = exc.object[exc.start]
        if text and not self._started:
            text = text.removeprefix("\ufeff")
            self._started = True
        self._eof = not chunk and self._bad_byte is None
        self._drop_consumed()
        self._buf += text
        return bool(text) or not self._eof

    def _drop_consumed(self) -> None:
        newline = self._buf.rfind("\n", 0, self._pos)
        self._col0 = self._pos - newline - 1 if newline >= 0 else self._col0 + self._pos
        self._buf = self._buf[self._pos :]
        self._pos = 0


def first_member(stream: BinaryIO) -> tuple[str, str | None, str]:
    """(first character, first key, first character of its value) of a JSON file, for sniffing.

    The key and value character are known only for an object; anything unreadable gives "".
    """
    text = JsonTextStream(stream, chunk_size=4096)
    try:
        first = text.peek()
        if first != "{":
            return first, None, ""
        text.take("{", "")
        if text.peek() != '"':
            return first, None, ""
        key = text.value()
        text.take(":", "")
        return first, key, text.peek()
    except JsonSyntaxError:
        return "", None, ""


def iter_array(stream: BinaryIO, chunk_size: int = _CHUNK) -> Iterator[tuple[int, Any]]:
    """(line, element) of a JSON array, in order."""
    text = JsonTextStream(stream, chunk_size)
    text.take("[", "at the start of the array")
    if text.peek() == "]":
        text.take("]", "")
    else:
        while True:
            text.peek()
            line = text.line
            yield line, text.value()
            if text.peek() == ",":
                text.take(",", "")
                continue
            text.take("]", "or ',' after an array element")
            break
    _expect_end(text, "array")


def iter_members(stream: BinaryIO, chunk_size: int = _CHUNK) -> Iterator[tuple[int, str, Any]]:
    """(line of the key, key, value) of a JSON object, in order."""
    text = JsonTextStream(stream, chunk_size)
    text.take("{", "at the start of the object")
    if text.peek() == "}":
        text.take("}", "")
    else:
        while True:
            if text.peek() != '"':
                text.take('"', "to start a key")
            line = text.line
            key = text.value()
            text.take(":", "after a key")
            yield line, key, text.value()
            if text.peek() == ",":
                text.take(",", "")
                continue
            text.take("}", "or ',' after a member")
            break
    _expect_end(text, "object")


def _expect_end(text: JsonTextStream, what: str) -> None:
    if text.peek():
        raise JsonSyntaxError(text.line, f"not valid JSON: text after the end of the {what}")
