"""The validated run config: models (endpoints), agents (sampling), pipeline (EMD routing).

Defaults are the ReasonMed paper's; unknown keys are errors so a typo never silently falls back
to a default; secrets appear only as the names of environment variables.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from reasonmed.core.config_load import (
    KEY_LIKE,
    ConfigError,
    PathProblems,
    apply_overrides,
    diff_configs,
    read_yaml_mapping,
    unknown_alias_problems,
    validation_error_lines,
)
from reasonmed.core.model_spec import ModelSpec

__all__ = [
    "AgentsConfig",
    "ConfigError",
    "GeneratorAgent",
    "JudgeAgent",
    "ModelSpec",
    "PipelineConfig",
    "RankerAgent",
    "RefinerAgent",
    "RegeneratorAgent",
    "RunConfig",
    "SingleModelAgent",
    "SummarizerAgent",
    "VerifierAgent",
    "config_from_dict",
    "diff_configs",
    "load_config",
]

_STRICT = ConfigDict(extra="forbid", hide_input_in_errors=True)
_ALIAS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")

# None means "do not send it": the endpoint's own default applies.
Temperature = Annotated[float, Field(ge=0, le=2)] | None
TopP = Annotated[float, Field(gt=0, le=1)] | None
MaxTokens = Annotated[int, Field(ge=1)]
Attempts = Annotated[int, Field(ge=1)]


class SingleModelAgent(BaseModel):
    """An agent that calls one model alias; ``sampling()`` feeds ModelRegistry.chat_model."""

    model_config = _STRICT

    model: str = Field(min_length=1, description="a key of RunConfig.models")
    temperature: Temperature = None
    top_p: TopP = None
    max_tokens: MaxTokens = 1024

    def sampling(self) -> dict[str, Any]:
        """The keyword arguments for ModelRegistry.chat_model."""
        return {"temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens}


class GeneratorAgent(BaseModel):
    """Writes models x temperatures x samples_per_temperature CoTs per question, without the gold
    answer."""

    model_config = _STRICT

    models: list[str] = Field(min_length=1)
    temperatures: list[Annotated[float, Field(ge=0, le=2)]] = Field(
        default_factory=lambda: [0.7, 0.9, 1.0], min_length=1
    )
    top_p: TopP = 0.9
    max_tokens: MaxTokens = 8192
    samples_per_temperature: int = Field(
        1,
        ge=1,
        description="CoTs per (model, temperature), each with its own seed: one model at three "
        "temperatures with 3 samples writes the paper's 9 CoTs",
    )

    @field_validator("models", "temperatures")
    @classmethod
    def _unique(cls, values: list[Any]) -> list[Any]:
        # A (model, temperature) pair names one path; a duplicate would collide.
        if len(set(values)) != len(values):
            raise ValueError("must not contain duplicates")
        return values


class VerifierAgent(SingleModelAgent):
    """Judges each CoT against the gold answer: Correct or Error with a reason."""

    temperature: Temperature = 1.0
    top_p: TopP = 0.95
    max_tokens: MaxTokens = 1024
    parse_attempts: Attempts = Field(3, description="re-asks on an unparseable reply")


class RankerAgent(SingleModelAgent):
    """Scores Correct CoTs 0-5 so the best ``keep`` survive."""

    temperature: Temperature = 0.7
    top_p: TopP = 0.95
    max_tokens: MaxTokens = 512
    parse_attempts: Attempts = 3


class RefinerAgent(SingleModelAgent):
    """Rewrites medium-tier CoTs using the other paths' error reasons."""

    temperature: Temperature = 0.8
    top_p: TopP = 0.9
    max_tokens: MaxTokens = 8192
    attempts: Attempts = Field(2, description="refine + re-verify rounds")


class RegeneratorAgent(SingleModelAgent):
    """Writes one deep CoT for a difficult question with a stronger reasoning model."""

    temperature: Temperature = None
    top_p: TopP = None
    max_tokens: MaxTokens = 16384
    attempts: Attempts = Field(2, description="regenerate + re-verify rounds")


class SummarizerAgent(SingleModelAgent):
    """Writes the short answer summary for each kept CoT."""

    temperature: Temperature = 0.5
    top_p: TopP = None
    max_tokens: MaxTokens = 512


class JudgeAgent(SingleModelAgent):
    """Scores examples 1-10 for the evals; not part of the pipeline."""

    temperature: Temperature = 0.7
    top_p: TopP = None
    max_tokens: MaxTokens = 1024
    parse_attempts: Attempts = 3


class AgentsConfig(BaseModel):
    """Which model alias and sampling each agent uses."""

    model_config = _STRICT

    generator: GeneratorAgent
    verifier: VerifierAgent
    ranker: RankerAgent
    refiner: RefinerAgent
    regenerator: RegeneratorAgent
    summarizer: SummarizerAgent
    judge: JudgeAgent | None = None


