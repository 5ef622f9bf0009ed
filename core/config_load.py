"""The raw side of the run config: YAML reading, ``--set`` overrides and diffs.

Everything here works on plain mappings or on pydantic's errors, apart from the schema in
config.py, so that every problem can be reported against the file and the dotted path the user
typed.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

__all__ = [
    "KEY_LIKE",
    "SECRET_FIELD_NAMES",
    "USE_ENV_HINT",
    "ConfigError",
    "PathProblems",
    "apply_overrides",
    "diff_configs",
    "find_secret_like",
    "parse_yaml_mapping",
    "read_yaml_mapping",
    "unknown_alias_problems",
    "validation_error_lines",
]

_MISSING = object()
KEY_LIKE = re.compile(
    r"(?:^|[\s:=\"'])(?:sk-|sk_|rk-|hf_|gsk_|xai-|ghp_|github_pat_|AIza|Bearer\s)[A-Za-z0-9_\-]{8,}"
)
SECRET_FIELD_NAMES = {"api_key", "apikey", "authorization", "password", "secret", "access_token"}
USE_ENV_HINT = "put the key in an environment variable and set api_key_env to that variable's NAME"


class ConfigError(Exception):
    """A run config that cannot be used; the message lists every problem, one per line.

    Lines read ``FILE: dotted.path: message`` (``FILE line N: message`` for YAML syntax), so the
    user can fix them all in one go instead of one per run.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems: list[str] = list(problems)
        super().__init__("\n".join(self.problems))


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys: YAML would silently keep the last one."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # keys written next to a `<<:` merge override it, as YAML intends
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, Hashable):
            continue  # construct_mapping reports it with its line
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,  # type: ignore[arg-type]
)


def _yaml_problem(source: str, exc: yaml.YAMLError) -> str:
    """One line for a YAML error, with a 1-based line number when PyYAML knows it."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        return f"{source} line {exc.problem_mark.line + 1}: {what or exc}"
    return f"{source}: {exc}"


def parse_yaml_mapping(text: str, source: str = "<string>") -> dict[str, Any]:
    """Parse YAML text whose top level must be a mapping (an empty document counts as ``{}``)."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        raise ConfigError([_yaml_problem(source, exc)]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{source}: top level must be a mapping, got {type(data).__name__}"])
    return data


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file into a mapping, turning I/O and syntax errors into ConfigError."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    return parse_yaml_mapping(text, str(path))


def _parse_override(item: str) -> tuple[list[str], Any]:
    """Split ``a.b.c=VALUE`` into its path and its YAML-scalar value; ValueError if malformed."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValueError("expected KEY=VALUE with a dotted KEY")
    parts = key.split(".")
    if any(not part.strip() for part in parts):
        raise ValueError(f"empty segment in key {key!r}")
    try:
        value = yaml.load(raw, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        raise ValueError(f"value is not valid YAML: {problem}") from None
    return [part.strip() for part in parts], value


def _set_path(data: dict[str, Any], parts: list[str], value: Any) -> None:
    """Set ``value`` at ``parts``, creating missing mappings; list items are addressed by index."""
    node: Any = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[:depth]) or "the top level"
        if isinstance(node, dict):
            if last:
                node[part] = value
            else:
                if node.get(part) is None:
                    node[part] = {}
                node = node[part]
        elif isinstance(node, list):
            if not part.lstrip("-").isdigit() or not -len(node) <= int(part) < len(node):
                raise ValueError(
                    f"{where} is a list of {len(node)}; {part!r} is not an index in it"
                )
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
        else:
            raise ValueError(f"{where} is a {type(node).__name__}, not a mapping")


def apply_overrides(
    data: Mapping[str, Any], overrides: Sequence[str], source: str = "<dict>"
) -> dict[str, Any]:
    """Return a copy of ``data`` with every ``--set KEY=VALUE`` applied in order.

    VALUE is read as YAML so ``0.5``, ``true`` and ``[a, b]`` keep their types; all malformed
    overrides are reported together, each named as the user typed it.
    """
    result = _deep_copy(data)
    problems: list[str] = []
    for item in overrides:
        try:
            parts, value = _parse_override(item)
            _set_path(result, parts, value)
        except ValueError as exc:
            problems.append(f"{source}: --set {item!r}: {exc}")
    if problems:
        raise ConfigError(problems)
    return result


def _deep_copy(value: Any) -> Any:
    """Copy nested dicts and lists so overrides never mutate the caller's mapping."""
    if isinstance(value, Mapping):
        return {key: _deep_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_deep_copy(item) for item in value]
    return value


