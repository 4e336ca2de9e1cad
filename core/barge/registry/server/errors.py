"""The distribution spec's error codes, their HTTP statuses and messages, and
the ``{"errors":[{"code","message","detail"}]}`` body every error carries."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

#: code -> (status, message), as distribution's errcode registrations
CODES: dict[str, tuple[int, str]] = {
    "BLOB_UNKNOWN": (404, "blob unknown to registry"),
    "BLOB_UPLOAD_INVALID": (400, "blob upload invalid"),
    "BLOB_UPLOAD_UNKNOWN": (404, "blob upload unknown to registry"),
    "DIGEST_INVALID": (400, "provided digest did not match uploaded content"),
    "MANIFEST_BLOB_UNKNOWN": (400, "manifest references a manifest or blob unknown to registry"),
    "MANIFEST_INVALID": (400, "manifest invalid"),
    "MANIFEST_UNKNOWN": (404, "manifest unknown"),
    "NAME_INVALID": (400, "invalid repository name"),
    "NAME_UNKNOWN": (404, "repository name not known to registry"),
    "SIZE_INVALID": (400, "provided length did not match content length"),
    "UNAUTHORIZED": (401, "authentication required"),
    "DENIED": (403, "requested access to the resource is denied"),
    "UNSUPPORTED": (405, "The operation is unsupported."),
    "TOOMANYREQUESTS": (429, "too many requests"),
    "RANGE_INVALID": (416, "invalid content range"),
    "PAGINATION_NUMBER_INVALID": (400, "invalid number of results requested"),
    "UNKNOWN": (500, "unknown error"),
}


class RegistryError(Exception):
    """An error answered to the client in the spec's shape."""

    def __init__(self, code: str, message: str | None = None, detail: Any = None, *, status: int | None = None,
                 headers: dict[str, str] | None = None):
        default_status, default_message = CODES[code]
        self.code = code
        self.message = message or default_message
        self.detail = detail
        self.status = status or default_status
        self.headers = headers or {}
        super().__init__(f"{code}: {self.message}")

    def body(self) -> dict:
        return {"errors": [{"code": self.code, "message": self.message, "detail": self.detail}]}

    def response(self) -> web.Response:
        # RANGE_INVALID is not a spec code: a 416 carries BLOB_UPLOAD_INVALID
        body = self.body()
        if self.code == "RANGE_INVALID":
            body["errors"][0]["code"] = "BLOB_UPLOAD_INVALID"
        return web.Response(status=self.status, body=json.dumps(body).encode(),
                            content_type="application/json", headers=self.headers)
