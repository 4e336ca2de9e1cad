"""Docker's legacy plugins, found by name as dockerd finds them (moby ``pkg/plugins/discovery.go``).

A plugin named ``foo`` is, in this order: a socket ``<sockets>/foo.sock``
or ``<sockets>/foo/foo.sock``; else a spec file in each spec directory,
``foo.spec`` (one line: its address) or ``foo.json`` (``{"Name", "Addr",
"TLSConfig"}``), directly or in a ``foo/`` subdirectory. dockerd's
directories (``/run/docker/plugins``; ``/etc/docker/plugins``,
``/usr/lib/docker/plugins``) are the defaults; ``plugin_socket_dir`` and
``plugin_spec_dirs`` in ``daemon.toml`` move them (tests do).
"""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

from barge.errors import InvalidParameter

SOCKET_DIR = Path("/run/docker/plugins")
SPEC_DIRS = (Path("/etc/docker/plugins"), Path("/usr/lib/docker/plugins"))
#: moby's ``validPluginName``: a plugin name is a path component.
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


class Discovery:
    def __init__(self, socket_dir: Path = SOCKET_DIR, spec_dirs: tuple[Path, ...] = SPEC_DIRS):
        self.socket_dir = Path(socket_dir)
        self.spec_dirs = tuple(Path(d) for d in spec_dirs)

    def address(self, name: str) -> str | None:
        """The address of legacy plugin ``name`` (``unix:///...`` or ``tcp://...``), or None."""
        if not _NAME.match(name):
            return None
        for sock in (self.socket_dir / f"{name}.sock", self.socket_dir / name / f"{name}.sock"):
            if _is_socket(sock):
                return f"unix://{sock}"
        for top in self.spec_dirs:
            for base in (top, top / name):
                for ext in (".spec", ".json"):
                    spec = base / f"{name}{ext}"
                    if spec.is_file():
                        return _read_spec(spec)
        return None


    def names(self) -> list[str]:
        """Every legacy plugin the directories hold (dockerd's ``Scan``), by name."""
        found: set[str] = set()
        if self.socket_dir.is_dir():
            for entry in self.socket_dir.iterdir():
                if entry.suffix == ".sock" and _is_socket(entry):
                    found.add(entry.stem)
                elif entry.is_dir() and _is_socket(entry / f"{entry.name}.sock"):
                    found.add(entry.name)
        for top in self.spec_dirs:
            if not top.is_dir():
                continue
            for entry in top.iterdir():
                if entry.suffix in (".spec", ".json") and entry.is_file():
                    found.add(entry.stem)
                elif entry.is_dir() and any((entry / f"{entry.name}{ext}").is_file() for ext in (".spec", ".json")):
                    found.add(entry.name)
        return sorted(n for n in found if _NAME.match(n))


def _is_socket(path: Path) -> bool:
    try:
        return stat.S_ISSOCK(path.stat().st_mode)
    except OSError:
        return False


def _read_spec(path: Path) -> str:
    text = path.read_text().strip()
    if path.suffix == ".json":
        try:
            spec = json.loads(text)
        except ValueError as exc:
            raise InvalidParameter(f"{path}: invalid plugin spec: {exc}") from None
        if not isinstance(spec, dict) or not isinstance(spec.get("Addr"), str):
            raise InvalidParameter(f"{path}: invalid plugin spec: no Addr")
        if spec.get("TLSConfig"):
            raise InvalidParameter(f"{path}: plugins over TLS are not supported by barge")
        text = spec["Addr"]
    if not text:
        raise InvalidParameter(f"{path}: plugin spec is empty")
    if text.startswith("unix://") or text.startswith("tcp://"):
        return text
    raise InvalidParameter(f"{path}: unsupported plugin address {text!r}: only unix:// and tcp:// are supported")
