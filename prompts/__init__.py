"""Prompt templates for every agent, rendered strictly and hashed (see ``render``)."""

from reasonmed.prompts.render import (
    AGENTS,
    PromptError,
    RenderedPrompt,
    format_question_block,
    render,
    template_hashes,
    template_variables,
)

__all__ = [
    "AGENTS",
    "PromptError",
    "RenderedPrompt",
    "format_question_block",
    "render",
    "template_hashes",
    "template_variables",
]
