"""`run --budget`: stop starting questions once the run has spent what it may.

Spent means every priced call of the run, over all its sessions (the call log stores each
call's cost), plus what this process has recorded since it started. Questions already in flight
finish, so a run can end a little over its budget, by at most what those questions cost.
With `run --workers N` each worker also re-reads the run's total from the call log every
second or so, so what the other workers spend counts too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from reasonmed.core.config import RunConfig
from reasonmed.storage.call_log import CallLog

SHARED_REFRESH_S = 1.0


class BudgetError(ValueError):
    """A budget that cannot be enforced (no prices) or makes no sense."""


@dataclass
class Budget:
    """The run's spending limit and what it has spent."""

    limit: float
    spent_before: float
    log: CallLog
    reached: bool = False
    shared_run: str | None = None  # one of several workers: re-read the run's total
    _own_at_read: float = 0.0
    _read_at: float = field(default_factory=time.monotonic)

    @classmethod
    def open(
        cls, limit: float, config: RunConfig, log: CallLog, run_id: str, *, shared: bool = False
    ) -> Budget:
        """Check the config can be priced, and read what earlier sessions spent."""
        if limit <= 0:
            raise BudgetError(f"--budget must be more than 0, got {limit}")
        used = config.used_aliases()
        unpriced = sorted(
            alias
            for alias in used
            if config.models[alias].price_input_per_mtok is None
            and config.models[alias].price_output_per_mtok is None
        )
        if unpriced:
            raise BudgetError(
                "--budget needs a price for every model the agents use; none for "
                f"{', '.join(unpriced)} (set models.<alias>.price_input_per_mtok and "
                "price_output_per_mtok, in USD per million tokens)"
            )
        return cls(limit, log.spent(run_id), log, shared_run=run_id if shared else None)

    @property
    def spent(self) -> float:
        """Spent by the run so far, this session included."""
        return self.spent_before + self.log.recorded_cost - self._own_at_read

    def check(self) -> bool:
        """True (and remembered) once the spent cost has reached the limit."""
        now = time.monotonic()
        if self.shared_run is not None and now - self._read_at >= SHARED_REFRESH_S:
            own = self.log.recorded_cost  # read first: the total then holds at least this
            self.spent_before, self._own_at_read = self.log.spent(self.shared_run), own
            self._read_at = now
        if not self.reached and self.spent >= self.limit:
            self.reached = True
        return self.reached
