"""What earlier runs observed, as `graph.estimate` inputs: reply lengths, tier mix, pass rates."""

from __future__ import annotations

from reasonmed.graph.estimate import LINES, TIERS, Observed
from reasonmed.storage.db import Database
from reasonmed.storage.run_reads import observation_rows

_NODES = {"refine": "refiner", "regenerate": "regenerator"}
_ORIGINS = {"refined": "refiner", "regenerated": "regenerator"}


def observe_runs(db: Database) -> Observed:
    """What every run in the database observed: mean reply tokens per agent (calls that reported
    usage, no errors, no cache hits), Error counts of finished questions by tier, and how many
    refine / regenerate rounds of finished questions there were and how many passed."""
    rows = observation_rows(db, tuple(_NODES), tuple(_ORIGINS))
    observed, totals = Observed(), {}
    for node, agent, n, tokens in rows.replies:
        line = "reverifier" if node == "reverify" else agent
        if line in LINES:
            observed.reply_calls[line] = observed.reply_calls.get(line, 0) + n
            totals[line] = totals.get(line, 0) + float(tokens or 0)
    for tier, errors, n in rows.tiers:
        if tier in TIERS:
            observed.errors.setdefault(tier, {})[int(errors)] = n
    for node, n in rows.rounds:
        observed.rounds[_NODES[node]] = n
    for origin, n in rows.passes:
        observed.passes[_ORIGINS[origin]] = n
    observed.reply_tokens = {k: v / observed.reply_calls[k] for k, v in totals.items()}
    return observed
