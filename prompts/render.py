"""Strict rendering of the agents' prompt templates.

Each agent has a system and a user template (``<agent>.system.txt``, ``<agent>.user.txt``) shipped
as package data. Rendering is strict in both directions, a missing variable and an unused one are
errors, so a caller that drifts from a template fails loudly instead of sending a half-filled
prompt. Every render carries two hashes: the templates' (which version of the prompt was used) and
the rendered text's (what exactly was sent), both recorded with the model call.
"""

from __future__ import annotations

import functools
import hashlib
import json
import string
from dataclasses import dataclass
from importlib import resources

AGENTS: tuple[str, ...] = (
    "generator",
    "verifier",
    "ranker",
    "refiner",
    "regenerator",
    "summarizer",
    "judge",
    "examinee",
)
ROLES: tuple[str, str] = ("system", "user")


class PromptError(ValueError):
    """A template cannot be rendered with the variables given (or cannot be loaded)."""


@dataclass(frozen=True)
class RenderedPrompt:
    """The chat messages for one agent call plus the hashes recorded with it."""

    agent: str
    messages: list[dict[str, str]]
    template_hash: str
    text_hash: str


@dataclass(frozen=True)
class _Templates:
    system: str
    user: str
    variables: frozenset[str]
    sha256: str


def format_question_block(question: str, options: dict[str, str], context: str = "") -> str:
    """Lay out a question the one way every template (and the mock server's parser) expects."""
    if not options:
        raise PromptError("a question block needs at least one option")
    texts = [question, context, *options.keys(), *options.values()]
    if not all(isinstance(text, str) for text in texts):
        raise PromptError("question, context and options must all be strings")
    parts: list[str] = []
    if context.strip():
        parts.append(f"Context:\n{context.strip()}")
    parts.append(f"Question:\n{question.strip()}")
    lines = "\n".join(f"{letter}. {text.strip()}" for letter, text in options.items())
    parts.append(f"Options:\n{lines}")
    return "\n\n".join(parts)


def _placeholders(agent: str, text: str) -> set[str]:
    """Field names in a template; only bare identifiers are allowed, so values are never indexed."""
    names: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise PromptError(f"template for {agent!r} is malformed: {exc}") from exc
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise PromptError(f"template for {agent!r} has an unsupported placeholder {{{field}}}")
        names.add(field)
    return names


@functools.cache
def _load(agent: str) -> _Templates:
    """Read an agent's two templates once, through importlib.resources so wheels work too."""
    if agent not in AGENTS:
        raise PromptError(f"unknown agent {agent!r}; expected one of {', '.join(AGENTS)}")
    package = resources.files(__package__ or "reasonmed.prompts")
    raw = {role: package.joinpath(f"{agent}.{role}.txt").read_bytes() for role in ROLES}
    digest = hashlib.sha256()
    for role in ROLES:
        digest.update(raw[role])
        digest.update(b"\0")
    system, user = (raw[role].decode("utf-8").rstrip("\n") for role in ROLES)
    variables = frozenset(_placeholders(agent, system) | _placeholders(agent, user))
    return _Templates(system=system, user=user, variables=variables, sha256=digest.hexdigest())


def template_variables(agent: str) -> frozenset[str]:
    """The exact set of variables ``render`` requires for ``agent``."""
    return _load(agent).variables


def template_hashes() -> dict[str, str]:
    """Hash of every agent's templates, recorded with a run so prompt changes are visible."""
    return {agent: _load(agent).sha256 for agent in AGENTS}


def render(agent: str, **variables: str) -> RenderedPrompt:
    """Fill an agent's templates; a missing, unused or non-string variable raises PromptError."""
    templates = _load(agent)
    missing = sorted(templates.variables - variables.keys())
    if missing:
        raise PromptError(f"prompt {agent!r} is missing variable(s): {', '.join(missing)}")
    unknown = sorted(variables.keys() - templates.variables)
    if unknown:
        raise PromptError(f"prompt {agent!r} does not use variable(s): {', '.join(unknown)}")
    for name, value in variables.items():
        if not isinstance(value, str):
            kind = type(value).__name__
            raise PromptError(f"prompt {agent!r} variable {name!r} must be str, got {kind}")
    messages = [
        {"role": "system", "content": templates.system.format(**variables)},
        {"role": "user", "content": templates.user.format(**variables)},
    ]
    canonical = json.dumps(messages, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return RenderedPrompt(
        agent=agent,
        messages=messages,
        template_hash=templates.sha256,
        text_hash=hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
    )
