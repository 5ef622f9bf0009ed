"""The run config: paper defaults, strict keys with dotted paths, overrides, hashing, diffs."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from reasonmed.core.config import (
    ConfigError,
    RunConfig,
    config_from_dict,
    diff_configs,
    load_config,
)
from reasonmed.core.config_load import parse_yaml_mapping

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SECRET = "distinctive-secret-value-7f3a9c"


def raw_config() -> dict[str, Any]:
    """A minimal valid config: three generator aliases, everything else at its default."""
    local = "http://127.0.0.1:8765/v1"
    return {
        "models": {
            "qwen72b": {"model": "Qwen2.5-72B-Instruct", "base_url": local},
            "huatuo70b": {"model": "HuatuoGPT-o1-70B", "base_url": local},
            "r1distill70b": {"model": "DeepSeek-R1-Distill-Llama-70B", "base_url": local},
            "gpt4o": {"model": "gpt-4o", "api_key_env": "REASONMED_TEST_KEY"},
        },
        "agents": {
            "generator": {"models": ["qwen72b", "huatuo70b", "r1distill70b"]},
            "verifier": {"model": "qwen72b"},
            "ranker": {"model": "qwen72b"},
            "refiner": {"model": "gpt4o"},
            "regenerator": {"model": "gpt4o"},
            "summarizer": {"model": "gpt4o"},
        },
    }


def problems_of(data: dict[str, Any], overrides: tuple[str, ...] = ()) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config_from_dict(data, "run.yaml", overrides)
    return info.value.problems


def test_defaults_are_the_papers() -> None:
    config = config_from_dict(raw_config())
    agents = config.agents
    assert agents.generator.temperatures == [0.7, 0.9, 1.0]
    assert (agents.generator.top_p, agents.generator.max_tokens) == (0.9, 8192)
    assert (agents.verifier.temperature, agents.verifier.top_p) == (1.0, 0.95)
    assert (agents.ranker.temperature, agents.ranker.top_p, agents.ranker.max_tokens) == (
        0.7,
        0.95,
        512,
    )
    assert (agents.refiner.temperature, agents.refiner.top_p, agents.refiner.attempts) == (
        0.8,
        0.9,
        2,
    )
    assert (agents.regenerator.temperature, agents.regenerator.top_p) == (None, None)
    assert agents.regenerator.max_tokens == 16384
    assert agents.summarizer.temperature == 0.5
    assert agents.judge is None
    pipeline = config.pipeline
    assert (pipeline.keep, pipeline.easy_max_errors, pipeline.medium_max_errors) == (2, 4, 7)
    assert pipeline.answer_check is True
    assert config.paths_per_question == 9
    spec = config.models["qwen72b"]
    assert (spec.provider, spec.max_concurrency, spec.timeout_s, spec.max_retries) == (
        "openai",
        16,
        120.0,
        5,
    )


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("agents", "verifier", "temprature"), "run.yaml: agents.verifier.temprature: unknown key"),
        (("models", "qwen72b", "tiemout_s"), "run.yaml: models.qwen72b.tiemout_s: unknown key"),
        (("pipeline", "kepp"), "run.yaml: pipeline.kepp: unknown key"),
        (("agent",), "run.yaml: agent: unknown key"),
    ],
)
def test_unknown_keys_are_reported_with_their_dotted_path(
    path: tuple[str, ...], expected: str
) -> None:
    data = raw_config()
    node = data
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = 1
    assert problems_of(data) == [expected]


def test_unknown_alias_names_the_path_and_the_defined_aliases() -> None:
    data = raw_config()
    data["agents"]["refiner"]["model"] = "gpt5"
    assert problems_of(data) == [
        "run.yaml: agents.refiner.model: unknown model alias 'gpt5'; "
        "defined: qwen72b, huatuo70b, r1distill70b, gpt4o"
    ]


def test_every_problem_is_listed_at_once() -> None:
    data = raw_config()
    data["agents"]["verifier"]["temprature"] = 1.0
    data["agents"]["generator"]["models"][1] = "nope"
    data["pipeline"] = {"keep": 0}
    problems = problems_of(data)
    assert "run.yaml: agents.verifier.temprature: unknown key" in problems
    assert any(
        p.startswith("run.yaml: agents.generator.models.1: unknown model alias") for p in problems
    )
    assert any(p.startswith("run.yaml: pipeline.keep: ") for p in problems)


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("api_key_env", "sk-proj-abcdefghijklmnop1234", "models.gpt4o.api_key_env"),
        ("base_url", "https://host/v1?key=sk-abcdefghijklmnop", "models.gpt4o.base_url"),
        ("extra_body", {"headers": {"x": "Bearer abcdefghijklmnop"}}, "models.gpt4o.extra_body"),
        ("extra_body", {"api_key": "whatever"}, "models.gpt4o.extra_body.api_key"),
    ],
)
def test_a_key_in_the_config_is_rejected_without_echoing_it(
    field: str, value: Any, where: str
) -> None:
    data = raw_config()
    data["models"]["gpt4o"][field] = value
    problems = problems_of(data)
    assert any(p.startswith(f"run.yaml: {where}") and "api_key_env" in p for p in problems)
    assert "abcdefghijklmnop" not in "\n".join(problems)
    assert "whatever" not in "\n".join(problems)


def test_direct_validation_errors_do_not_echo_a_key() -> None:
    data = raw_config()
    data["models"]["gpt4o"]["base_url"] = "https://host/v1?key=sk-abcdefghijklmnop"
    with pytest.raises(ValidationError) as info:
        RunConfig.model_validate(data)
    assert "models.gpt4o.base_url" in str(info.value)
    assert "abcdefghijklmnop" not in str(info.value)


def test_a_key_field_in_a_model_points_to_api_key_env() -> None:
    data = raw_config()
    data["models"]["gpt4o"]["api_key"] = "plain-value-123"
    (problem,) = problems_of(data)
    assert problem.startswith("run.yaml: models.gpt4o.api_key: unknown key")
    assert "api_key_env" in problem and "plain-value-123" not in problem


def test_api_key_env_must_be_a_variable_name() -> None:
    data = raw_config()
    data["models"]["gpt4o"]["api_key_env"] = "my key"
    (problem,) = problems_of(data)
    assert problem.startswith("run.yaml: models.gpt4o.api_key_env: must be an environment")


def test_openai_without_base_url_needs_a_key() -> None:
    data = raw_config()
    del data["models"]["gpt4o"]["api_key_env"]
    (problem,) = problems_of(data)
    assert problem.startswith("run.yaml: models.gpt4o.api_key_env: required without base_url")


def test_azure_fields_are_required_for_azure_and_refused_elsewhere() -> None:
    data = raw_config()
    data["models"]["gpt4o"]["provider"] = "azure"
    data["models"]["qwen72b"]["api_version"] = "2024-10-21"
    problems = problems_of(data)
    assert "run.yaml: models.gpt4o.azure_endpoint: required when provider is 'azure'" in problems
    assert "run.yaml: models.gpt4o.api_version: required when provider is 'azure'" in problems
    assert "run.yaml: models.qwen72b.api_version: only used with provider 'azure'" in problems


def test_tier_thresholds_must_be_ordered_and_fit_the_paths() -> None:
    data = raw_config()
    data["pipeline"] = {"easy_max_errors": 5, "medium_max_errors": 5}
    assert problems_of(data) == [
        "run.yaml: pipeline.medium_max_errors: must be greater than easy_max_errors"
    ]
    data["pipeline"] = {}
    data["agents"]["generator"]["temperatures"] = [0.7, 1.0]  # 6 paths: 7 errors impossible
    (problem,) = problems_of(data)
    assert problem.startswith("run.yaml: pipeline.medium_max_errors: must be below")
    data["pipeline"] = {"easy_max_errors": 2, "medium_max_errors": 4}
    assert config_from_dict(data).paths_per_question == 6


def test_generator_lists_must_not_repeat() -> None:
    data = raw_config()
    data["agents"]["generator"]["temperatures"] = [0.7, 0.7, 1.0]
    assert problems_of(data) == [
        "run.yaml: agents.generator.temperatures: must not contain duplicates"
    ]


def test_overrides_set_values_with_yaml_types() -> None:
    data = raw_config()
    before = copy.deepcopy(data)
    config = config_from_dict(
        data,
        overrides=(
            "agents.verifier.model=huatuo70b",
            "agents.verifier.temperature=0.5",
            "pipeline.answer_check=false",
            "agents.generator.models=[qwen72b, huatuo70b]",
            "agents.generator.temperatures=[0.7, 0.9, 1.0]",
            "agents.generator.temperatures.0=0.6",  # applied in order
            "pipeline.easy_max_errors=1",
            "pipeline.medium_max_errors=3",
            "agents.judge.model=gpt4o",
        ),
    )
    assert config.agents.verifier.model == "huatuo70b"
    assert config.agents.verifier.temperature == 0.5
    assert config.pipeline.answer_check is False
    assert config.agents.generator.models == ["qwen72b", "huatuo70b"]
    assert config.agents.generator.temperatures == [0.6, 0.9, 1.0]
    assert config.agents.judge is not None and config.agents.judge.model == "gpt4o"
    assert data == before  # the caller's mapping is untouched


def test_an_override_cannot_add_an_unknown_key() -> None:
    problems = problems_of(raw_config(), ("agents.verifier.new_knob=3",))
    assert problems == ["run.yaml: agents.verifier.new_knob: unknown key"]


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("agents.verifier.model", "expected KEY=VALUE"),
        ("=3", "expected KEY=VALUE"),
        ("agents..model=x", "empty segment"),
        ("agents.generator.models=[a, b", "not valid YAML"),
        ("agents.verifier.model.x=1", "agents.verifier.model is a str, not a mapping"),
        ("agents.generator.models.7=qwen72b", "not an index"),
    ],
)
def test_a_malformed_override_is_named(override: str, fragment: str) -> None:
    (problem,) = problems_of(raw_config(), (override,))
    assert problem.startswith(f"run.yaml: --set {override!r}: ")
    assert fragment in problem


def test_load_config_reads_yaml_and_applies_overrides(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(raw_config()), encoding="utf-8")
    config = load_config(path, ["pipeline.concurrency=3"])
    assert config.pipeline.concurrency == 3
    assert config == config_from_dict(raw_config(), overrides=["pipeline.concurrency=3"])


def test_yaml_syntax_error_reports_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("models:\n  a:\n    model: x\n  b: [unclosed\nagents: {}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    (problem,) = info.value.problems
    assert problem.startswith(f"{path} line ")
    assert int(problem.split(" line ")[1].split(":")[0]) in (4, 5)


def test_duplicate_yaml_keys_are_an_error(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("pipeline:\n  keep: 2\n  keep: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"line 3: .*duplicate key 'keep'"):
        load_config(path)


def test_yaml_merge_keys_may_be_overridden_but_keys_not_repeated() -> None:
    data = parse_yaml_mapping("base: &b {url: u, t: 3}\na: {<<: *b, t: 5}\n")
    assert data["a"] == {"url": "u", "t": 5}
    with pytest.raises(ConfigError, match=r"f\.yaml line 2: .*duplicate key 't'"):
        parse_yaml_mapping("base: &b {url: u}\na: {<<: *b, t: 5, t: 6}\n", "f.yaml")


def test_top_level_must_be_a_mapping_and_file_must_exist(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="top level must be a mapping, got list"):
        load_config(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


def test_resolved_dict_holds_env_names_never_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REASONMED_TEST_KEY", SECRET)
    config = config_from_dict(raw_config())
    resolved = config.resolved_dict()
    text = json.dumps(resolved)
    assert SECRET not in text
    assert resolved["models"]["gpt4o"]["api_key_env"] == "REASONMED_TEST_KEY"
    # The hash leaves out each model's `client` (how requests are sent, not what is sent), and
    # settings added later while they hold the default that reproduces the old behaviour, so
    # runs started before those fields existed keep their hash.
    assert all(spec.pop("client") == "sdk" for spec in resolved["models"].values())
    assert all(spec.pop("structured_output") == "none" for spec in resolved["models"].values())
    assert resolved["agents"]["generator"].pop("samples_per_temperature") == 1
    assert resolved.pop("dataset") == {"license": "unknown", "languages": ["en"]}  # never hashed
    canonical = json.dumps(resolved, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert config.config_hash() == hashlib.sha256(canonical.encode()).hexdigest()


@pytest.mark.parametrize(
    "override",
    ["models.gpt4o.structured_output=auto", "agents.generator.samples_per_temperature=2"],
)
def test_a_later_setting_changes_the_hash_once_set(override: str) -> None:
    raw = raw_config()
    plain = config_from_dict(raw)
    changed = config_from_dict(raw, overrides=[override])
    assert changed.config_hash() != plain.config_hash()


def test_samples_per_temperature_multiplies_the_paths() -> None:
    raw = raw_config()
    config = config_from_dict(raw, overrides=["agents.generator.samples_per_temperature=3"])
    gen = config.agents.generator
    assert config.paths_per_question == len(gen.models) * len(gen.temperatures) * 3
    with pytest.raises(ConfigError, match="samples_per_temperature"):
        config_from_dict(raw, overrides=["agents.generator.samples_per_temperature=0"])


def test_structured_output_is_for_openai_compatible_providers() -> None:
    raw = raw_config()
    config = config_from_dict(raw, overrides=["models.gpt4o.structured_output=json_schema"])
    assert config.models["gpt4o"].structured_output == "json_schema"
    with pytest.raises(ConfigError, match="structured_output"):
        config_from_dict(raw, overrides=["models.gpt4o.structured_output=xml"])


def test_resolved_dict_fills_defaults_and_restores_the_same_config() -> None:
    config = config_from_dict(raw_config())
    resolved = config.resolved_dict()
    assert resolved["agents"]["ranker"]["max_tokens"] == 512
    assert resolved["pipeline"]["medium_max_errors"] == 7
    assert RunConfig.model_validate(resolved) == config
    assert RunConfig.model_validate(resolved).config_hash() == config.config_hash()


def test_config_hash_is_stable_and_tracks_changes() -> None:
    data = raw_config()
    reordered = {"agents": data["agents"], "models": dict(reversed(data["models"].items()))}
    first = config_from_dict(data).config_hash()
    assert first == config_from_dict(raw_config()).config_hash()
    assert first == config_from_dict(reordered).config_hash()
    changed = config_from_dict(data, overrides=["agents.ranker.temperature=0.6"]).config_hash()
    assert changed != first
    # Writing a default explicitly is the same config.
    explicit = config_from_dict(data, overrides=["agents.ranker.temperature=0.7"]).config_hash()
    assert explicit == first


def test_diff_configs_lists_dotted_changes() -> None:
    old = config_from_dict(raw_config()).resolved_dict()
    new = config_from_dict(
        raw_config(),
        overrides=["agents.refiner.model=qwen72b", "agents.judge.model=gpt4o"],
    ).resolved_dict()
    lines = diff_configs(old, new)
    assert "agents.refiner.model: 'gpt4o' -> 'qwen72b'" in lines
    assert "agents.judge: None -> {" in "\n".join(lines)
    assert diff_configs(old, old) == []
    assert diff_configs({"a": {"b": 1}}, {"a": {}, "c": [1]}) == [
        "a.b: 1 -> (absent)",
        "c: (absent) -> [1]",
    ]
    assert diff_configs({"x": 1}, {"x": 1.0}) == ["x: 1 -> 1.0"]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("config.*.yaml")), ids=lambda p: p.name)
def test_example_configs_load(path: Path) -> None:
    config = load_config(path)
    # The paper's 9 paths, but for the laptop config: 3 samples of one small model.
    assert config.paths_per_question == (3 if path.name == "config.smollm.yaml" else 9)


def test_the_three_example_configs_exist() -> None:
    names = {path.name for path in EXAMPLES.glob("config.*.yaml")}
    assert {"config.mock.yaml", "config.vllm.yaml", "config.openai.yaml"} <= names


def test_the_commented_azure_example_is_valid() -> None:
    text = (EXAMPLES / "config.openai.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "# gpt4o_azure:")
    block = []
    for line in lines[start:]:
        if not line.strip():
            break
        block.append(line.replace("# ", "", 1))
    entry = yaml.safe_load("\n".join(line[2:] for line in block))
    data = raw_config()
    data["models"].update(entry)
    data["agents"]["refiner"]["model"] = "gpt4o_azure"
    config = config_from_dict(data)
    assert config.models["gpt4o_azure"].provider == "azure"
