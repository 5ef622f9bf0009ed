"""The optional `[hf]` extra: `datasets` and `huggingface_hub`, imported only when asked for.

A plain JSONL export must not pay for (or need) them, so every use goes through `import_extra`,
which names the extra to install when a module is missing.
"""

from __future__ import annotations

import importlib
from types import ModuleType

INSTALL_HINT = "pip install 'reasonmed[hf]'"


class MissingExtraError(ImportError):
    """A feature needs the `[hf]` extra, which is not installed."""


def import_extra(module: str, feature: str) -> ModuleType:
    """Import one of the extra's modules for `feature`, or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{feature} needs the {module!r} package of the hf extra: {INSTALL_HINT}"
        ) from exc
