"""The dataset card (README.md): the Hub's YAML header, then what the data is and where it came
from, in numbers a reader can check against `reasonmed status --json`.

Pure text from `CardFacts`; nothing here reads a database or a file.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import yaml

from reasonmed.exports.card_facts import CardFacts

_SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"))
_SIZES += ((1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"))

_SHAPES = {
    "alpaca": "`instruction` (question and lettered options), `input` (context or empty), `output`",
    "messages": "`messages`: a user turn (context, question, options) and an assistant turn, "
    "after a system turn when one was set",
    "sharegpt": "`conversations`: `human` then `gpt` turns (`from` / `value`), after a "
    "`system` turn when one was set",
    "o1": "`Question`, `Complex_CoT` (the chain of thought) and `Response` (the summary)",
    "think": "`messages` whose assistant turn is `<think>` chain of thought `</think>` then the "
    "summary",
}
_VARIANTS = {
    "reasonmed": "the chain of thought followed by its summary",
    "cotmed": "the chain of thought alone",
    "responsemed": "the summary alone",
}


def size_category(n: int) -> str:
    """The Hub's size bucket for n examples."""
    return next((label for bound, label in _SIZES if n < bound), "n>10M")


def _yaml_header(f: CardFacts) -> str:
    names = list(f.num_bytes)  # the splits with data: a split without rows is not shipped
    examples = f.counts.examples
    header = {
        "pretty_name": f"ReasonMed run {f.run.run_id}",
        "license": f.license,
        "language": f.languages,
        "task_categories": ["question-answering", "text-generation"],
        "tags": ["medical", "chain-of-thought", "reasoning", "synthetic"],
        "size_categories": [size_category(f.counts.total)],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": n, "path": f"data/{n}-*"} for n in names],
            }
        ],
        "dataset_info": {
            "features": f.features,
            "splits": [
                {
                    "name": n,
                    "num_bytes": f.num_bytes.get(n, 0),
                    "num_examples": examples[n],
                }
                for n in names
            ],
            "download_size": f.download_size,
            "dataset_size": sum(f.num_bytes.values()),
        },
    }
    return "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True) + "---\n"


