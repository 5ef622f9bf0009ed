"""`reasonmed export`: one pass over a run's examples into JSONL files, a Hugging Face dataset
directory and the Hub, in any record format, filtered and split.

Every option is checked, and every optional package imported, before the first row is read, so
a typo or a missing extra costs nothing. The rows stream from one read transaction; each is
turned into a record once and handed to every output, and only counters stay in memory.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from reasonmed.exports.card_facts import CardFacts, ExportCounts, read_import_report, run_facts
from reasonmed.exports.dataset_card import render_card
from reasonmed.exports.export_filters import check_filter_values, describe_filter
from reasonmed.exports.hf_dataset import HfDatasetWriter, HfOutput, check_target
from reasonmed.exports.hf_extra import import_extra
from reasonmed.exports.hub_upload import hub_token, push_dataset
from reasonmed.exports.jsonl_files import JsonlSplitFiles, line_encoder, split_paths
from reasonmed.exports.record_formats import RecordStyle, record_builder
from reasonmed.exports.record_schema import record_spec, yaml_features
from reasonmed.exports.splits import TRAIN, SplitPlan, SplitSpec, check_splits, plan_splits
from reasonmed.storage.db import Database
from reasonmed.storage.export_reads import ExampleFilter, ExportRows, export_rows
from reasonmed.storage.runs import RunStore


@dataclass(frozen=True)
class ExportRequest:
    """One export: what to read, how to shape it, where it goes."""

    run_id: str
    style: RecordStyle = field(default_factory=RecordStyle)
    out: Path | None = None  # JSONL: a file, or with splits a directory or a `.jsonl` stem
    filters: ExampleFilter = field(default_factory=ExampleFilter)
    splits: tuple[SplitSpec, ...] = ()
    seed: int = 0
    hf_dir: Path | None = None
    push_to_hub: str | None = None  # a dataset repo id, "user/name"
    private: bool = False  # for a repo that --push-to-hub creates
    license: str | None = None  # None: the run config's dataset.license
    languages: tuple[str, ...] | None = None  # None: the run config's dataset.languages
    import_report: Path | None = None  # JSON lines with a `reason` each: the import's drops


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote."""

    examples: dict[str, int]  # per split, train first
    files: dict[str, Path]  # the JSONL file of each split ({} without --out)
    hf_dir: Path | None = None
    hub_url: str | None = None
    top_ups: frozenset[str] = frozenset()  # questions held out by a small-stratum top-up


def _check(request: ExportRequest) -> None:
    if request.out is None and request.hf_dir is None and request.push_to_hub is None:
        raise ValueError("nothing to write: give --out, --hf or --push-to-hub")
    request.style.check()
    check_splits(request.splits)
    if request.out is not None:
        _check_out(Path(request.out), split=bool(request.splits))
    if request.hf_dir is not None:
        check_target(request.hf_dir)
    if request.hf_dir is not None or request.push_to_hub:
        import_extra("datasets", "--hf")
        import_extra("pyarrow.parquet", "--hf")
    if request.push_to_hub:
        import_extra("huggingface_hub", "--push-to-hub")
        if request.push_to_hub.count("/") != 1:
            raise ValueError(f"--push-to-hub {request.push_to_hub!r}: expected USER/NAME")


def _check_out(out: Path, *, split: bool) -> None:
    if not split and out.is_dir():
        raise ValueError(f"--out {out}: is a directory; without --split, --out names one file")
    if split and out.suffix != ".jsonl" and out.exists() and not out.is_dir():
        raise ValueError(
            f"--out {out}: with --split, --out is a directory or a stem ending in .jsonl"
        )


def export_dataset(db: Database, request: ExportRequest) -> ExportSummary:
    """Write the run's examples as the request says; return what was written."""
    _check(request)
    token = hub_token() if request.push_to_hub else ""
    cleaning = read_import_report(request.import_report) if request.import_report else None
    if RunStore(db).get_run(request.run_id) is None:
        raise LookupError(f"no run {request.run_id!r} in {db.engines.url}")
    staging = None
    hf_dir = request.hf_dir
    if hf_dir is None and request.push_to_hub:
        staging = Path(tempfile.mkdtemp(prefix="reasonmed-hub-"))
        hf_dir = staging / "dataset"
    try:
        summary = _write(db, request, hf_dir, cleaning)
        if request.push_to_hub and hf_dir is not None:
            style = request.style
            message = f"ReasonMed export of run {request.run_id} ({style.format}, {style.variant})"
            url = push_dataset(
                hf_dir, request.push_to_hub, private=request.private, token=token, message=message
            )
            summary = dataclasses.replace(summary, hf_dir=request.hf_dir, hub_url=url)
        return summary
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def _plan(rows: ExportRows, request: ExportRequest) -> SplitPlan | None:
    if not request.splits:
        return None

    def keys() -> Iterator[tuple[str, str, str]]:
        return ((r.question_id, r.source, r.tier) for r in rows.questions())

    return plan_splits(keys, request.splits, request.seed)


def _write(
    db: Database, request: ExportRequest, hf_dir: Path | None, cleaning: Counter[str] | None
) -> ExportSummary:
    build = record_builder(request.style)
    with ExitStack() as stack, export_rows(db, request.run_id, request.filters) as rows:
        check_filter_values(request.filters, rows)
        plan = _plan(rows, request)
        names = plan.names if plan else (TRAIN,)
        counts = ExportCounts(names=names)
        files = None
        if request.out is not None:
            paths = split_paths(request.out, names, split=plan is not None)
            files = stack.enter_context(JsonlSplitFiles(paths, line_encoder(request.style.format)))
        hf = None
        if hf_dir is not None:
            hf = HfDatasetWriter(hf_dir, record_spec(request.style), names)
            stack.callback(hf.abort)
        for row in rows.examples():
            split = plan.split_of(row.question_id) if plan else TRAIN
            record = build(row)
            if files is not None:
                files.write(split, record)
            if hf is not None:
                hf.write(split, record)
            counts.add(split, row)
        if hf is not None:
            output = hf.finish()
            hf.install(render_card(_facts(db, request, counts, plan, output, cleaning)))
        if files is not None:
            files.commit()
    return ExportSummary(
        examples=counts.examples,
        files=dict(files.paths) if files else {},
        hf_dir=hf_dir,
        top_ups=frozenset(plan.top_ups) if plan else frozenset(),
    )


def _facts(
    db: Database,
    request: ExportRequest,
    counts: ExportCounts,
    plan: SplitPlan | None,
    output: HfOutput,
    cleaning: Counter[str] | None,
) -> CardFacts:
    style = request.style
    run = run_facts(db, request.run_id)
    return CardFacts(
        run=run,
        counts=counts,
        format=style.format,
        variant=style.variant,
        metadata=style.metadata,
        reasoning_field=style.reasoning_field,
        system_prompt=bool(style.system_prompt),
        filters=describe_filter(request.filters),
        splits=[(s.name, s.fraction) for s in request.splits],
        seed=request.seed if plan else None,
        top_ups=len(plan.top_ups) if plan else 0,
        features=yaml_features(record_spec(style)),
        num_bytes=output.num_bytes,
        download_size=output.download_size,
        license=request.license or run.license,
        languages=list(request.languages or run.languages),
        cleaning=cleaning,
        repo_id=request.push_to_hub,
    )
