"""The CLI as tests run it: `python -m reasonmed.cli.main` in a subprocess, from the repo root."""

from __future__ import annotations

import subprocess
import sys

from reasonmed.mockserver.process import MockServerProcess
from tests.support.pipeline import ROOT, mock_overrides

CLI = [sys.executable, "-m", "reasonmed.cli.main"]


def reasonmed(
    *args: str, stdin: str | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run one `reasonmed` command to its end; output captured as text."""
    return subprocess.run(
        [*CLI, *args], cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=timeout
    )


def mock_sets(mock: MockServerProcess) -> list[str]:
    """`--set` options pointing every model alias of the mock config at `mock`."""
    return [arg for override in mock_overrides(mock.base_url) for arg in ("--set", override)]
