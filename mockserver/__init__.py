"""A deterministic OpenAI-compatible mock endpoint for tests, the demo and benchmarks.

Start it with ``python -m reasonmed.mockserver`` or, from Python, ``MockServerProcess``.
"""

from reasonmed.mockserver.answer_key import AnswerKey, normalize_text
from reasonmed.mockserver.process import MockServerProcess
from reasonmed.mockserver.roles import ROLE_SIGNATURES, detect_role, parse_messages
from reasonmed.mockserver.scenarios import SCENARIO_PROPORTIONS, Scenario

__all__ = [
    "ROLE_SIGNATURES",
    "SCENARIO_PROPORTIONS",
    "AnswerKey",
    "MockServerProcess",
    "Scenario",
    "detect_role",
    "normalize_text",
    "parse_messages",
]
