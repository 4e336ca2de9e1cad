"""Links over netlink (pyroute2): the bridge, and a veth pair per endpoint.

Each call opens its own :class:`IPRoute` and closes it before returning.
pyroute2 0.9 opens the netlink socket lazily, per thread, in the namespace
the thread is in at first use: sharing one object across threads (or
carrying it into :func:`barge.netns.run_in`) could configure the wrong
namespace. Work inside a sandbox therefore creates, uses and closes its
IPRoute within the function ``run_in`` calls.

A veth's sandbox end is created directly in the sandbox (``IFLA_NET_NS_FD``
on the peer) with its final name, MAC and MTU: no rename, no move, and the
host never sees an ``eth0`` of its own. The host end is created already
enslaved to the bridge and up, in the same request; hairpin mode lets a
container reach its own published port through the host.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Iterator
from typing import TypeVar

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from barge import netns
from barge_net_bridge.errors import LinkError, LinkExists, LinkNotFound, SysctlError, link_error

T = TypeVar("T")

#: Linux's limit on an interface name (IFNAMSIZ - 1)
IFNAME_MAX = 15
#: an IPv6 address usable at once, without duplicate address detection
IFA_F_NODAD = 0x02


@contextlib.contextmanager
def _ipr() -> Iterator[IPRoute]:
    ipr = IPRoute()
    try:
        yield ipr
    finally:
        ipr.close()


def _call(what: str, fn: Callable[[], T]) -> T:
    """Run one netlink request; a refusal becomes a named :class:`LinkError`."""
    try:
        return fn()
    except NetlinkError as exc:
        raise link_error(what, exc.code) from None


def _index(ipr: IPRoute, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def check_ifname(name: str) -> None:
    if not name or len(name) > IFNAME_MAX or "/" in name or name in (".", "..") or any(c.isspace() for c in name):
        raise LinkError(f"invalid interface name {name!r} (1 to {IFNAME_MAX} characters, no '/' or spaces)")


def write_sysctl(path: str, value: str) -> None:
    """Write a /proc/sys switch unless it already holds ``value``."""
    try:
        with open(path) as fh:
            if fh.read().strip() == value:
                return
        with open(path, "w") as fh:
            fh.write(value)
    except OSError as exc:
        raise SysctlError(f"set {path} to {value}: {exc.strerror or exc}") from None


def read_sysctl(path: str) -> str | None:
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError:
        return None


def ensure_bridge(name: str, gateway: str, prefixlen: int, mtu: int, gateway6: str = "", prefixlen6: int = 0,
                  inhibit_ipv4: bool = False) -> None:
    """The bridge ``name`` exists, holds ``gateway/prefixlen`` (not with ``inhibit_ipv4``) and
    ``gateway6/prefixlen6`` (when given), and is up.

    An existing bridge is reused (daemon restart); an existing link of
    another kind is a conflict. ``route_localnet`` lets DNAT'd connections
    to 127.0.0.1 leave through the bridge (they are masqueraded on the way).
    The IPv6 gateway skips duplicate address detection (nodad), as the
    containers' addresses do: the bridge has no carrier until one joins.
    """
    check_ifname(name)
    with _ipr() as ipr:
        idx = _index(ipr, name)
        if idx is None:
            _call(f"create bridge {name}",
                  lambda: ipr.link("add", ifname=name, kind="bridge", mtu=mtu or 1500))
            idx = _index(ipr, name)
            if idx is None:
                raise LinkNotFound(f"bridge {name} vanished right after it was created")
        else:
            kind = _kind(ipr, idx)
            if kind != "bridge":
                raise LinkExists(f"interface {name} exists and is not a bridge (it is a {kind or 'plain link'})")
            if mtu:
                _call(f"set the MTU of {name}", lambda: ipr.link("set", index=idx, mtu=mtu))
        have = {(a.get("address"), a["prefixlen"]) for a in ipr.get_addr(index=idx)}
        if not inhibit_ipv4 and (gateway, prefixlen) not in have:
            _call(f"add address {gateway}/{prefixlen} to {name}",
                  lambda: ipr.addr("add", index=idx, address=gateway, prefixlen=prefixlen))
        if gateway6 and (gateway6, prefixlen6) not in have:
            write_sysctl(f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6", "0")
            _call(f"add address {gateway6}/{prefixlen6} to {name}",
                  lambda: ipr.addr("add", index=idx, address=gateway6, prefixlen=prefixlen6, flags=IFA_F_NODAD))
        _call(f"bring {name} up", lambda: ipr.link("set", index=idx, state="up"))
    write_sysctl(f"/proc/sys/net/ipv4/conf/{name}/route_localnet", "1")


def _kind(ipr: IPRoute, idx: int) -> str | None:
    link = ipr.get_links(idx)[0]
    info = link.get("IFLA_LINKINFO")
    return info.get("IFLA_INFO_KIND") if info else None


def link_exists(name: str) -> bool:
    with _ipr() as ipr:
        return _index(ipr, name) is not None


def delete_link(name: str) -> None:
    """Delete the host link ``name``; one already gone is fine."""
    with _ipr() as ipr:
        idx = _index(ipr, name)
        if idx is None:
            return
        try:
            ipr.link("del", index=idx)
        except NetlinkError as exc:
            if exc.code != 19:  # ENODEV: went away meanwhile
                raise link_error(f"delete {name}", exc.code) from None


def add_endpoint(bridge: str, host_ifname: str, sandbox_path: str, ifname: str, address: str, prefixlen: int,
                 mac: str, mtu: int, gateway: str, extra: tuple[tuple[str, int], ...] = (), gateway6: str = "") -> None:
    """A veth pair: ``host_ifname`` on ``bridge`` (hairpin on), ``ifname`` in the sandbox, configured.

    ``extra``: more (address, prefix length) pairs for the sandbox end (its IPv6 address, its
    link-local ones); ``gateway6``: its IPv6 default route. On any failure the pair is deleted
    again (deleting either end deletes both).
    """
    check_ifname(host_ifname)
    check_ifname(ifname)
    mtu = mtu or 1500
    try:
        fd = os.open(sandbox_path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise LinkNotFound(f"sandbox {sandbox_path}: {exc.strerror}", exc.errno or 0) from None
    try:
        with _ipr() as ipr:
            br = _index(ipr, bridge)
            if br is None:
                raise LinkNotFound(f"bridge {bridge} does not exist")
            _call(f"create veth {host_ifname} on {bridge} with {ifname} in {sandbox_path}",
                  lambda: ipr.link("add", ifname=host_ifname, kind="veth", mtu=mtu, master=br, state="up",
                                   peer={"ifname": ifname, "net_ns_fd": fd, "address": mac, "mtu": mtu}))
            try:
                # sysfs: one write, where netlink would need a lookup and a request (~1 ms)
                write_sysctl(f"/sys/class/net/{host_ifname}/brport/hairpin_mode", "1")
                netns.run_in(sandbox_path,
                             lambda: _configure_inside(ifname, address, prefixlen, gateway, extra, gateway6))
            except BaseException:
                with contextlib.suppress(NetlinkError):
                    ipr.link("del", ifname=host_ifname)
                raise
    finally:
        os.close(fd)


def _configure_inside(ifname: str, address: str, prefixlen: int, gateway: str,
                      extra: tuple[tuple[str, int], ...] = (), gateway6: str = "") -> None:
    """Runs inside the sandbox: addresses, up, default routes. Its own IPRoute, closed here."""
    with _ipr() as ipr:
        idx = _index(ipr, ifname)
        if idx is None:
            raise LinkNotFound(f"{ifname} is not in the sandbox")
        for addr, plen in ((address, prefixlen), *extra):
            _call(f"add address {addr}/{plen} to {ifname}",
                  lambda a=addr, p=plen: ipr.addr("add", index=idx, address=a, prefixlen=p,
                                                  flags=IFA_F_NODAD if ":" in a else 0))
        _call(f"bring {ifname} up", lambda: ipr.link("set", index=idx, state="up"))
        if gateway:
            _call(f"default route via {gateway}",
                  lambda: ipr.route("add", dst="0.0.0.0/0", gateway=gateway, oif=idx))
        if gateway6:
            _call(f"default route via {gateway6}",
                  lambda: ipr.route("add", dst="::/0", gateway=gateway6, oif=idx, family=socket.AF_INET6))


def remove_endpoint(sandbox_path: str, ifname: str) -> None:
    """Delete ``ifname`` inside the sandbox (its host end goes with it); gone already is fine."""

    def inside() -> None:
        with _ipr() as ipr:
            idx = _index(ipr, ifname)
            if idx is None:
                return
            try:
                ipr.link("del", index=idx)
            except NetlinkError as exc:
                if exc.code != 19:
                    raise link_error(f"delete {ifname} in the sandbox", exc.code) from None

    if not os.path.exists(sandbox_path):
        return
    netns.run_in(sandbox_path, inside)


def bridge_ports(bridge: str) -> list[str]:
    """The names of the links enslaved to ``bridge`` (its veths' host sides); none when it is gone."""
    with _ipr() as ipr:
        idx = _index(ipr, bridge)
        if idx is None:
            return []
        return [link.get_attr("IFLA_IFNAME") for link in ipr.get_links() if link.get_attr("IFLA_MASTER") == idx]
