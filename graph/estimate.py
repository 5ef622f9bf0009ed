"""Expected calls, tokens and cost of running a question file, worked out before any model call.

Method (also returned, in words, as ``Estimate.assumptions``). Prompt tokens: each agent's real
templates rendered for every question of the file (streamed), with placeholders of the expected
length where it reads model-written text (a CoT, Error reasons); a prompt's length is linear in a
placeholder's, so each question is rendered once with empty ones and their lengths added; tokens
= characters / 4, a heuristic (no tokenizer download), about +-25% for English medical text.
Completion tokens per call: an override, else the mean of at least MIN_OBSERVED_CALLS calls in
earlier runs (``Observed``), else DEFAULT_REPLY_TOKENS capped at the agent's max_tokens. Calls:
routing.py's rules applied to an expected distribution of Error counts (the observed tier mix,
else DEFAULT_TIER_MIX, even within a tier) and a pass rate per rewrite round. Cost per agent:
calls x (prompt x input price + completion x output price) / 1e6 at its alias's prices.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel

from reasonmed.core.config import RunConfig
from reasonmed.graph.routing import assign_tier
from reasonmed.prompts.render import format_question_block, render, template_variables
from reasonmed.sources.source_reader import open_source

CHARS_PER_TOKEN = 4
MIN_OBSERVED_CALLS = 20  # calls of an agent (with usage reported) before its mean reply is used
MIN_OBSERVED_QUESTIONS = 10  # finished questions before their tier mix is used
MIN_OBSERVED_ROUNDS = 5  # refine / regenerate rounds before their pass rate is used
LINES = ("generator", "verifier", "ranker", "refiner", "regenerator", "reverifier", "summarizer")
TIERS = ("easy", "medium", "difficult")
_TEMPLATES = LINES[:5] + LINES[6:]  # re-verification renders the verifier's templates
_REWRITERS = ("refiner", "regenerator")
# Our guesses: a six-step CoT, a one- or two-sentence JSON verdict or score, an o1-class rewrite
# (its hidden reasoning is billed as output) and a one- or two-sentence summary.
DEFAULT_REPLY_TOKENS = dict(
    generator=1500, verifier=100, ranker=60, refiner=1500, regenerator=4000, reverifier=100,
    summarizer=80,
)  # fmt: skip
# The paper made 370K examples from 194,925 questions (1.90 each): with 2 examples per easy or
# medium question and 1 per difficult one, about 10% difficult. The 70/20 split is our guess.
DEFAULT_TIER_MIX = {"easy": 0.70, "medium": 0.20, "difficult": 0.10}
DEFAULT_PASS_RATE = 0.7  # our guess: a rewrite passes re-verification in 70% of rounds
_METHOD = [
    "prompt tokens: each agent's templates rendered for every question, with placeholders of the "
    "expected length for model-written text; tokens = characters / 4, a heuristic without a "
    "tokenizer (about +-25% for English medical text)",
    "text a model wrote and a later agent reads is taken as its reply tokens x 4 characters "
    "(hidden reasoning tokens of o1-class models make this an overestimate)",
    "calls: one request per step; parse re-asks, re-samples of empty or cut replies and transport "
    "retries come on top, cache hits are not subtracted; min / max hold for any tier mix",
    "cost = calls x (prompt tokens x input price + completion tokens x output price) / 1e6 at "
    "each agent's alias prices (USD per million tokens)",
]


class Observed(BaseModel):
    """What earlier runs' logs say (read by `graph.observed_runs`); any field may be empty."""

    reply_tokens: dict[str, float] = {}  # line -> mean completion tokens per call
    reply_calls: dict[str, int] = {}  # line -> calls behind that mean
    errors: dict[str, dict[int, int]] = {}  # tier -> Error count -> finished questions
    rounds: dict[str, int] = {}  # "refiner" / "regenerator" -> rewrite rounds
    passes: dict[str, int] = {}  # "refiner" / "regenerator" -> rounds that passed re-verification


