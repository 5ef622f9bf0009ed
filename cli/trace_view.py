"""A `build_trace` document as a rich tree, for stepping through a question in the terminal.

Model text is untrusted markup-wise (a reply may contain "[bold]" or "[/]"), so every piece of
it is escaped; long prompts and replies are abridged unless the caller asks for everything.
"""

from __future__ import annotations

import json
from typing import Any

from rich.markup import escape
from rich.tree import Tree

from reasonmed.graph.trace_changes import first_line

ABRIDGE = 300


def abridge(text: str | None, full: bool, limit: int = ABRIDGE) -> str:
    """`text` cut to about `limit` characters (with what was left out said), unless `full`."""
    text = text or ""
    if full or len(text) <= limit:
        return text
    return f"{text[:limit].rstrip()} … [{len(text) - limit} more characters]"


def render_trace(trace: dict[str, Any], *, full: bool = False) -> Tree:
    """Header, then each step with its calls and changes, then the examples or the rejection."""
    tree = Tree(_header(trace, full))
    for step in trace.get("steps", []):
        _add_step(tree, step, full)
    _add_result(tree, trace)
    for branch in trace.get("branches") or []:
        _add_branch(tree, branch, full)
    return tree


def _add_branch(tree: Tree, branch: dict[str, Any], full: bool) -> None:
    """Another branch of the thread (an earlier run before a replay, or before an edit)."""
    label = (
        f"[bold yellow]other branch[/] · left the main one after step {branch.get('fork_step')} "
        f"[dim]({escape(str(branch.get('fork_checkpoint_id')))})[/]"
    )
    node = tree.add(label)
    for step in branch.get("steps") or []:
        _add_step(node, step, full)
    outcome = branch.get("outcome") or {}
    if outcome:
        text = f"{outcome.get('status')}: {outcome.get('reason') or ''}".rstrip(": ")
        ended = node.add(f"[bold]ended[/] {escape(text)}")
        for kept in branch.get("kept") or []:
            ended.add(
                escape(f"slot {kept.get('slot')} · {kept.get('origin')} · {kept.get('note') or ''}")
            )
    elif branch.get("next"):
        node.add(f"[yellow]stopped; next: {escape(', '.join(branch['next']))}[/]")


def render_steps(title: str, steps: list[dict[str, Any]], *, full: bool = False) -> Tree:
    """Some steps of a trace (what one `reasonmed step` did), rendered as in the full trace."""
    tree = Tree(title)
    for step in steps:
        _add_step(tree, step, full)
    return tree


def _header(trace: dict[str, Any], full: bool) -> str:
    status = trace.get("status") or "?"
    colour = {"done": "green", "rejected": "red", "failed": "red"}.get(status, "yellow")
    line = f"[bold]{escape(trace['question_id'])}[/] · [{colour}]{escape(status)}[/]"
    if trace.get("tier"):
        line += f" · tier {escape(trace['tier'])}"
    if trace.get("tier_reason"):
        line += f" ({escape(trace['tier_reason'])})"
    question = trace.get("question") or {}
    if question.get("question"):
        line += f"\n[dim]{escape(abridge(question['question'], full, 160))}[/]"
    if trace.get("next"):
        line += f"\n[yellow]next: {escape(', '.join(trace['next']))}[/]"
    return line


def _add_step(tree: Tree, step: dict[str, Any], full: bool) -> None:
    nodes = ", ".join(step.get("nodes") or []) or "(no node)"
    label = f"[bold cyan]step {step.get('step')}[/] · {escape(nodes)}"
    if step.get("checkpoint_id") is None:
        label += f" · [yellow]{escape(str(step.get('source')))}[/]"
    else:
        extra = {"update": " · [yellow]edited by hand[/]", "fork": " · [yellow]fork (replay)[/]"}
        label += extra.get(step.get("source") or "", "")
        if step.get("ts"):
            label += f" [dim]{escape(step['ts'])}[/]"
    branch = tree.add(label)
    changes = step.get("changes") or {}
    extracted = {p["generate_call"]: p for p in changes.get("paths", []) if p.get("generate_call")}
    for call in step.get("calls", []):
        _add_call(branch, call, full, extracted.get(call.get("id")))
    for sentence in changes.get("text", []):
        branch.add(f"[green]→[/] {escape(sentence)}")


