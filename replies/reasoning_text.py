"""The reasoning wrappers models put around replies: <think> tags, "## Thinking" headers.

Splitting a reply into its reasoning and its final part is the first step of every parser and
of training-text cleaning; it never raises on odd input.
"""

from __future__ import annotations

import re

_THINK_OPEN = re.compile(r"<think(?:ing)?>", re.I)
_THINK_CLOSE = re.compile(r"</think(?:ing)?>", re.I)
_HEADER = r"^[ \t]*#{{1,4}}[ \t]*\**[ \t]*{name}[ \t]*\**[ \t]*:?[ \t]*\**[ \t]*$"
_THINKING_HEADER = re.compile(_HEADER.format(name="thinking"), re.I | re.M)
_FINAL_HEADER = re.compile(_HEADER.format(name=r"final[ \t]+response"), re.I | re.M)
_STRAY_TAGS = re.compile(
    r"</?(?:think|thinking|reasoning|answer)>|<\|(?:im_end|im_start|endoftext|eot_id)\|>"
    r"|<｜end▁of▁sentence｜>|<｜begin▁of▁sentence｜>",
    re.I,
)
_BLANK_RUNS = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


def segments(text: str) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    """(reasoning pieces, visible pieces, closed) as raw, unedited slices of text."""
    opened = _THINK_OPEN.search(text)
    closed = _THINK_CLOSE.search(text, opened.end() if opened else 0)
    if opened or closed:
        before = text[: opened.start()] if opened else ""
        inner = text[opened.end() if opened else 0 : closed.start() if closed else len(text)]
        return (inner,), (before, text[closed.end() :] if closed else ""), bool(closed)
    thinking = _THINKING_HEADER.search(text)
    final_header = _FINAL_HEADER.search(text, thinking.end() if thinking else 0)
    before = text[: thinking.start()] if thinking else ""
    if final_header:
        inner = text[thinking.end() if thinking else 0 : final_header.start()]
        return (before, inner), (text[final_header.end() :],), True
    if thinking:
        return (before, text[thinking.end() :]), (), False
    return (), (text,), True


def reasoning_parts(text: str) -> tuple[str, str, bool]:
    """split_reasoning plus whether the reasoning block was closed.

    An unclosed `<think>` or a `## Thinking` without `## Final Response` means the model never
    finished thinking (usually max_tokens), which answer extraction must not read as a conclusion.
    """
    reasoning, final, closed = segments(text if isinstance(text, str) else "")
    return _join(*reasoning), _join(*final), closed


def split_reasoning(text: str) -> tuple[str, str]:
    """Separate hidden reasoning from the visible answer: (reasoning, final_part).

    Handles DeepSeek-R1 `<think>...</think>` (also an unclosed `<think>`, or only `</think>` when
    the chat template already opened the block) and HuatuoGPT-o1 `## Thinking` / `## Final
    Response`. Without a wrapper the reasoning is "" and the final part is the whole text. Parts
    are only whitespace-stripped, never edited, so JSON inside them survives byte for byte.
    """
    reasoning, final, _ = reasoning_parts(text)
    return reasoning, final


def clean_cot(text: str) -> str:
    """The training-ready CoT: reasoning and final part joined by a blank line.

    Keeps all reasoning content (an R1 reply's thinking followed by its final part; a Huatuo
    reply's Thinking then Final Response content, without the `##` headers); drops wrapper tags,
    chat special tokens, surrounding whitespace and runs of more than one blank line.
    """
    reasoning, final = split_reasoning(text)
    joined = _join(reasoning, final)
    return _BLANK_RUNS.sub("\n\n", _STRAY_TAGS.sub("", joined)).strip()


def _join(*parts: str) -> str:
    return "\n\n".join(part.strip() for part in parts if part.strip())


# --- JSON repair -----------------------------------------------------------------------------