class Usage(BaseModel):
    """Expected calls with their bounds, tokens, and USD (None when no price is known)."""

    calls: float
    calls_min: int
    calls_max: int
    prompt_tokens: float
    completion_tokens: float
    cost: float | None
    cost_min: float | None  # at calls_min and calls_max
    cost_max: float | None


class AgentLine(Usage):
    """One agent's expected share of the run; re-verification is a line of its own."""

    agent: str
    aliases: list[str]  # the generator's calls are split evenly over its aliases
    models: list[str]
    reply_tokens_per_call: float
    reply_source: str


class Estimate(BaseModel):
    """The expected calls, tokens and cost of a run, and what they rest on."""

    questions: int
    tier_mix: dict[str, float]
    lines: list[AgentLine]
    totals: Usage  # costs summed over the priced lines only: see unpriced_aliases
    unpriced_aliases: list[str]
    examples: float
    cost_per_example: float | None
    assumptions: list[str]


def estimate(
    questions_path: str | Path,
    config: RunConfig,
    *,
    observed: Observed | None = None,
    reply_tokens: Mapping[str, float] | None = None,
    question_format: str = "reasonmed",
    cop_base: int | None = None,
) -> Estimate:
    """The expected calls, tokens and cost of running ``questions_path`` with ``config``.

    ``question_format`` and ``cop_base`` say how to read the file, as for `run`."""
    obs, notes = observed or Observed(), list(_METHOD)
    reply, sources = _reply_tokens(config, obs, reply_tokens or {}, notes)
    dist, mix = _error_distribution(config, obs, notes)
    flow, bounds = _flow(config, dist, *(_rewrites(config, obs, a, notes) for a in _REWRITERS))
    gen, ref, reg = (reply[k] * CHARS_PER_TOKEN for k in ("generator", *_REWRITERS))
    reason = reply["verifier"] * CHARS_PER_TOKEN + 3  # one "- reason" line per Error reason
    reasons = {k: flow[f"{k}_reasons"] / (flow[k] or 1.0) * reason for k in _REWRITERS}
    rewritten = [(ref, flow["reads_refined"]), (reg, flow["reads_regenerated"])]
    summarized = [(gen, flow["summarizer"] - sum(w for _, w in rewritten)), *rewritten]
    fill = {
        "verifier": {"cot": gen},
        "ranker": {"cot": gen},
        "refiner": {"cot": gen, "error_reasons": reasons["refiner"]},
        "regenerator": {"cot": gen, "error_reasons": reasons["regenerator"]},
        "reverifier": {"cot": _mean((ref, flow["refiner"]), (reg, flow["regenerator"]))},
        "summarizer": {"cot": _mean(*summarized)},
    }
    count, base = 0, dict.fromkeys(_TEMPLATES, 0)  # characters with empty placeholders
    questions = open_source(questions_path, question_format, cop_base).questions()
    for q in questions:  # streamed: one question at a time
        block, gold = format_question_block(q.question, q.options, q.context), q.gold_text()
        for template in _TEMPLATES:
            base[template] += _chars(template, question_block=block, gold_answer=gold)
        count += 1
    prices, lines = config.prices(), []
    for name in LINES:
        template = "verifier" if name == "reverifier" else name
        placeholders = {var: "x" * round(n) for var, n in fill.get(name, {}).items()}
        extra = _chars(template, **placeholders) - _chars(template)  # linear in each length
        per_call = (base[template] / max(count, 1) + extra) / CHARS_PER_TOKEN
        agent = getattr(config.agents, template)
        aliases = list(agent.models) if name == "generator" else [agent.model]
        price, unit = [prices[a] for a in aliases], None  # unit: USD per call, over the aliases
        if (None, None) not in price:
            unit = sum(per_call * (i or 0) + reply[name] * (o or 0) for i, o in price) / len(price)
        calls, lo, hi = (n * count for n in (flow[name], *bounds[name]))
        lines.append(
            AgentLine(
                agent=name,
                aliases=aliases,
                models=[config.models[a].model for a in aliases],
                calls=calls,
                calls_min=round(lo),
                calls_max=round(hi),
                prompt_tokens=calls * per_call,
                completion_tokens=calls * reply[name],
                cost=None if unit is None else calls * unit / 1e6,
                cost_min=None if unit is None else lo * unit / 1e6,
                cost_max=None if unit is None else hi * unit / 1e6,
                reply_tokens_per_call=reply[name],
                reply_source=sources[name],
            )
        )
    unpriced = sorted({a for x in lines for a in x.aliases if prices[a] == (None, None)})
    if unpriced:
        notes.append(f"no price for {', '.join(unpriced)}: their agents' cost is left out")
    known = {f: [v for x in lines if (v := getattr(x, f)) is not None] for f in Usage.model_fields}
    totals = {f: sum(v) if v or not f.startswith("cost") else None for f, v in known.items()}
    examples, cost = flow["summarizer"] * count, totals["cost"]  # one example per summary
    return Estimate(
        questions=count,
        tier_mix=mix,
        lines=lines,
        totals=Usage(**totals),
        unpriced_aliases=unpriced,
        examples=examples,
        cost_per_example=None if cost is None or not examples else cost / examples,
        assumptions=notes,
    )