def _walk_diff(old: Any, new: Any, path: str, out: list[str]) -> None:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted({*old.keys(), *new.keys()}, key=str):
            child = f"{path}.{key}" if path else str(key)
            _walk_diff(old.get(key, _MISSING), new.get(key, _MISSING), child, out)
        return
    if old is _MISSING or new is _MISSING or old != new or type(old) is not type(new):
        before = "(absent)" if old is _MISSING else repr(old)
        after = "(absent)" if new is _MISSING else repr(new)
        if before != after:
            out.append(f"{path or '(top level)'}: {before} -> {after}")


def diff_configs(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Human-readable differences between two resolved configs, one dotted path per line.

    Used to refuse (and explain) a silent config change when a run is resumed; lists are
    compared whole because their items have no stable names.
    """
    out: list[str] = []
    _walk_diff(old, new, "", out)
    return out


class PathProblems(ValueError):
    """Several problems under one validated object, each with a dotted path relative to it."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{path}: {msg}" if path else msg for path, msg in problems))


def find_secret_like(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Yield (path, problem) for every string or key under ``value`` that looks like a secret."""
    if isinstance(value, str):
        if KEY_LIKE.search(value):
            yield path, f"looks like an API key; {USE_ENV_HINT}"
    elif isinstance(value, Mapping):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if str(key).lower() in SECRET_FIELD_NAMES:
                yield child, f"secrets do not belong in the config; {USE_ENV_HINT}"
            else:
                yield from find_secret_like(item, child)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from find_secret_like(item, f"{path}.{index}")


def unknown_alias_problems(models: Any, agents: Any) -> list[tuple[str, str]]:
    """(path, problem) for every agent alias missing from ``models``; tolerant of raw input."""
    if not isinstance(models, Mapping) or not isinstance(agents, Mapping):
        return []
    defined = ", ".join(str(alias) for alias in models) or "(none)"
    refs: list[tuple[str, Any]] = []
    generator = agents.get("generator")
    if isinstance(generator, Mapping) and isinstance(generator.get("models"), list):
        refs += [(f"generator.models.{i}", a) for i, a in enumerate(generator["models"])]
    for name in ("verifier", "ranker", "refiner", "regenerator", "summarizer", "judge"):
        agent = agents.get(name)
        if isinstance(agent, Mapping) and "model" in agent:
            refs.append((f"{name}.model", agent["model"]))
    problems = []
    for path, alias in refs:
        if isinstance(alias, str) and alias not in models:
            if KEY_LIKE.search(alias):  # never echo something that may be a key
                problems.append((f"agents.{path}", "looks like an API key, not a model alias"))
            else:
                problems.append(
                    (f"agents.{path}", f"unknown model alias {alias!r}; defined: {defined}")
                )
    return problems


def validation_error_lines(exc: ValidationError, source: str) -> list[str]:
    """Turn pydantic errors into ``SOURCE: dotted.path: message`` lines."""
    lines: list[str] = []
    for error in exc.errors(include_url=False):
        base = ".".join(str(part) for part in error["loc"])
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, PathProblems):
            pairs = [(".".join(p for p in (base, path) if p), msg) for path, msg in cause.problems]
        elif error["type"] == "extra_forbidden":
            key = str(error["loc"][-1]).lower() if error["loc"] else ""
            hint = f"; {USE_ENV_HINT}" if key in SECRET_FIELD_NAMES else ""
            pairs = [(base, f"unknown key{hint}")]
        elif error["type"] == "missing":
            pairs = [(base, "required key is missing")]
        else:
            pairs = [(base, error["msg"].removeprefix("Value error, "))]
        lines += [f"{source}: {path or '(top level)'}: {msg}" for path, msg in pairs]
    return lines
