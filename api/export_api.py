"""`reasonmed.export`: a run's examples as training data, as `reasonmed export` writes them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from reasonmed.api_models import ExportResult
from reasonmed.exports.dataset_export import ExportRequest, export_dataset
from reasonmed.exports.export_filters import parse_filters
from reasonmed.exports.record_formats import RecordStyle, read_system_prompt
from reasonmed.exports.splits import parse_split
from reasonmed.graph.runner import DEFAULT_DB
from reasonmed.storage.db import Database


def export(
    run_id: str,
    out: str | Path | None = None,
    *,
    db: str = DEFAULT_DB,
    variant: str = "reasonmed",
    format: str = "alpaca",
    system_prompt: str = "",
    metadata: bool = True,
    reasoning_field: bool = False,
    filters: Mapping[str, Sequence[str]] | None = None,
    splits: Mapping[str, float] | None = None,
    seed: int = 0,
    hf_dir: str | Path | None = None,
    push_to_hub: str | None = None,
    private: bool = False,
    license: str | None = None,
    languages: Sequence[str] | None = None,
    import_report: str | Path | None = None,
) -> ExportResult:
    """Write the run's examples; the keywords are `reasonmed export`'s options.

    `filters` maps a key (tier, source, origin, model) to the values kept, `splits` a split name
    to its share (the rest is train); `system_prompt` is text, or the path of a file holding it.
    """
    request = ExportRequest(
        run_id=run_id,
        style=RecordStyle(
            format=format,  # type: ignore[arg-type]
            variant=variant,  # type: ignore[arg-type]
            system_prompt=read_system_prompt(system_prompt),
            metadata=metadata,
            reasoning_field=reasoning_field,
        ),
        out=Path(out) if out is not None else None,
        filters=parse_filters(
            [f"{key}={','.join(values)}" for key, values in (filters or {}).items()]
        ),
        splits=tuple(parse_split(f"{name}={share}") for name, share in (splits or {}).items()),
        seed=seed,
        hf_dir=Path(hf_dir) if hf_dir is not None else None,
        push_to_hub=push_to_hub,
        private=private,
        license=license,
        languages=tuple(languages) if languages else None,
        import_report=Path(import_report) if import_report is not None else None,
    )
    database = Database.from_url(db)
    try:
        summary = export_dataset(database, request)
    finally:
        database.close()
    return ExportResult(
        examples=dict(summary.examples),
        files={name: str(path) for name, path in summary.files.items()},
        hf_dir=str(summary.hf_dir) if summary.hf_dir else None,
        hub_url=summary.hub_url,
    )
