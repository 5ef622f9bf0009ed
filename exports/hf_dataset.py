"""A Hugging Face dataset directory: Parquet shards per split, a saved `DatasetDict`, a card.

Layout of `--hf DIR`:
    README.md                                the dataset card (written by `dataset_card`)
    data/train-00000-of-00001.parquet        the shards the Hub and `load_dataset` read
    dataset_dict.json, train/, validation/   what `DatasetDict.save_to_disk` writes, for
                                             `datasets.load_from_disk(DIR)`

Records arrive one at a time and go out in batches of `BATCH` rows to the split's Parquet shard
and to its Arrow shard (the stream format `save_to_disk` writes), so memory stays flat however
large the run. `save_to_disk` itself is called on empty splits only, for its metadata files,
whose state then lists the streamed shards: saving the full data set with it would read every
shard back through a memory map, which held 1.2 GB resident at 370,000 examples. Everything is
built in a temporary directory beside DIR and swapped in at the end; an earlier export in DIR is
replaced, any other non-empty DIR is refused.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reasonmed.core.atomic_files import current_umask
from reasonmed.exports.hf_extra import import_extra
from reasonmed.exports.record_schema import Spec

BATCH = 1000
SHARD_ROWS = 100_000  # about 400 MB of text per shard; the Hub suggests shards under ~500 MB
_MARKER = "dataset_dict.json"
_STATE = "state.json"


def check_target(target: Path) -> None:
    """Refuse a DIR that holds anything but an earlier export, before any work is done."""
    target = Path(target)
    if target.exists() and (not target.is_dir() or _foreign(target)):
        raise ValueError(
            f"--hf {target}: exists and is not an earlier export (no {_MARKER}); "
            "choose a new or empty directory"
        )


def _foreign(target: Path) -> bool:
    return any(target.iterdir()) and not (target / _MARKER).exists()


def features_of(spec: Spec) -> Any:
    """`datasets.Features` for a record spec (see `record_schema`)."""
    datasets = import_extra("datasets", "--hf")

    def feature(kind: Any) -> Any:
        if isinstance(kind, str):
            return datasets.Value(kind)
        if isinstance(kind, list):
            return datasets.List({k: feature(v) for k, v in kind[0].items()})
        return {k: feature(v) for k, v in kind.items()}

    return datasets.Features({name: feature(kind) for name, kind in spec.items()})


@dataclass
class _Split:
    rows: list[dict[str, Any]] = field(default_factory=list)
    count: int = 0
    nbytes: int = 0  # Arrow bytes, as `datasets` reports a split's num_bytes
    shards: list[tuple[Path, Path]] = field(default_factory=list)  # (parquet, arrow)
    shard_rows: int = 0
    writers: list[Any] = field(default_factory=list)  # open: parquet, arrow stream, its file


@dataclass(frozen=True)
class HfOutput:
    """What was written: examples and Arrow bytes per split, Parquet bytes in all."""

    examples: dict[str, int]
    num_bytes: dict[str, int]
    download_size: int
    parquet_files: list[str]


class HfDatasetWriter:
    """Streams records into a dataset directory; `finish` then `install` make it DIR."""

    def __init__(self, target: Path, spec: Spec, names: tuple[str, ...]) -> None:
        self.target = Path(target)
        self.features = features_of(spec)
        self._datasets = import_extra("datasets", "--hf")
        self._pa = import_extra("pyarrow", "--hf")
        self._pq = import_extra("pyarrow.parquet", "--hf")
        self._schema = self.features.arrow_schema
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.work = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.", dir=self.target.parent))
        self.work.chmod(0o777 & ~current_umask())  # mkdtemp's 0700 would make DIR private
        (self.work / "data").mkdir()
        for name in names:
            (self.work / name).mkdir()
        self._splits = {name: _Split() for name in names}
        self._installed = False

    def write(self, split: str, record: dict[str, Any]) -> None:
        """Queue one record; a full batch is written out."""
        state = self._splits[split]
        state.rows.append(record)
        if len(state.rows) >= BATCH:
            self._flush(split, state)

    def _flush(self, name: str, state: _Split) -> None:
        if not state.shards or state.shard_rows >= SHARD_ROWS:
            self._new_shard(name, state)
        table = self._pa.Table.from_pylist(state.rows, schema=self._schema)
        state.writers[0].write_table(table)
        state.writers[1].write_table(table)
        state.count += len(state.rows)
        state.nbytes += table.nbytes
        state.shard_rows += len(state.rows)
        state.rows.clear()

    def _new_shard(self, name: str, state: _Split) -> None:
        self._close(state)
        i = len(state.shards)
        parquet, arrow = self.work / "data" / f".{name}-{i}.parquet", self.work / name / f".{i}"
        state.shards.append((parquet, arrow))
        sink = self._pa.OSFile(str(arrow), "wb")
        stream = self._pa.ipc.new_stream(sink, self._schema)
        state.writers = [self._pq.ParquetWriter(str(parquet), self._schema), stream, sink]
        state.shard_rows = 0

    @staticmethod
    def _close(state: _Split) -> None:
        for handle in state.writers:
            with contextlib.suppress(Exception):  # already closed, or failed mid-write
                handle.close()
        state.writers = []

    def finish(self) -> HfOutput:
        """Close every file, name the shards, write the `DatasetDict` metadata (no README yet).

        A split left without examples is dropped: `load_dataset` refuses a split whose files
        hold no rows, so the card must not list one.
        """
        for name, state in self._splits.items():
            if state.rows:
                self._flush(name, state)
            self._close(state)
        kept = [name for name, state in self._splits.items() if state.count]
        if not kept:
            raise ValueError("--hf: no examples to write (do the filters match anything?)")
        parquet_files = []
        for name, state in self._splits.items():
            if name not in kept:
                for parquet, _ in state.shards:
                    parquet.unlink()
                shutil.rmtree(self.work / name)
                continue
            total = len(state.shards)
            arrow_files = []
            for i, (parquet, arrow) in enumerate(state.shards):
                suffix = f"{i:05d}-of-{total:05d}"
                parquet_files.append(parquet.rename(parquet.with_name(f"{name}-{suffix}.parquet")))
                arrow_files.append(arrow.rename(arrow.with_name(f"data-{suffix}.arrow")).name)
            self._save_state(name, arrow_files)
        (self.work / _MARKER).write_text(json.dumps({"splits": kept}), encoding="utf-8")
        return HfOutput(
            examples={name: self._splits[name].count for name in kept},
            num_bytes={name: self._splits[name].nbytes for name in kept},
            download_size=sum(f.stat().st_size for f in parquet_files),
            parquet_files=sorted(str(f.relative_to(self.work)) for f in parquet_files),
        )

    def _save_state(self, name: str, arrow_files: list[str]) -> None:
        """`save_to_disk`'s metadata for an empty split, its state then pointed at the shards."""
        datasets = self._datasets
        empty = datasets.Dataset.from_dict(
            {column: [] for column in self.features}, features=self.features, split=name
        )
        with tempfile.TemporaryDirectory(dir=self.work) as scratch:
            quiet = datasets.are_progress_bars_disabled()
            datasets.disable_progress_bars()  # the CLI prints its own one line
            try:
                empty.save_to_disk(scratch)
            finally:
                if not quiet:
                    datasets.enable_progress_bars()
            for saved in Path(scratch).iterdir():
                shutil.move(saved, self.work / name / saved.name)
        state_path = self.work / name / _STATE
        state = json.loads(state_path.read_text(encoding="utf-8"))
        state["_data_files"] = [{"filename": f} for f in arrow_files]
        state["_split"] = name
        state_path.write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")

    def install(self, card: str) -> None:
        """Write the card and move the finished directory to DIR (replacing an earlier one)."""
        (self.work / "README.md").write_text(card, encoding="utf-8")
        old = None
        if self.target.exists():
            old = self.target.with_name(f"{self.work.name}.old")
            self.target.rename(old)
        self.work.rename(self.target)
        self._installed = True
        if old is not None:
            shutil.rmtree(old)

    def abort(self) -> None:
        """Remove the half-built directory (DIR itself is untouched); nothing once installed."""
        if self._installed:
            return
        for state in self._splits.values():
            self._close(state)
        shutil.rmtree(self.work, ignore_errors=True)