def call_label(call: dict[str, Any]) -> str:
    """`agent → alias (model) · T=0.7 · 1.2 s · 350+120 tok · retries 1 · error ...`."""
    parts = [f"{call.get('agent')} → {call.get('alias')} ({call.get('model')})"]
    if call.get("temperature") is not None:
        parts.append(f"T={call['temperature']}")
    parts.append(f"{(call.get('latency_ms') or 0) / 1000:.1f} s")
    parts.append(f"{call.get('prompt_tokens', 0)}+{call.get('completion_tokens', 0)} tok")
    if call.get("attempt"):
        parts.append(f"attempt {call['attempt']}")
    if call.get("retries"):
        parts.append(f"retries {call['retries']}")
    if call.get("cache_hit"):
        parts.append("cache hit")
    if call.get("error"):
        parts.append(f"error {first_line(call['error'])}")
    return " · ".join(parts)


def _add_call(
    branch: Tree, call: dict[str, Any], full: bool, path: dict[str, Any] | None = None
) -> None:
    colour = "red" if call.get("error") else "magenta"
    node = branch.add(f"[{colour}]#{call.get('id')}[/] {escape(call_label(call))}")
    prompt = node.add("[dim]prompt[/]")
    for message in call.get("prompt") or []:
        text = abridge(str(message.get("content", "")), full)
        prompt.add(f"[bold]{escape(str(message.get('role')))}[/]: {escape(text)}")
    if call.get("reply") is not None:
        node.add(f"[dim]reply[/]: {escape(abridge(call['reply'], full))}")
    if call.get("parsed") is not None:
        node.add(f"[dim]parsed[/]: {escape(_parsed_text(call['parsed'], full))}")
    elif path is not None:  # a generator reply: its answer is extracted by code, not parsed
        how = f" ({path['answer_method']})" if path.get("answer_method") else ""
        answer = path.get("answer") or "none"
        node.add(f"[dim]extracted answer[/]: {escape(f'{answer}{how}')}")


def _parsed_text(parsed: Any, full: bool) -> str:
    """The parts of a parsed reply a reader looks for first: answer, verdict and reason, score."""
    if not isinstance(parsed, dict):
        return abridge(str(parsed), full)
    if parsed.get("failure"):
        return f"unparseable: {abridge(json.dumps(parsed['failure'], default=str), full)}"
    bits = []
    for key in ("answer", "verdict", "score"):
        if parsed.get(key) is not None:
            bits.append(f"{key} {parsed[key]}")
    for key in ("reason", "justification"):
        if parsed.get(key):
            bits.append(abridge(str(parsed[key]), full))
    return " · ".join(bits) or abridge(json.dumps(parsed, default=str), full)


def _add_result(tree: Tree, trace: dict[str, Any]) -> None:
    if trace.get("rejection"):
        tree.add(f"[bold red]rejected[/]: {escape(trace['rejection'])}")
        return
    if trace.get("status") == "failed" and trace.get("reason"):
        tree.add(f"[bold red]failed[/]: {escape(trace['reason'])}")
    examples = trace.get("examples") or []
    if not examples:
        return
    node = tree.add(f"[bold]examples ({len(examples)})[/]")
    for ex in examples:
        item = node.add(
            f"slot {ex.get('slot')} · {escape(str(ex.get('origin')))} · "
            f"{escape(first_line(ex.get('cot')))}"
        )
        item.add(f"[dim]summary[/]: {escape(ex.get('summary') or '')}")
