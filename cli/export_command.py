"""`reasonmed export`: options in, one call to `dataset_export.export_dataset`, a line out."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from reasonmed.cli.common import EXIT_FAILED, EXIT_INPUT, EXIT_OK, add_db, open_db


def register(sub: Any) -> None:
    """Add the `export` command."""
    from reasonmed.exports.record_formats import FORMATS

    export = sub.add_parser(
        "export", help="write the run's examples as training data (JSONL, HF dataset, Hub)"
    )
    export.add_argument("--run-id", required=True)
    export.add_argument(
        "--variant", choices=["reasonmed", "cotmed", "responsemed"], default="reasonmed"
    )
    export.add_argument("--format", choices=FORMATS, default="alpaca", help="record shape")
    export.add_argument("--out", type=Path, help="JSONL file (with --split: a directory or stem)")
    add_db(export)
    shape = export.add_argument_group("record shape")
    shape.add_argument(
        "--reasoning-field",
        action="store_true",
        help="messages: the CoT in reasoning_content, the summary in content",
    )
    shape.add_argument(
        "--no-metadata", action="store_true", help="only the training fields (no provenance)"
    )
    shape.add_argument("--system-prompt", metavar="TEXT|FILE", help="a system turn first")
    subset = export.add_argument_group("subset and splits")
    subset.add_argument(
        "--filter",
        dest="filters",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="keep only these (repeatable; keys tier, source, origin, model)",
    )
    subset.add_argument(
        "--split",
        dest="splits",
        action="append",
        default=[],
        metavar="NAME=FRACTION",
        help="a held-out split, e.g. validation=0.02 (repeatable; the rest is train)",
    )
    subset.add_argument("--seed", type=int, default=0, help="seed of the split assignment")
    hub = export.add_argument_group("Hugging Face (needs the hf extra)")
    hub.add_argument("--hf", type=Path, metavar="DIR", help="write a dataset directory")
    hub.add_argument("--push-to-hub", metavar="USER/NAME", help="upload it (token: $HF_TOKEN)")
    hub.add_argument("--private", action="store_true", help="create the Hub repo private")
    hub.add_argument(
        "--license",
        metavar="ID",
        help="the card's license (default: the run config's dataset.license, else unknown)",
    )
    hub.add_argument(
        "--language",
        dest="languages",
        action="append",
        default=[],
        metavar="CODE",
        help="the card's language (repeatable; default en)",
    )
    hub.add_argument("--import-report", type=Path, metavar="FILE", help="import drops (JSONL)")
    export.set_defaults(handler=cmd_export)


def cmd_export(args: argparse.Namespace, console: Console) -> int:
    """Parse the options into an `ExportRequest`, run it, say what was written."""
    from reasonmed.exports.dataset_export import ExportRequest, export_dataset
    from reasonmed.exports.export_filters import parse_filters
    from reasonmed.exports.hf_extra import MissingExtraError
    from reasonmed.exports.hub_upload import HubUploadError
    from reasonmed.exports.record_formats import RecordStyle, read_system_prompt
    from reasonmed.exports.splits import parse_split

    request = ExportRequest(
        run_id=args.run_id,
        style=RecordStyle(
            format=args.format,
            variant=args.variant,
            system_prompt=read_system_prompt(args.system_prompt),
            metadata=not args.no_metadata,
            reasoning_field=args.reasoning_field,
        ),
        out=args.out,
        filters=parse_filters(args.filters),
        splits=tuple(parse_split(text) for text in args.splits),
        seed=args.seed,
        hf_dir=args.hf,
        push_to_hub=args.push_to_hub,
        private=args.private,
        license=args.license,
        languages=tuple(args.languages) if args.languages else None,
        import_report=args.import_report,
    )
    try:
        with open_db(args.db) as db:
            summary = export_dataset(db, request)
    except MissingExtraError as exc:
        console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return EXIT_INPUT
    except HubUploadError as exc:
        console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return EXIT_FAILED
    total = sum(summary.examples.values())
    what = f"{args.variant} examples ({args.format})"
    if len(summary.examples) > 1:
        what += " — " + ", ".join(f"{name} {n}" for name, n in summary.examples.items())
    places = [str(path) for path in summary.files.values()]
    places += [str(summary.hf_dir)] if summary.hf_dir else []
    places += [summary.hub_url] if summary.hub_url else []
    console.print(f"wrote {total} {what} to {', '.join(places)}", markup=False)
    return EXIT_OK
