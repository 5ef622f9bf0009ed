"""Everything a dataset card states, gathered apart from how the card says it.

Counts of the exported examples are taken while they stream past (`ExportCounts`), so the card
describes exactly the data set written, filters included; run-wide numbers (calls, tokens,
cost, hashes) come from storage's `run_overview`, the same numbers `reasonmed status --json`
prints; import cleaning comes from the report file the user passes, if any.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reasonmed.core.config import RunConfig
from reasonmed.storage.db import Database
from reasonmed.storage.run_overview import run_overview, tier_outcomes
from reasonmed.storage.runs import RunStore

_SINGLE_AGENTS = ("verifier", "ranker", "refiner", "regenerator", "summarizer")


_FIELDS = {"tier": 1, "source": 2, "model": 3, "origin": 4}


@dataclass
class ExportCounts:
    """Examples per (split, tier, source, model, origin) and questions per split.

    One counter of cells rather than one per field: this runs once per exported example, and
    the card's tables are its marginals.
    """

    names: tuple[str, ...] = ("train",)  # the splits, in order
    cells: Counter[tuple[str, str, str, str, str]] = field(default_factory=Counter)
    questions: Counter[str] = field(default_factory=Counter)
    _last_question: str | None = None

    def add(self, split: str, row: Any) -> None:
        """Count one exported example (rows arrive grouped by question)."""
        model = (row.provenance or {}).get("model") or ""
        self.cells[split, row.tier, row.source, model, row.origin] += 1
        if row.question_id != self._last_question:
            self.questions[split] += 1
            self._last_question = row.question_id

    def by(self, name: str) -> Counter[str]:
        """Examples by one field: tier, source, model or origin."""
        index = _FIELDS[name]
        counts: Counter[str] = Counter()
        for cell, n in self.cells.items():
            counts[cell[index]] += n
        return counts

    @property
    def examples(self) -> dict[str, int]:
        """Examples per split, every split listed (train first)."""
        counts = dict.fromkeys(self.names, 0)
        for cell, n in self.cells.items():
            counts[cell[0]] += n
        return counts

    def in_tier(self, tier: str, origin: str | None = None) -> int:
        """Examples of one tier (and origin)."""
        return sum(n for c, n in self.cells.items() if c[1] == tier and origin in (None, c[4]))

    @property
    def total(self) -> int:
        """Examples exported, all splits together."""
        return sum(self.cells.values())


@dataclass(frozen=True)
class RunFacts:
    """What the run says about itself: hashes, models, outcomes, usage."""

    run_id: str
    config_hash: str
    prompt_hashes: dict[str, str]
    models: dict[str, str]  # alias -> endpoint model, for the aliases the agents use
    agents: dict[str, list[str]]  # agent -> aliases
    paths_per_question: int | None  # None when the stored config no longer validates
    overview: dict[str, Any]  # storage.run_overview, as `status --json` prints it
    outcomes: list[dict[str, Any]]  # storage.tier_outcomes
    temperatures: list[float] = field(default_factory=list)
    tier_bounds: tuple[int, int] | None = None  # most errors of an easy, of a medium question
    keep: int | None = None  # CoTs kept per easy or medium question
    license: str = "unknown"  # the config's dataset.license (runs stored before it: unknown)
    languages: list[str] = field(default_factory=lambda: ["en"])


def run_facts(db: Database, run_id: str) -> RunFacts:
    """Read the run's side of the card."""
    run = RunStore(db).get_run(run_id)
    if run is None:
        raise LookupError(f"no run {run_id!r} in {db.engines.url}")
    config = run.config or {}
    agents_config = config.get("agents") or {}
    generator = agents_config.get("generator") or {}
    agents = {"generator": list(generator.get("models") or [])}
    for name in _SINGLE_AGENTS:
        alias = (agents_config.get(name) or {}).get("model")
        if alias:
            agents[name] = [alias]
    specs = config.get("models") or {}
    used = dict.fromkeys(alias for aliases in agents.values() for alias in aliases)
    resolved = _validated(config)
    pipeline = resolved.pipeline if resolved else None
    return RunFacts(
        run_id=run.run_id,
        config_hash=run.config_hash,
        prompt_hashes=dict(run.prompt_hashes or {}),
        models={alias: str((specs.get(alias) or {}).get("model", "")) for alias in used},
        agents=agents,
        paths_per_question=resolved.paths_per_question if resolved else None,
        overview=run_overview(db, run_id),
        outcomes=tier_outcomes(db, run_id),
        temperatures=list(resolved.agents.generator.temperatures) if resolved else [],
        tier_bounds=(pipeline.easy_max_errors, pipeline.medium_max_errors) if pipeline else None,
        keep=pipeline.keep if pipeline else None,
        license=resolved.dataset.license if resolved else "unknown",
        languages=list(resolved.dataset.languages) if resolved else ["en"],
    )


def _validated(config: dict[str, Any]) -> RunConfig | None:
    """The stored config as the code reads it now (paths per question, thresholds), or None
    when it no longer validates: the card then leaves those numbers out."""
    try:
        return RunConfig.model_validate(config)
    except ValueError:
        return None


def read_import_report(path: Path) -> Counter[str]:
    """Questions dropped at import, by reason, from a JSON-lines report (one `reason` a line)."""
    reasons: Counter[str] = Counter()
    with Path(path).open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}: line {number} is not JSON ({exc.msg})") from None
            if not isinstance(entry, dict) or not isinstance(entry.get("reason"), str):
                raise ValueError(f"{path}: line {number} has no string 'reason' field")
            reasons[entry["reason"]] += 1
    return reasons


@dataclass(frozen=True)
class CardFacts:
    """One export as its card tells it."""

    run: RunFacts
    counts: ExportCounts
    format: str
    variant: str
    metadata: bool
    reasoning_field: bool
    system_prompt: bool
    filters: list[str]
    splits: list[tuple[str, float]]  # held-out splits in band order
    seed: int | None
    top_ups: int
    features: list[dict[str, Any]]  # dataset_info.features, as YAML
    num_bytes: dict[str, int]  # per split that has data files (empty splits have none)
    download_size: int
    license: str
    languages: list[str]
    cleaning: Counter[str] | None  # None: no import report given
    repo_id: str | None = None
