"""Raw rows out of the containers benchmarks are published in, each with where it sits.

JSONL, a JSON array, a JSON object keyed by id (PubMedQA), CSV (with a header, or headerless as
MMLU ships it) and Parquet (the Hugging Face Hub). Rows are streamed: text files line by line or
chunk by chunk, Parquet batch by batch, so memory stays flat in the number of rows. A row that
cannot be decoded comes back as a ``RawRow`` with ``error`` set, located like the others: the
1-based line where it starts, or for Parquet the 1-based row number.
"""

from __future__ import annotations

import contextlib
import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reasonmed.sources.json_stream import DECODER, JsonSyntaxError, first_member, iter_array
from reasonmed.sources.json_stream import iter_members as iter_json_members
from reasonmed.sources.source_errors import SourceFormatError

CONTAINERS = ("jsonl", "json_array", "json_keyed", "csv", "parquet")
_BOM = b"\xef\xbb\xbf"
_PARQUET_MAGIC = b"PAR1"
_BATCH_ROWS = 1024
_ARROW_JSON = "arrow.json"  # Arrow's extension type for a column of JSON text
# A key made of letters and underscores is a row's field ("options"), not a row's id (a PMID).
_FIELD_NAME = re.compile(r"[A-Za-z_]+")


@dataclass(frozen=True)
class RawRow:
    """One undecided row: a dict (a list of cells for headerless CSV), or an ``error``."""

    line: int
    data: Any = None
    key: str | None = None  # the member's key in a keyed JSON object (PubMedQA's PMID)
    error: str = ""


def detect_container(path: Path) -> str:
    """Which of CONTAINERS the file is: by its extension and first bytes.

    A ``.json`` file may be JSONL (MedMCQA ships its JSONL as ``.json``), an array, or an object
    keyed by id; the last is told by its first member: an object under a key that is not a field
    name.
    """
    suffix = path.suffix.lower()
    try:
        with path.open("rb") as stream:
            if suffix == ".parquet" or stream.read(len(_PARQUET_MAGIC)) == _PARQUET_MAGIC:
                return "parquet"
            if suffix == ".csv":
                return "csv"
            stream.seek(0)
            first, key, value_start = first_member(stream)
    except OSError as exc:
        raise SourceFormatError(path, f"cannot be read: {exc.strerror or exc}") from None
    if first == "[":
        return "json_array"
    if first == "{" and value_start == "{" and key and not _FIELD_NAME.fullmatch(key):
        return "json_keyed"
    return "jsonl"


def location_unit(container: str) -> str:
    """How rows are located in messages: "row" in Parquet, "line" in text files."""
    return "row" if container == "parquet" else "line"


def iter_rows(
    path: Path, container: str, *, csv_header: bool = True, columns: list[str] | None = None
) -> Iterator[RawRow]:
    """The file's rows in order; ``columns`` narrows what a Parquet file reads (ignored else)."""
    if container == "parquet":
        yield from _parquet_rows(path, columns)
    elif container == "csv":
        yield from _csv_rows(path, csv_header)
    elif container == "jsonl":
        yield from _jsonl_rows(path)
    elif container in ("json_array", "json_keyed"):
        yield from _json_rows(path, keyed=container == "json_keyed")
    else:
        raise ValueError(f"unknown container {container!r}; expected one of {CONTAINERS}")


def first_csv_record(path: Path) -> list[str]:
    """The cells of the first non-blank CSV record (a header or a headerless row); [] if none."""
    for row in _csv_rows(path, header=False):
        return row.data if isinstance(row.data, list) else []
    return []


