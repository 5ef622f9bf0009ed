"""When a failed model request is worth another try, and how long to wait before it.

Only transport trouble is retried (429, 5xx, connection errors, timeouts): any other error
would fail the same way again. Waits are full-jitter exponential backoff, never shorter than
what the server asked for in retry-after-ms / Retry-After.
"""

from __future__ import annotations

import random
import time
from email.utils import parsedate_to_datetime

import openai

from reasonmed.llm.wire_client import EndpointConnectionError, EndpointResponseError

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0
RETRY_AFTER_MAX_S = 300.0  # a server asking for longer than this is treated as asking for this


def retryable(exc: BaseException) -> bool:
    """Transport trouble worth another try; any other error would fail the same way again."""
    transport = (openai.APIConnectionError, TimeoutError, EndpointConnectionError)
    if isinstance(exc, transport):  # includes APITimeoutError
        return True
    if isinstance(exc, EndpointResponseError):  # a 2xx that is not a completion: a proxy's page
        return True
    status = getattr(exc, "status_code", None)
    if isinstance(exc, openai.APIStatusError) or isinstance(status, int):
        return status == 429 or (isinstance(status, int) and status >= 500)
    return False


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait, from retry-after-ms or retry-after, if any."""
    headers = getattr(exc, "headers", None)  # wire_client errors carry them directly
    if headers is None:
        headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is None:
        return None
    try:
        if (value := headers.get("retry-after-ms")) is not None:
            return min(max(float(value) / 1000, 0.0), RETRY_AFTER_MAX_S)
        if (value := headers.get("retry-after")) is not None:
            try:
                seconds = float(value)
            except ValueError:
                seconds = parsedate_to_datetime(value).timestamp() - time.time()
            return min(max(seconds, 0.0), RETRY_AFTER_MAX_S)
    except (TypeError, ValueError, OverflowError):
        return None
    return None


def backoff_delay(retry: int, exc: BaseException) -> float:
    """Full-jitter exponential backoff, never shorter than the server's retry-after."""
    delay = random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**retry))
    asked = retry_after(exc)
    return delay if asked is None else asked + delay * 0.1
