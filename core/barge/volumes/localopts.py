"""The ``local`` driver's mount options (``type``, ``device``, ``o``), as dockerd applies them.

``docker volume create --opt type=tmpfs --opt device=tmpfs --opt o=size=100m``
makes a volume whose ``_data`` is a mount made with mount(2) when the first
container that uses it starts, and unmounted when the last one stops
(moby's ``volume/local``). The options are checked at create, kept with the
volume, and handed to the kernel at use: a bad ``o`` fails the container's
start with the mount error, as in dockerd. ``device`` may name any host path
(``type=none o=bind``): the API client is root-equivalent, as for binds.
"""

from __future__ import annotations

import os
import re
import socket
import threading
from pathlib import Path

from barge import mount as mnt
from barge.errors import BargeError, InvalidParameter

VALID = ("type", "device", "o", "size")
#: moby's ``mandatoryOpts``: each option and the ones it needs.
REQUIRES = {"device": ("type",), "type": ("device",), "o": ("device",)}


def validate(name: str, opts: dict[str, str]) -> None:
    """moby's ``validateOpts``: only the known keys, each with the ones it needs."""
    for opt in sorted(opts):
        if opt not in VALID:
            raise InvalidParameter(f'create {name}: invalid option: "{opt}"')
    if "size" in opts and _size(name, opts["size"]) != 0:  # barge keeps no quota on volume directories
        raise InvalidParameter(f"create {name}: quota size requested but no quota support")
    for opt in sorted(opts):
        for need in REQUIRES.get(opt, ()):
            if need not in opts:
                raise InvalidParameter(f'create {name}: missing required option: "{need}"')


_SIZE = re.compile(r"^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$")


def _size(name: str, value: str) -> int:
    """go-units ``RAMInBytes``: ``100m`` is 100 MiB."""
    m = _SIZE.match(value.strip())
    if m is None:
        raise InvalidParameter(f"create {name}: invalid size: '{value}'")
    return int(float(m.group(1)) * 1024 ** "bkmgtp".index((m.group(2) or "b").lower()))


def _data(opts: dict[str, str]) -> str:
    """``o``, with an nfs ``addr=`` host resolved to an address (moby's ``getAddress``), at use only."""
    words = [w for w in opts.get("o", "").split(",") if w]
    if opts.get("type") == "nfs":
        for i, w in enumerate(words):
            if w.startswith("addr="):
                words[i] = "addr=" + socket.gethostbyname(w[5:])
    return ",".join(words)


class Mounts:
    """Which containers' mounts hold each optioned volume mounted (moby's ``activeMount`` count)."""

    def __init__(self) -> None:
        self._users: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def mount(self, volume: str, mount_id: str, point: Path, opts: dict[str, str]) -> None:
        """Mount at the first user; later users share it."""
        with self._lock:
            users = self._users.setdefault(volume, set())
            if not users and not is_mounted(point):
                try:
                    words = _data(opts)
                except OSError as exc:  # an nfs addr= that does not resolve
                    raise BargeError(f"error while mounting volume '{point}': {exc}") from None
                flags, _prop, data = mnt.parse_options(words.split(","))
                device = opts.get("device", "")
                try:
                    mnt.mount(device, str(point), opts.get("type"), flags, data or None)
                except mnt.MountError as exc:
                    detail = (f", flags: {flags:#x}" if flags else "") + (f", data: {data}" if data else "")
                    raise BargeError(f"error while mounting volume '{point}': failed to mount local volume: "
                                     f"mount {device}:{point}{detail}: {os.strerror(exc.errno or 0).lower()}") from None
            users.add(mount_id)

    def unmount(self, volume: str, mount_id: str, point: Path) -> None:
        """Unmount when the last user is done."""
        with self._lock:
            users = self._users.get(volume)
            if users is None or mount_id not in users:
                return  # not a mount of this daemon's making
            users.discard(mount_id)
            if not users:
                self._users.pop(volume, None)
                mnt.unmount(point, detach=True)

    def adopt(self, volume: str, mount_id: str) -> None:
        """A user found running at start (the mount outlived a daemon restart)."""
        with self._lock:
            self._users.setdefault(volume, set()).add(mount_id)

    def holds(self, volume: str, mount_id: str) -> bool:
        with self._lock:
            return mount_id in self._users.get(volume, ())

    def in_use(self, volume: str) -> bool:
        with self._lock:
            return bool(self._users.get(volume))


def unmount_stale(point: Path) -> None:
    """Unmount whatever is stacked at ``point`` (a crash left it)."""
    while is_mounted(point) and mnt.unmount(point, detach=True):
        pass


def is_mounted(point: Path) -> bool:
    """Something is mounted right at ``point``."""
    real = str(Path(point).resolve())
    return any(m.point == real for m in mnt.mountinfo())
