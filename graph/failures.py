"""Why a question failed, typed: which node, which model, which kind of error, how many tries.

A failed question is retried by the next `run`; until then `reasonmed failures` lists it with
this record. Everything in it is scrubbed of API keys before it is stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from reasonmed.llm.model_calls import ModelCallError
from reasonmed.llm.model_registry import redact

# Error kinds by the exception type name that starts a recorded error ("RateLimitError: ...").
_KINDS = (
    (("RateLimitError",), "rate_limited"),
    (("APITimeoutError", "TimeoutError", "ReadTimeout", "ConnectTimeout"), "timeout"),
    (("InternalServerError", "ServiceUnavailableError", "EndpointResponseError"), "server_error"),
    (
        (
            "APIConnectionError",
            "ConnectError",
            "ConnectionError",
            "RemoteProtocolError",
            "EndpointConnectionError",
        ),
        "connection",
    ),
    (("AuthenticationError", "PermissionDeniedError"), "auth"),
    (("BadRequestError", "NotFoundError", "UnprocessableEntityError"), "bad_request"),
)


_STATUS = re.compile(r"\b(?:Error code|status(?: code)?)[:= ]+(\d{3})\b", re.IGNORECASE)


def error_kind(error: str) -> str:
    """The kind of a recorded model error: from its HTTP status when it names one, else from
    the exception type that starts it (providers wrap errors in their own classes)."""
    status = _STATUS.search(error)
    if status:
        code = int(status.group(1))
        if code == 429:
            return "rate_limited"
        if code >= 500:
            return "server_error"
        return "auth" if code in (401, 403) else "bad_request"
    name = error.split(":", 1)[0].strip()
    for names, kind in _KINDS:
        if name in names:
            return kind
    return "model_error"


def describe_failure(exc: BaseException, secrets: Iterable[str]) -> tuple[str, dict[str, Any]]:
    """A one-line reason and the typed record for a question that failed with `exc`."""
    secrets = list(secrets)
    if isinstance(exc, ModelCallError):
        error = redact(exc.error, secrets)
        failure = {
            "kind": error_kind(error),
            "node": exc.node,
            "alias": exc.alias,
            "model": exc.model,
            "error": error,
            "attempts": exc.attempts,
        }
        return redact(str(exc), secrets), failure
    error = redact(f"{type(exc).__name__}: {exc}", secrets)
    return error, {"kind": "internal", "node": None, "error": error, "type": type(exc).__name__}