def _reply_tokens(
    config: RunConfig, obs: Observed, overrides: Mapping[str, float], notes: list[str]
) -> tuple[dict[str, float], dict[str, str]]:
    """Completion tokens per call, and where each figure comes from."""
    unknown = sorted(set(overrides) - set(LINES))
    if unknown:
        raise ValueError(f"reply tokens for unknown agent(s) {', '.join(unknown)}; use {LINES}")
    tokens, sources = {}, {}
    for name in LINES:
        same = (name, "verifier") if name == "reverifier" else (name,)  # same prompt and model
        seen = next((k for k in same if obs.reply_calls.get(k, 0) >= MIN_OBSERVED_CALLS), None)
        cap = getattr(config.agents, same[-1]).max_tokens
        if name in overrides:
            tokens[name], sources[name] = float(overrides[name]), "--reply-tokens"
        elif seen is not None:
            tokens[name] = obs.reply_tokens[seen]
            sources[name] = f"observed mean of {obs.reply_calls[seen]} {seen} calls"
        else:
            tokens[name] = float(min(DEFAULT_REPLY_TOKENS[name], cap))
            capped = DEFAULT_REPLY_TOKENS[name] > cap
            sources[name] = "default" + (f" capped at max_tokens {cap}" if capped else "")
    listed = ", ".join(f"{k} {tokens[k]:.0f} ({sources[k]})" for k in LINES)
    notes.append(f"reply (completion) tokens per call: {listed}")
    return tokens, sources


def _error_distribution(
    config: RunConfig, obs: Observed, notes: list[str]
) -> tuple[dict[int, float], dict[str, float]]:
    """The probability of each Error count per question, and the tier mix it amounts to."""
    paths = config.paths_per_question
    ranges = {t: [e for e in range(paths + 1) if assign_tier(e, config) == t] for t in TIERS}
    finished = sum(n for per_tier in obs.errors.values() for n in per_tier.values())
    seen = finished >= MIN_OBSERVED_QUESTIONS
    mix = dict(DEFAULT_TIER_MIX)
    if seen:
        mix = {t: sum(obs.errors.get(t, {}).values()) / finished for t in TIERS}
    dist: dict[int, float] = {}
    for tier, errors in ranges.items():
        counts = {e: n for e, n in obs.errors.get(tier, {}).items() if e in errors} if seen else {}
        for e in errors:
            share = counts.get(e, 0) / sum(counts.values()) if counts else 1 / len(errors)
            dist[e] = mix[tier] * share
    shares = ", ".join(f"{t} {mix[t]:.0%}" for t in TIERS)
    spans = ", ".join(f"{t} {r[0]}-{r[-1]}" for t, r in ranges.items())
    how = f"observed over {finished} finished questions, with their Error counts"
    if not seen:
        how = (
            f"ASSUMED (under {MIN_OBSERVED_QUESTIONS} finished questions observed): 10% difficult "
            "from the paper's 370K examples of 194,925 questions, the 70/20 split of the rest our "
            "guess, Error counts even within a tier"
        )
    notes.append(f"tier mix {shares}: {how} (tiers: {spans} Errors of {paths})")
    return dist, mix