def _table(head: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _count_table(title: str, counts: Counter[str], total: int) -> str:
    rows = [(key or "(none)", n, _pct(n, total)) for key, n in sorted(counts.items())]
    return _table((title, "examples", "share"), rows)


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


def _method(f: CardFacts) -> str:
    run = f.run
    paths = run.paths_per_question or "several"
    generators = len(run.agents.get("generator", [])) or "several"
    temps = ", ".join(f"{t:g}" for t in run.temperatures) or "several"
    tiers = "easy (few failures), medium or difficult (nearly all failed)"
    if run.tier_bounds and run.paths_per_question:
        easy, medium = run.tier_bounds
        tiers = (
            f"easy (0-{easy} of {paths} failed), medium ({easy + 1}-{medium}) or difficult "
            f"({medium + 1}-{paths})"
        )
    keep = f"the best {run.keep}" if run.keep else "the best"
    return f"""## How it was made

Every source question was answered {paths} times by {generators} generator model(s) at
temperatures {temps}, each answer a chain of thought (CoT) written without seeing the gold one.
A verifier model then judged each chain against the known answer, and a chain counted as
correct only when the verifier agreed and the option extracted from its final line was the gold
one. How many chains failed placed the question in a tier: {tiers}.

The tier decided what happened next. For easy questions a ranker scored the correct chains and
{keep} were kept. For medium questions {keep} correct chains were revised by a refiner that
saw what the failed chains got wrong, and a revision was kept only if it passed verification
again; otherwise the verified original stayed. For difficult questions a stronger model rewrote
a chain, and the question was dropped if no rewrite passed. A summarizer finally wrote a short
answer for every kept chain, so each record here holds a verified chain of thought and its
summary. This is the multi-agent method of ReasonMed (EMNLP 2025), run with the `reasonmed`
tool.
"""


def _contents(f: CardFacts) -> str:
    items = [f"Format `{f.format}`: {_SHAPES[f.format]}."]
    if f.format != "o1":
        items.append(f"Variant `{f.variant}`: the answer is {_VARIANTS[f.variant]}.")
    if f.reasoning_field:
        items.append("The chain of thought is in the assistant turn's `reasoning_content`.")
    if f.system_prompt:
        items.append("Every record starts with the same system prompt.")
    if f.metadata and f.format == "alpaca":
        items.append("`id`, `slot`, `tier` and `provenance` say where each record came from.")
    elif f.metadata:
        items.append(
            "`metadata` holds the question's `question_id`, `source`, `source_id`, `subject` "
            "and gold `answer` letter, and the record's `tier`, `slot` (which kept chain), "
            "generator `model` and `temperature`, `origin` (generated, refined or "
            "regenerated), verifier `verdict` and ranker `score`."
        )
    items.append("Filters: " + (", ".join(f"`{x}`" for x in f.filters) or "none") + ".")
    lines = ["## Contents", "", *(f"- {item}" for item in items), "", _splits(f)]
    return "\n".join(lines) + "\n"


def _splits(f: CardFacts) -> str:
    rows = [(n, f.counts.questions[n], count) for n, count in f.counts.examples.items()]
    table = _table(("split", "questions", "examples"), rows)
    if any(n not in f.num_bytes for n in f.counts.names):
        table += "\n\nA split without examples is left out of the data files."
    if not f.splits:
        return table
    bands = ", ".join(f"{name} {fraction:g}" for name, fraction in f.splits)
    return (
        f"{table}\n\nSplits ({bands}, seed {f.seed}) are drawn per question, so both chains of a "
        "question share one split; within each (source, tier) stratum a question's split comes "
        "from a hash of the seed and its id, and a small stratum that drew none of a split was "
        f"topped up ({f.top_ups} question(s) here)."
    )


def _counts(f: CardFacts) -> str:
    c, total = f.counts, f.counts.total
    parts = ["## Counts", "", f"{total} examples."]
    for title, name in (
        ("tier", "tier"),
        ("source", "source"),
        ("generator model", "model"),
        ("origin", "origin"),
    ):
        parts += ["", _count_table(title, c.by(name), total)]
    return "\n".join(parts) + "\n"


def _pass_rates(f: CardFacts) -> str:
    outcomes = [o for o in f.run.outcomes if o["tier"]]
    rows = []
    finished = sum(o["questions"] for o in outcomes)
    if f.run.paths_per_question and finished:
        chains = finished * f.run.paths_per_question
        errors = sum(o["errors"] for o in outcomes)
        rows.append(("generated chains judged correct", f"{chains - errors} of {chains}",
                     _pct(chains - errors, chains)))  # fmt: skip
    for tier in ("easy", "medium", "difficult"):
        done = sum(o["questions"] for o in outcomes if o["tier"] == tier and o["status"] == "done")
        ended = sum(o["questions"] for o in outcomes if o["tier"] == tier)
        if ended:
            rows.append((f"{tier} questions that produced examples", f"{done} of {ended}",
                         _pct(done, ended)))  # fmt: skip
    medium, refined = f.counts.in_tier("medium"), f.counts.in_tier("medium", "refined")
    if medium:
        rows.append(("medium examples whose refinement passed", f"{refined} of {medium}",
                     _pct(refined, medium)))  # fmt: skip
    table = _table(("", "count", "rate"), rows) if rows else "No finished questions."
    return f"## Pass rates\n\nOver the whole run (last row: this data set).\n\n{table}\n"


def _money(value: float | None) -> str:
    return "not recorded (no prices in the config)" if value is None else f"${value:.4f}"


def _run(f: CardFacts) -> str:
    o, total = f.run.overview, f.run.overview["calls"]["total"]
    cost = o["cost"]
    lines = [
        "## The run",
        "",
        f"Run `{f.run.run_id}`, config hash `{f.run.config_hash}`.",
        "",
        _table(("prompt template", "sha256"), sorted(f.run.prompt_hashes.items())),
        "",
        _table(
            ("agent", "model alias"),
            [(agent, ", ".join(aliases)) for agent, aliases in f.run.agents.items()],
        ),
        "",
        _table(
            ("alias", "model", "calls", "prompt tokens", "completion tokens", "cost"),
            [
                (
                    m["alias"],
                    m["model"],
                    m["calls"],
                    m["prompt_tokens"],
                    m["completion_tokens"],
                    _money(m["cost"] if m["priced"] else None),
                )
                for m in o["calls"]["by_model"]
            ],
        ),
        "",
        _table(
            ("total", "value"),
            [
                ("questions", o["total_questions"]),
                ("examples in the run", o["examples"]),
                ("calls", total["calls"]),
                ("cache hits", total["cache_hits"]),
                ("prompt tokens", total["prompt_tokens"]),
                ("completion tokens", total["completion_tokens"]),
                ("cost", _money(cost["total"])),
                ("cost per example", _money(cost["per_example"])),
                ("calls without a price", cost["unpriced_calls"]),
            ],
        ),
    ]
    return "\n".join(lines) + "\n"


def _cleaning(f: CardFacts) -> str:
    if f.cleaning is None:
        return "## Cleaning at import\n\nNone recorded (no import report was given).\n"
    dropped = sum(f.cleaning.values())
    rows = sorted(f.cleaning.items(), key=lambda item: (-item[1], item[0]))
    table = _table(("reason", "questions dropped"), rows)
    return f"## Cleaning at import\n\n{dropped} questions were dropped before the run.\n\n{table}\n"


def _loading(f: CardFacts) -> str:
    repo = f.repo_id or "<user>/<dataset>"
    names = list(f.num_bytes)
    files = ", ".join(f'"{n}": "data/{n}-*.parquet"' for n in names)
    return f"""## Loading

```python
from datasets import load_dataset, load_from_disk

ds = load_dataset("{repo}")                                # from the Hub
ds = load_dataset("parquet", data_files={{{files}}})      # from a copy of this folder
ds = load_from_disk("path/to/this/folder")                 # the saved DatasetDict
```
"""


def render_card(f: CardFacts) -> str:
    """README.md for the exported data set."""
    title = f"# ReasonMed: run {f.run.run_id} ({f.format}, {f.variant})\n"
    sections = (_method, _contents, _counts, _pass_rates, _run, _cleaning, _loading)
    return "\n".join([_yaml_header(f), title, *(section(f) for section in sections)])