def parquet_columns(path: Path) -> list[str]:
    """The top-level column names of a Parquet file, read from its footer only."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return list(pq.ParquetFile(path).schema_arrow.names)
    except (pa.ArrowException, OSError) as exc:
        raise SourceFormatError(path, f"not a readable Parquet file: {exc}") from None


def _jsonl_rows(path: Path) -> Iterator[RawRow]:
    with path.open("rb") as stream:
        for line_no, raw in enumerate(stream, start=1):
            if line_no == 1:
                raw = raw.removeprefix(_BOM)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield RawRow(line_no, error=_utf8_reason(exc))
                continue
            if not text.strip():
                continue
            try:
                yield RawRow(line_no, DECODER.decode(text.rstrip("\r\n")))
            except json.JSONDecodeError as exc:
                yield RawRow(line_no, error=f"not valid JSON: {exc.msg} (column {exc.colno})")


def _json_rows(path: Path, keyed: bool) -> Iterator[RawRow]:
    with path.open("rb") as stream:
        try:
            if keyed:
                for line, key, value in iter_json_members(stream):
                    yield RawRow(line, value, key=key)
            else:
                for line, value in iter_array(stream):
                    yield RawRow(line, value)
        except JsonSyntaxError as exc:
            yield RawRow(exc.line, error=exc.reason)


def _csv_rows(path: Path, header: bool) -> Iterator[RawRow]:
    """Records by the csv module (quotes, commas and newlines inside fields), each located at
    the line it starts on; a record over a line that is not UTF-8 is an error row."""
    bad_lines: dict[int, str] = {}

    def text_lines() -> Iterator[str]:
        with path.open("rb") as stream:
            for line_no, raw in enumerate(stream, start=1):
                if line_no == 1:
                    raw = raw.removeprefix(_BOM)
                if raw.endswith(b"\r\n"):  # a Windows line end, also inside a quoted field
                    raw = raw[:-2] + b"\n"
                try:
                    yield raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    bad_lines[line_no] = _utf8_reason(exc)
                    yield raw.decode("utf-8", errors="replace")

    reader = csv.reader(text_lines())
    names: list[str] | None = None
    last_line = 0
    while True:
        start = last_line + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RawRow(start, error=f"not valid CSV: {exc}")
            return
        last_line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        bad = [f"line {n}: {bad_lines[n]}" for n in range(start, last_line + 1) if n in bad_lines]
        if bad:
            yield RawRow(start, error="; ".join(bad))
        elif not header:
            yield RawRow(start, cells)
        elif names is None:
            names = [name.strip() for name in cells]
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                yield RawRow(start, error=f"the header repeats the column(s) {repeated}")
                return
        elif len(cells) != len(names):
            reason = f"has {len(cells)} cells but the header has {len(names)} columns"
            yield RawRow(start, error=reason)
        else:
            yield RawRow(start, dict(zip(names, cells, strict=True)))


def _parquet_rows(path: Path, columns: list[str] | None) -> Iterator[RawRow]:
    """Rows numbered from 1 across the whole file, one record batch in memory at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise SourceFormatError(path, f"not a readable Parquet file: {exc}") from None
    json_columns = [
        field.name
        for field in parquet.schema_arrow
        if getattr(field.type, "extension_name", "") == _ARROW_JSON
    ]
    row = 0
    try:
        for batch in parquet.iter_batches(batch_size=_BATCH_ROWS, columns=columns):
            for data in batch.to_pylist():
                row += 1
                yield RawRow(row, _decode_json_columns(data, json_columns))
    except (pa.ArrowException, OSError) as exc:
        yield RawRow(row + 1, error=f"cannot be read from here on: {exc}")


def _decode_json_columns(data: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """Decode the values of Arrow's JSON columns, which Python sees as JSON text.

    ``datasets`` writes a column whose objects differ between rows (MedQA's options, A-D in some
    rows and A-E in others) as such a column; undecodable text is left for the layout to report.
    """
    for name in names:
        value = data.get(name)
        if isinstance(value, str):
            with contextlib.suppress(json.JSONDecodeError):
                data[name] = DECODER.decode(value)
    return data


def _utf8_reason(exc: UnicodeDecodeError) -> str:
    """Name the first bad byte and where it sits in its line, so it can be found in an editor."""
    byte = exc.object[exc.start]
    return f"not valid UTF-8: byte 0x{byte:02X} at byte {exc.start + 1} of the line"