class PipelineConfig(BaseModel):
    """EMD tier thresholds (by count of Error verdicts) and run-wide knobs."""

    model_config = _STRICT

    keep: int = Field(2, ge=1, description="CoTs kept per easy/medium question")
    easy_max_errors: int = Field(4, ge=0)
    medium_max_errors: int = Field(7, ge=1)
    answer_check: bool = Field(True, description="deterministic answer must agree with verifier")
    concurrency: int = Field(16, ge=1, description="questions in flight")

    @model_validator(mode="after")
    def _ordered(self) -> PipelineConfig:
        if self.easy_max_errors >= self.medium_max_errors:
            raise PathProblems([("medium_max_errors", "must be greater than easy_max_errors")])
        return self


class DatasetInfo(BaseModel):
    """What the exported data set's card says of it; not how it is made (outside the hash)."""

    model_config = _STRICT

    license: str = Field("unknown", min_length=1, description="an SPDX-style id, e.g. cc-by-4.0")
    languages: list[str] = Field(default_factory=lambda: ["en"], min_length=1)


class RunConfig(BaseModel):
    """Everything a run needs besides its questions; stored with the run and checked on resume."""

    model_config = _STRICT

    models: dict[str, ModelSpec] = Field(min_length=1)
    agents: AgentsConfig
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)
    dataset: DatasetInfo = Field(default_factory=DatasetInfo)

    @field_validator("models", mode="before")
    @classmethod
    def _alias_names(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        if any(KEY_LIKE.search(str(alias)) for alias in value):
            raise PathProblems([("", "an alias looks like an API key; aliases are short names")])
        bad = [str(alias) for alias in value if not _ALIAS.match(str(alias))]
        if bad:
            raise PathProblems(
                [(alias, "alias must be letters, digits, '_' or '-'") for alias in bad]
            )
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> RunConfig:
        agents = self.agents.model_dump()
        problems = unknown_alias_problems(self.models, agents)
        paths = self.paths_per_question
        if self.pipeline.medium_max_errors >= paths:
            problems.append(
                (
                    "pipeline.medium_max_errors",
                    f"must be below paths_per_question ({paths} = generator models x "
                    "temperatures x samples_per_temperature) so a medium question keeps a "
                    "Correct CoT; the defaults (easy 4, medium 7) assume 9 paths",
                )
            )
        if problems:
            raise PathProblems(problems)
        return self

    @property
    def paths_per_question(self) -> int:
        """CoTs generated per question: generator models x temperatures x samples per
        temperature (9 in the paper: 3 x 3 x 1)."""
        gen = self.agents.generator
        return len(gen.models) * len(gen.temperatures) * gen.samples_per_temperature

    def used_aliases(self) -> list[str]:
        """The aliases the pipeline's agents call (the judge is the evals')."""
        a = self.agents
        singles = (a.verifier, a.ranker, a.refiner, a.regenerator, a.summarizer)
        return list(dict.fromkeys([*a.generator.models, *(agent.model for agent in singles)]))

    def prices(self) -> dict[str, tuple[float | None, float | None]]:
        """Per alias, (price per million input tokens, per million output tokens)."""
        return {
            alias: (spec.price_input_per_mtok, spec.price_output_per_mtok)
            for alias, spec in self.models.items()
        }

    def resolved_dict(self) -> dict[str, Any]:
        """The config with every default filled in, JSON-able; holds env var names, not values."""
        return self.model_dump(mode="json")

    def config_hash(self) -> str:
        """sha256 of the canonical JSON of resolved_dict; identifies the config a run used."""
        resolved = self.resolved_dict()
        for spec in resolved["models"].values():
            spec.pop("client")  # how requests are sent, not what is sent: not a new config
        resolved.pop("dataset")  # what the card says, not how the data is made
        _drop_later_defaults(resolved)
        canonical = json.dumps(resolved, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# Settings added after runs were already stored, with the default that reproduces the old
# behaviour: left out of the hash while at that default, so such runs resume without a change.
_LATER_MODEL_DEFAULTS = {"structured_output": "none"}
_LATER_GENERATOR_DEFAULTS = {"samples_per_temperature": 1}


def _drop_later_defaults(resolved: dict[str, Any]) -> None:
    for spec in resolved["models"].values():
        for name, default in _LATER_MODEL_DEFAULTS.items():
            if spec.get(name) == default:
                spec.pop(name)
    generator = resolved["agents"]["generator"]
    for name, default in _LATER_GENERATOR_DEFAULTS.items():
        if generator.get(name) == default:
            generator.pop(name)


def config_from_dict(
    data: Mapping[str, Any], source: str = "<dict>", overrides: Sequence[str] = ()
) -> RunConfig:
    """Validate a raw mapping (after ``--set`` overrides) into a RunConfig or raise ConfigError."""
    raw = apply_overrides(data, overrides, source)
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        lines = validation_error_lines(exc, source)
        # Unknown aliases are only checked once the rest is valid; report them now too.
        for path, msg in unknown_alias_problems(raw.get("models"), raw.get("agents")):
            line = f"{source}: {path}: {msg}"
            if line not in lines:
                lines.append(line)
        raise ConfigError(lines) from None


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> RunConfig:
    """Read a YAML run config, apply ``--set KEY=VALUE`` overrides, validate it."""
    return config_from_dict(read_yaml_mapping(path), str(path), overrides)
