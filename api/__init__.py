"""ReasonMed as a library: run a question set, and read back its status, traces and data.

    import reasonmed
    result = reasonmed.run("questions.jsonl", config="reasonmed.yaml", db="sqlite:///r.db")
    reasonmed.status(result.run_id, db="sqlite:///r.db").examples

The names load on first use, so importing any `reasonmed.*` module stays cheap. The command
line is a thin layer over these functions.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "run": "reasonmed.run_api",
    "arun": "reasonmed.run_api",
    "status": "reasonmed.inspect_api",
    "trace": "reasonmed.inspect_api",
    "export": "reasonmed.export_api",
    "ExportResult": "reasonmed.api_models",
    "RunSummary": "reasonmed.api_models",
    "RunStatus": "reasonmed.api_models",
    "QuestionTrace": "reasonmed.api_models",
    "FailedQuestion": "reasonmed.api_models",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'reasonmed' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
