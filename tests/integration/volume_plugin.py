"""A small Docker volume plugin for the tests: Docker's ``VolumeDriver`` protocol on a unix socket.

It runs in a thread of the test process, keeps each volume as a directory
under its own scratch directory, and records every call it gets (method
and body), so that a test can say which calls the daemon made. ``Err``
answers can be forced per method (``fail``).
"""

from __future__ import annotations

import json
import re
import socketserver
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class VolumePlugin:
    def __init__(self, socket_path: Path, data_dir: Path, scope: str = "local"):
        self.socket_path, self.data_dir, self.scope = Path(socket_path), Path(data_dir), scope
        self.calls: list[tuple[str, dict]] = []
        self.fail: dict[str, str] = {}
        self.mounts: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        plugin = self

        class Handler(BaseHTTPRequestHandler):
            def address_string(self) -> str:
                return "daemon"

            def log_message(self, *args) -> None:
                return None

            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(size) or b"{}")
                answer = plugin.answer(self.path.lstrip("/"), body)
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.docker.plugins.v1+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.server = _Server(str(self.socket_path), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "VolumePlugin":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.socket_path.unlink(missing_ok=True)

    def methods(self) -> list[str]:
        with self._lock:
            return [m for m, _ in self.calls]

    def bodies(self, method: str) -> list[dict]:
        with self._lock:
            return [b for m, b in self.calls if m == method]

    def answer(self, method: str, body: dict) -> dict:
        with self._lock:
            self.calls.append((method, body))
        if method in self.fail:
            return {"Err": self.fail[method]}
        if method == "Plugin.Activate":
            return {"Implements": ["VolumeDriver"]}
        if method == "VolumeDriver.Capabilities":
            return {"Capabilities": {"Scope": self.scope}}
        if method == "VolumeDriver.List":
            return {"Volumes": [{"Name": p.name} for p in sorted(self.data_dir.iterdir())], "Err": ""}
        name = str(body.get("Name") or "")
        if not _NAME.match(name):
            return {"Err": f"bad volume name {name!r}"}
        path = self.data_dir / name
        if method == "VolumeDriver.Create":
            path.mkdir(exist_ok=True)
            (path / ".opts").write_text(json.dumps(body.get("Opts") or {}))
            return {"Err": ""}
        if not path.is_dir():
            return {"Err": f"no such volume {name}"}
        if method == "VolumeDriver.Remove":
            if self.mounts.get(name):
                return {"Err": f"volume {name} is mounted"}
            for entry in path.iterdir():
                entry.unlink()
            path.rmdir()
            return {"Err": ""}
        if method == "VolumeDriver.Mount":
            self.mounts.setdefault(name, set()).add(body["ID"])
            return {"Mountpoint": str(path), "Err": ""}
        if method == "VolumeDriver.Unmount":
            self.mounts.get(name, set()).discard(body["ID"])
            return {"Err": ""}
        if method == "VolumeDriver.Path":
            return {"Mountpoint": str(path) if self.mounts.get(name) else "", "Err": ""}
        if method == "VolumeDriver.Get":
            return {"Volume": {"Name": name, "Mountpoint": str(path) if self.mounts.get(name) else "",
                               "Status": {"mounts": len(self.mounts.get(name, ()))}}, "Err": ""}
        return {"Err": f"unknown method {method}"}


def opts_of(plugin: VolumePlugin, name: str) -> dict:
    return json.loads((plugin.data_dir / name / ".opts").read_text())


__all__ = ["VolumePlugin", "opts_of"]
