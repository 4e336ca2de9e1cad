"""The driver's errors: what the kernel refused, named, with its reason.

Netlink and sysctl failures carry an errno; :func:`link_error` turns the
common ones into errors core already maps to HTTP statuses (a name taken is
a conflict, a missing interface is not found).
"""

from __future__ import annotations

import errno
import os

from barge.errors import BargeError, Conflict, NotFound


class BridgeError(BargeError):
    """Base of this driver's errors."""


class LinkError(BridgeError):
    """A netlink request about a link, address or route failed."""

    def __init__(self, message: str, err: int = 0):
        super().__init__(message)
        self.errno = err


class LinkExists(LinkError, Conflict):
    """The name is taken by another interface (or the address is already there)."""


class LinkNotFound(LinkError, NotFound):
    """The interface (or the namespace) is not there."""


class AddressInUse(LinkError, Conflict):
    """Another interface holds that address."""


class FirewallError(BridgeError):
    """libnftables refused a ruleset; the message is nft's own."""


class SysctlError(BridgeError):
    """A /proc/sys switch could not be read or written."""


_BY_ERRNO: dict[int, type[LinkError]] = {
    errno.EEXIST: LinkExists,
    errno.ENODEV: LinkNotFound,
    errno.ENOENT: LinkNotFound,
    errno.EADDRINUSE: AddressInUse,
}


def link_error(what: str, err: int) -> LinkError:
    """``what: <strerror>`` as the class that names ``err``."""
    cls = _BY_ERRNO.get(err, LinkError)
    return cls(f"{what}: {os.strerror(err)}", err)
