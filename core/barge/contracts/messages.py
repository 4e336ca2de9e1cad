"""Docker's JSON message stream (pull, push, load, import): one object per line.

A job writes these to its stdout; once output has begun an error can only
travel in the stream itself, so the API route turns it into the same shape.
"""

from __future__ import annotations

import json
from typing import Any


def json_message(**fields: Any) -> bytes:
    """One message of Docker's JSON progress stream."""
    return json.dumps(fields, separators=(",", ":")).encode() + b"\r\n"


def error_message(exc: BaseException) -> bytes:
    """How a stream reports an error once output has begun."""
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return json_message(errorDetail={"message": text}, error=text)
