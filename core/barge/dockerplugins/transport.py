"""One call to a Docker plugin: ``POST /<Interface>.<Method>`` with a JSON body, JSON back.

Docker's plugin protocol (moby ``pkg/plugins/client.go``): HTTP/1.1 POST
over a unix socket (or TCP from a spec file), the ``Accept`` header
``application/vnd.docker.plugins.v1.2+json``, and errors either as a
non-200 status or as an ``Err`` field of the answer. The client is
synchronous: callers are job threads.
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any
from urllib.parse import urlsplit

from barge.errors import BargeError, InvalidParameter

MIME = "application/vnd.docker.plugins.v1.2+json"
#: moby's plugin client timeouts: most calls, and the ones that may create or mount (``longTimeout``).
TIMEOUT = 30.0
LONG_TIMEOUT = 120.0


class PluginError(BargeError):
    """The plugin answered with an error, or could not be reached."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("plugin", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class PluginClient:
    """Calls to the plugin listening at ``address`` (``unix:///path`` or ``tcp://host:port``)."""

    def __init__(self, address: str):
        parts = urlsplit(address)
        if parts.scheme not in ("unix", "tcp", "http"):
            raise InvalidParameter(f"unsupported plugin address {address!r}: only unix and tcp are supported")
        self.address = address
        self._scheme, self._path, self._netloc = parts.scheme, parts.path, parts.netloc

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        if self._scheme == "unix":
            return _UnixConnection(self._path, timeout)
        return http.client.HTTPConnection(self._netloc, timeout=timeout)

    def call(self, method: str, body: dict[str, Any] | None = None, timeout: float = TIMEOUT) -> dict[str, Any]:
        """``method`` (``VolumeDriver.Mount``...) with ``body``; the decoded answer, or :class:`PluginError`."""
        data = json.dumps(body if body is not None else {}).encode()
        conn = self._connection(timeout)
        try:
            conn.request("POST", f"/{method}", body=data, headers={"Accept": MIME, "Content-Type": MIME})
            resp = conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise PluginError(f'Post "{self.address}/{method}": {_os_text(exc)}') from None
        finally:
            conn.close()
        try:
            answer = json.loads(raw) if raw.strip() else {}
        except ValueError:
            answer = None
        if resp.status != 200:
            err = answer.get("Err") if isinstance(answer, dict) else None
            raise PluginError(err or raw.decode(errors="replace").strip() or f"{method}: status {resp.status}")
        if not isinstance(answer, dict):
            raise PluginError(f"{method}: the plugin's answer is not a JSON object")
        if answer.get("Err"):
            raise PluginError(str(answer["Err"]))
        return answer

    def activate(self, timeout: float = TIMEOUT) -> list[str]:
        """The handshake: which interfaces (``VolumeDriver``...) the plugin implements."""
        implements = self.call("Plugin.Activate", timeout=timeout).get("Implements") or []
        if not isinstance(implements, list):
            raise PluginError("Plugin.Activate: Implements is not a list")
        return [str(i) for i in implements]


def _os_text(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"connect: {exc.strerror.lower()}"
    if isinstance(exc, TimeoutError):
        return "timeout"
    return str(exc) or type(exc).__name__
