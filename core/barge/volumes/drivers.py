"""The volume driver contract, and ``local``, its built-in implementation.

A volume's files are kept by its driver: ``local`` keeps them in
``<data_root>/volumes/<name>/_data``; a Docker volume plugin
(:mod:`barge.dockerplugins.volumedriver`) keeps them wherever it likes and
says where at ``mount``. The store keeps the records (name, driver, labels,
options) and calls the driver for the files; it finds drivers other than
``local`` through a lookup the composition root hands it. The methods are
Docker's ``VolumeDriver`` protocol (Create, Remove, Mount, Unmount, Path,
Get, Capabilities).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

LOCAL = "local"


class VolumeDriver(Protocol):
    """One volume driver, named as ``--volume-driver`` and ``Driver`` name it."""

    name: str

    def create(self, volume: str, options: dict[str, str]) -> None:
        """Make the volume's storage (idempotent for a name the driver has)."""

    def remove(self, volume: str) -> None:
        """Delete the volume's storage."""

    def mount(self, volume: str, mount_id: str) -> str:
        """Make the volume usable by one mount (``mount_id``); the host path to bind-mount."""

    def unmount(self, volume: str, mount_id: str) -> None:
        """That mount is done (a container stopped)."""

    def path(self, volume: str) -> str:
        """Where the volume is (``Mountpoint``); empty when it is not mounted."""

    def status(self, volume: str) -> dict[str, Any] | None:
        """The driver's ``Status`` of the volume for ``inspect``, or None."""

    def scope(self) -> str:
        """``local`` or ``global`` (the driver's Capabilities)."""


#: ``lookup(name)``: the volume driver ``name``, or NotFound with dockerd's text.
DriverLookup = Callable[[str], VolumeDriver]


class ListingDriver(Protocol):
    """A driver whose volumes ``volume ls`` asks for (a plugin may have some barge has no record of)."""

    name: str

    def list(self) -> list[dict[str, Any]]:
        """The driver's volumes: ``{"Name", "Mountpoint", "CreatedAt", ...}``."""

    def scope(self) -> str:
        """``local`` or ``global``."""


#: ``listing()``: every volume plugin there is, for ``volume ls``.
DriverListing = Callable[[], Iterable[ListingDriver]]


class LocalDriver:
    """Docker's ``local`` driver, without mount options: a directory per volume."""

    name = LOCAL

    def __init__(self, root: Path):
        self.root = Path(root)

    def mountpoint(self, volume: str) -> Path:
        return self.root / volume / "_data"

    def create(self, volume: str, options: dict[str, str]) -> None:
        """The volume's directory; one this call began is gone again when it fails (a full disk)."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o701)
        fresh = not (self.root / volume).exists()
        try:
            self.mountpoint(volume).mkdir(parents=True, exist_ok=True, mode=0o755)
        except OSError:
            if fresh:
                self.remove(volume)
            raise

    def remove(self, volume: str) -> None:
        shutil.rmtree(self.root / volume, ignore_errors=True)

    def mount(self, volume: str, mount_id: str) -> str:
        point = self.mountpoint(volume)
        if not point.is_dir():  # removed behind our back: the files come back empty
            point.mkdir(parents=True, exist_ok=True, mode=0o755)
        return str(point)

    def unmount(self, volume: str, mount_id: str) -> None:
        return None

    def path(self, volume: str) -> str:
        return str(self.mountpoint(volume))

    def status(self, volume: str) -> dict[str, Any] | None:
        return None

    def scope(self) -> str:
        return "local"
