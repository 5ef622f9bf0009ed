"""Helpers for end-to-end tests: the mock endpoint and config overrides pointing at it."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ROOT / "examples" / "questions.jsonl"
MOCK_CONFIG = ROOT / "examples" / "config.mock.yaml"


def mock_overrides(base_url: str, config: Path = MOCK_CONFIG) -> list[str]:
    """`--set` overrides that point every model alias of `config` at `base_url`."""
    aliases = yaml.safe_load(config.read_text())["models"]
    return [f"models.{alias}.base_url={base_url}" for alias in aliases]
