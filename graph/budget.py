"""`run --budget`: stop starting questions once the run has spent what it may.

Spent means every priced call of the run, over all its sessions (the call log stores each
call's cost), plus what this process has recorded since it started. Questions already in flight
finish, so a run can end a little over its budget, by at most what those questions cost.
"""

from __future__ import annotations

from dataclasses import dataclass

from reasonmed.graph.config import RunConfig
from reasonmed.storage.calls import CallLog


class BudgetError(ValueError):
    """A budget that cannot be enforced (no prices) or makes no sense."""


@dataclass
class Budget:
    """The run's spending limit and what it has spent."""

    limit: float
    spent_before: float
    log: CallLog
    reached: bool = False

    @classmethod
    def open(cls, limit: float, config: RunConfig, log: CallLog, run_id: str) -> Budget:
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
        return cls(limit, log.spent(run_id), log)

    @property
    def spent(self) -> float:
        """Spent by the run so far, this session included."""
        return self.spent_before + self.log.recorded_cost

    def check(self) -> bool:
        """True (and remembered) once the spent cost has reached the limit."""
        if not self.reached and self.spent >= self.limit:
            self.reached = True
        return self.reached
