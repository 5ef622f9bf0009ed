"""`--filter KEY=V1,V2`: which examples an export keeps, checked before anything is written.

Keys: tier, source, origin, model (the generator alias). Several filters on one key add values;
filters on different keys must all hold. A key or value that cannot match is an error naming
what would, since a typo would otherwise export an empty or partial data set without a word.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import get_args

from reasonmed.core.state import Origin, Tier
from reasonmed.storage.export_reads import ExampleFilter, ExportRows

KEYS = ("tier", "source", "origin", "model")
_FIELDS = {"tier": "tiers", "source": "sources", "origin": "origins", "model": "models"}
_FIXED = {"tier": get_args(Tier), "origin": get_args(Origin)}


def parse_filters(texts: Iterable[str]) -> ExampleFilter:
    """`["tier=easy,medium", "source=medqa"]` -> ExampleFilter; fixed vocabularies checked."""
    values: dict[str, list[str]] = {key: [] for key in KEYS}
    for text in texts:
        key, sep, listed = text.partition("=")
        key = key.strip()
        if not sep:
            raise ValueError(f"--filter {text!r}: expected KEY=VALUE[,VALUE...], e.g. tier=easy")
        if key not in KEYS:
            raise ValueError(f"--filter {text!r}: unknown key {key!r}; keys: {', '.join(KEYS)}")
        given = [v.strip() for v in listed.split(",")]
        if key != "source" and not all(given):
            raise ValueError(f"--filter {text!r}: an empty value")
        allowed = _FIXED.get(key)
        for value in given:
            if allowed is not None and value not in allowed:
                raise ValueError(
                    f"--filter {text!r}: unknown {key} {value!r}; expected one of "
                    f"{', '.join(allowed)}"
                )
            if value not in values[key]:
                values[key].append(value)
    return ExampleFilter(**{_FIELDS[key]: tuple(v) for key, v in values.items()})


def check_filter_values(filt: ExampleFilter, rows: ExportRows) -> None:
    """Sources and models must be ones the run has (its values are listed otherwise)."""
    for key, wanted, known in (
        ("source", filt.sources, rows.sources if filt.sources else None),
        ("model", filt.models, rows.models if filt.models else None),
    ):
        if known is None:
            continue
        present = known()
        missing = [v for v in wanted if v not in present]
        if missing:
            shown = ", ".join(repr(v) for v in present) or "none"
            raise ValueError(
                f"--filter {key}: {', '.join(repr(v) for v in missing)} not in run "
                f"{rows.run_id!r}; its {key}s: {shown}"
            )


def describe_filter(filt: ExampleFilter) -> list[str]:
    """The filter as the `KEY=V1,V2` lines it was given as (for the dataset card)."""
    return [
        f"{key}={','.join(getattr(filt, _FIELDS[key]))}"
        for key in KEYS
        if getattr(filt, _FIELDS[key])
    ]