def _rewrites(config: RunConfig, obs: Observed, agent: str, notes: list[str]) -> tuple[float, ...]:
    """Expected refine / regenerate rounds of a kept CoT and the chance one passes, from a pass
    rate per round: observed, else DEFAULT_PASS_RATE."""
    rounds, passes = obs.rounds.get(agent, 0), obs.passes.get(agent, 0)
    seen = rounds >= MIN_OBSERVED_ROUNDS
    rate = min(passes / rounds, 1.0) if seen else DEFAULT_PASS_RATE
    attempts = getattr(config.agents, agent).attempts
    expected = sum((1 - rate) ** i for i in range(attempts))
    how = f"observed, {passes} of {rounds} rounds" if seen else "ASSUMED, our guess"
    notes.append(
        f"{agent}: a rewrite passes re-verification in {rate:.0%} of rounds ({how}): "
        f"{expected:.2f} rounds per kept CoT on average, 1 to {attempts}"
    )
    return expected, 1 - (1 - rate) ** attempts


def _calls(config: RunConfig, errors: int, rounds: tuple[float, ...]) -> dict[str, float]:
    """Calls per line (routing.py's rules) and placeholder weights for ``errors`` Error verdicts;
    ``rounds`` = (refine rounds per kept CoT, chance one passes, regenerate rounds, chance)."""
    paths, keep = config.paths_per_question, config.pipeline.keep
    correct, tier = paths - errors, assign_tier(errors, config)
    extra = ("reads_refined", "reads_regenerated", "refiner_reasons", "regenerator_reasons")
    calls = dict.fromkeys((*LINES, *extra), 0.0)
    calls["generator"] = calls["verifier"] = paths
    if tier == "difficult":  # one seed CoT: regenerate + re-verify rounds; rejected if all fail
        calls["regenerator"] = calls["reverifier"] = rounds[2]
        calls["summarizer"] = calls["reads_regenerated"] = rounds[3]
        calls["regenerator_reasons"] = rounds[2] * errors
        return calls
    kept = min(correct, keep)
    calls["ranker"] = correct if correct > keep else 0  # nothing to choose: no ranker call
    calls["summarizer"] = kept  # a medium CoT whose rewrites all fail keeps its original
    if tier == "medium":  # each kept CoT: refine + re-verify rounds
        calls["refiner"] = calls["reverifier"] = kept * rounds[0]
        calls["reads_refined"] = kept * rounds[1]
        calls["refiner_reasons"] = kept * rounds[0] * errors
    return calls


def _flow(
    config: RunConfig, dist: dict[int, float], refine: tuple[float, ...], regen: tuple[float, ...]
) -> tuple[dict[str, float], dict[str, tuple[float, float]]]:
    """Expected calls per question per line (and weights); the bounds for any verdicts."""
    ref, reg = config.agents.refiner.attempts, config.agents.regenerator.attempts
    per_errors = [(p, _calls(config, e, (*refine, *regen))) for e, p in dist.items()]
    flow = {k: sum(p * c[k] for p, c in per_errors) for k in per_errors[0][1]}
    counts = range(config.paths_per_question + 1)
    extremes = [_calls(config, e, r) for e in counts for r in ((1, 1, 1, 1), (ref, 0, reg, 0))]
    return flow, {k: (min(c[k] for c in extremes), max(c[k] for c in extremes)) for k in LINES}


def _chars(template: str, **values: str) -> int:
    """Characters of one rendered prompt (system + user); variables not given are empty."""
    variables = {name: values.get(name, "") for name in template_variables(template)}
    return sum(len(message["content"]) for message in render(template, **variables).messages)


def _mean(*weighted: tuple[float, float]) -> float:
    """The mean of (value, weight) pairs; the first value when every weight is 0."""
    total = sum(w for _, w in weighted)
    return sum(v * w for v, w in weighted) / total if total else weighted[0][0]
