"""``Endpoints``: the network side of a container's life.

:meth:`Endpoints.setup` before its start (sandbox namespace, one endpoint
per network with an address from IPAM, the driver's join, published ports,
the embedded DNS server on user-defined networks) and :meth:`Endpoints.teardown`
after its exit. Both are idempotent, and :meth:`Endpoints.recover` at daemon
start makes the records, the host and the firewall agree again after a crash.
The container service calls these; it also reads a container's network view
(inspect's ``NetworkSettings``, ``ps``'s ports) and files (``/etc/hosts``,
``resolv.conf`` settings) from here.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import socket
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from barge import netns
from barge.errors import BargeError, NotFound
from barge.netdriver import PortMapping, Published
from barge.network import bridge_options, endpoint_config, ipam, ports, views
from barge.network.dns import EmbeddedDNS
from barge.network.networks import Networks
from barge.network.resolver import user_networks
from barge.network.store import Endpoint, Network, NetworkStore

log = logging.getLogger("barge.network")


def nat_ports(mappings: list[PortMapping]) -> list[PortMapping]:
    """The mappings the driver forwards (IPv4 host addresses); IPv6 ones are core's userland proxy's."""
    return [m for m in mappings if not ports.is_ipv6(m.host_ip)]


def _lo_up() -> None:
    """Bring ``lo`` up in the current thread's namespace (SIOCSIFFLAGS; no netlink needed)."""
    SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(s, SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | IFF_UP, b""))


@dataclass
class Sandbox:
    """What a container's start needs from its networks."""

    path: str
    endpoints: list[Endpoint]
    #: the container's first address (its /etc/hosts line), "" with none
    address: str
    #: on a user-defined network: resolv.conf points at the embedded DNS server
    embedded_dns: bool
    #: the first endpoint's IPv6 address on a dual-stack network (its second /etc/hosts line), "" with none
    address6: str = ""


class Endpoints:
    """Sandboxes, endpoints and published ports of containers; the host ports they hold."""

    def __init__(self, *, store: NetworkStore, networks: Networks, pm, cfg, exec_root: Path,
                 dns: EmbeddedDNS | None = None):
        self.store = store
        self.networks = networks
        self.pm = pm
        self.cfg = cfg  # barge.config.NetworkConfig
        self.netns_dir = Path(exec_root) / "netns"
        #: serves the sandboxes on user-defined networks; closed by :meth:`close`
        self.dns = dns
        self.reservations = ports.PortReservations()

    def sandbox_path(self, container_id: str) -> str:
        return f"{self.netns_dir}/{container_id}"  # not pathlib's join: ``ps`` asks once per container

    def check_create(self, name: str, config: dict[str, Any], host: dict[str, Any],
                     networking: dict[str, Any]) -> dict[str, Any]:
        """A create request's ``NetworkingConfig``, checked (:func:`barge.network.endpoint_config.check_create`)."""
        return endpoint_config.check_create(self.networks.get, name, config, host, networking)

    # -- start and exit -------------------------------------------------------

    def setup(self, c) -> Sandbox | None:
        """Before a start: the container's sandbox and endpoints (None: no sandbox of its own)."""
        mode = c.host_config.get("NetworkMode") or "bridge"
        if mode in ("host", "none") or mode.startswith("container:"):
            return None
        self.networks.require_driver("start")
        attachments = self._attachments(c)
        path = self.sandbox_path(c.id)
        self.teardown(c.id)  # whatever an earlier run left
        netns.create(path)
        try:
            netns.run_in(path, _lo_up)
            endpoints = []
            gateway_endpoint = None
            for i, (n, cfg) in enumerate(attachments):
                give_route = gateway_endpoint is None and not n.internal
                e = self._allocate(c, n, cfg, f"eth{i}", give_route)
                endpoints.append(e)
                self.pm.hook.barge_network_join(network=self.networks.spec(n), endpoint=e.spec(), sandbox=path)
                if give_route:
                    gateway_endpoint = (n, e)
            if gateway_endpoint is not None:
                self._publish(c, *gateway_endpoint)
            embedded = any(n.user_defined for n, _ in attachments)
            if embedded and self.dns is not None:
                self.dns.add(c.id, path)
        except BaseException:
            self.teardown(c.id)
            raise
        for n, _ in attachments:
            self.networks.event("connect", n, container=c.id)
        return Sandbox(path, endpoints, endpoints[0].address if endpoints else "", embedded,
                       endpoints[0].address6 if endpoints else "")

    def _attachments(self, c) -> list[tuple[Network, dict[str, Any]]]:
        """The networks (none builtin) the record ``c`` is configured onto, with its settings on each."""
        eps = (c.network_config or {}).get("EndpointsConfig") or {}
        out = []
        for key, cfg in eps.items():
            cfg = cfg or {}
            n = self.store.get(cfg.get("NetworkID") or "") if cfg.get("NetworkID") else None
            if n is None or n.state != "ready":
                try:
                    n = self.networks.get(key)
                except NotFound:
                    if not cfg.get("NetworkID"):  # named at create, never there: dockerd's words
                        raise
                    raise NotFound(f"network {key} not found: it was removed; connect the container to "
                                   "another network or remove it") from None
            if not n.builtin:
                out.append((n, cfg))
        return out

    def _allocate(self, c, n: Network, cfg: dict[str, Any], ifname: str, give_route: bool) -> Endpoint:
        ipam_cfg = cfg.get("IPAMConfig") or {}
        wanted, wanted6 = ipam_cfg.get("IPv4Address") or "", ipam_cfg.get("IPv6Address") or ""
        link_local = [ipam.link_local(str(a)) for a in ipam_cfg.get("LinkLocalIPs") or []]
        names = [c.name.lstrip("/")] + [str(a) for a in (cfg.get("Aliases") or [])] + [c.id[:12]]
        if n.user_defined and c.config.get("Hostname") and c.config["Hostname"] not in names:
            names.append(c.config["Hostname"])
        reserved = n.reserved()
        with self.store.db.write() as conn:
            used = self.store.used_addresses(conn, n.id)
            address = ipam.allocate(n.subnet, n.ip_range, n.gateway, used, wanted, reserved)
            address6 = ipam.allocate(n.subnet6, n.ip_range6, n.gateway6, used, wanted6, reserved) if n.subnet6 else ""
            e = Endpoint(id=secrets.token_hex(32), network_id=n.id, container_id=c.id, ifname=ifname,
                         address=address, prefixlen=n.prefixlen, mac=cfg.get("MacAddress") or ipam.mac_for(address),
                         gateway=n.gateway if give_route else "", dns_names=names, address6=address6,
                         prefixlen6=n.prefixlen6 if address6 else 0,
                         gateway6=n.gateway6 if give_route and address6 else "", link_local=link_local)
            self.store.insert_endpoint(conn, e)
        return e

    def _publish(self, c, n: Network, e: Endpoint) -> None:
        wanted = ports.requested(c.host_config.get("PortBindings"), c.config.get("ExposedPorts"),
                                 bool(c.host_config.get("PublishAllPorts")))
        if not wanted:
            return
        mappings: list[PortMapping] = []
        default_ip = bridge_options.host_binding(n.options)
        try:
            for b in wanted:
                host_ip = b.host_ip or default_ip
                port = self.reservations.reserve(b.proto, host_ip, b.host_first, b.host_last)
                if ports.is_ipv6(host_ip):  # served by the userland proxy, to the container's IPv6 address first
                    m = PortMapping(b.proto, host_ip, port, e.address6 or e.address, b.container_port)
                    self.reservations.proxy(m.proto, m.host_ip, m.host_port, (m.container_ip, m.container_port))
                else:
                    m = PortMapping(b.proto, host_ip, port, e.address, b.container_port)
                mappings.append(m)
        except BaseException:
            for m in mappings:
                self.reservations.release(m.proto, m.host_ip, m.host_port)
            raise
        e.ports = mappings
        self.store.set_ports(e.id, mappings)
        self.pm.hook.barge_network_publish(network=self.networks.spec(n), endpoint=e.spec(), ports=nat_ports(mappings))

    def teardown(self, container_id: str) -> None:
        """After an exit (or a failed start, or rm): everything :meth:`setup` made, gone."""
        endpoints = self.store.endpoints(container_id=container_id)
        path = self.sandbox_path(container_id)
        if not endpoints and not os.path.lexists(path):
            return
        if self.dns is not None:
            with contextlib.suppress(Exception):
                self.dns.remove(container_id)
        for e in endpoints:
            n = self.store.get(e.network_id)
            try:
                if n is not None and self.networks.driver is not None:
                    if e.ports:
                        self.pm.hook.barge_network_unpublish(network=self.networks.spec(n), endpoint=e.spec(),
                                                             ports=nat_ports(e.ports))
                    self.pm.hook.barge_network_leave(network=self.networks.spec(n), endpoint=e.spec(), sandbox=None)
            except Exception:  # noqa: BLE001 - best-effort release: the other endpoints still go
                log.exception("network driver: releasing endpoint %s of %s", e.id[:12], container_id[:12])
            for p in e.ports:
                self.reservations.release(p.proto, p.host_ip, p.host_port)
        try:
            netns.remove(path)
        except BargeError:
            log.exception("removing the network namespace of %s", container_id[:12])
        for e in endpoints:
            self.store.delete_endpoint(e.id)
            if n := self.store.get(e.network_id):
                self.networks.event("disconnect", n, container=container_id)

    # -- connect and disconnect (barge.network.attachments) ------------------

    def join(self, c, n: Network, cfg: dict[str, Any]) -> None:
        """A running container connected to ``n``: its new endpoint, joined now (a stopped one joins at start)."""
        path = self.sandbox_path(c.id)
        if not (c.state.Running and netns.is_netns(path)):
            return
        current = self.store.endpoints(container_id=c.id)
        used = {e.ifname for e in current}
        ifname = next(f"eth{i}" for i in range(len(used) + 1) if f"eth{i}" not in used)
        give_route = not n.internal and not any(e.gateway for e in current)
        e = self._allocate(c, n, cfg, ifname, give_route)
        try:
            self.pm.hook.barge_network_join(network=self.networks.spec(n), endpoint=e.spec(), sandbox=path)
        except BaseException:
            self.store.delete_endpoint(e.id)
            raise
        if n.user_defined and self.dns is not None:
            self.dns.add(c.id, path)

    def leave(self, n: Network, e: Endpoint, sandbox: str | None) -> None:
        """Disconnect: the endpoint ``e`` on ``n`` unpublished, left and forgotten (``sandbox``: its namespace)."""
        if e.ports:
            self.pm.hook.barge_network_unpublish(network=self.networks.spec(n), endpoint=e.spec(),
                                                 ports=nat_ports(e.ports))
            for p in e.ports:
                self.reservations.release(p.proto, p.host_ip, p.host_port)
        live = sandbox if sandbox and netns.is_netns(sandbox) else None
        self.pm.hook.barge_network_leave(network=self.networks.spec(n), endpoint=e.spec(), sandbox=live)
        self.store.delete_endpoint(e.id)

    def renamed(self, container_id: str, old: str, new: str) -> None:
        """A rename shows at once in the embedded DNS, as in Docker."""
        old, new = old.lstrip("/"), new.lstrip("/")
        for e in self.store.endpoints(container_id=container_id):
            if old in e.dns_names:
                self.store.set_dns_names(e.id, [new if n == old else n for n in e.dns_names])

    # -- daemon start and stop ------------------------------------------------

    def recover(self, running: set[str]) -> None:
        """Finish journaled creates/removes, drop what stopped containers left, rebuild the host side."""
        self.netns_dir.mkdir(parents=True, exist_ok=True, mode=0o711)
        self.networks.recover()
        for e in self.store.endpoints():
            if e.container_id not in running:
                self.store.delete_endpoint(e.id)
            elif not self._joined(e):
                self._drop_half_joined(e)
        for entry in os.listdir(self.netns_dir):
            if entry not in running:
                with contextlib.suppress(BargeError):
                    netns.remove(self.netns_dir / entry)
        if self.networks.driver is None:
            return
        self._restore()
        if self.dns is not None:
            for cid in running:
                if user_networks(self.store, cid) and netns.is_netns(self.sandbox_path(cid)):
                    with contextlib.suppress(Exception):
                        self.dns.add(cid, self.sandbox_path(cid))

    def _joined(self, e: Endpoint) -> bool:
        """Whether ``e``'s interface is in its container's sandbox. :meth:`join` records the endpoint
        before the driver makes the interface: a daemon killed between the two leaves a row of none."""
        path = self.sandbox_path(e.container_id)
        if not netns.is_netns(path):
            return True  # no sandbox of its own to look into: nothing to judge by
        try:
            return bool(netns.run_in(path, lambda: socket.if_nametoindex(e.ifname)))
        except OSError:
            return False
        except BargeError:
            return True

    def _drop_half_joined(self, e: Endpoint) -> None:
        """A connect the daemon was killed in: what the driver made of it undone, the endpoint forgotten."""
        log.warning("container %s: a connect to network %s was cut off by a daemon kill: undone",
                    e.container_id[:12], e.network_id[:12])
        n = self.store.get(e.network_id)
        if n is not None and self.networks.driver is not None:
            with contextlib.suppress(Exception):
                self.pm.hook.barge_network_leave(network=self.networks.spec(n), endpoint=e.spec(), sandbox=None)
        self.store.delete_endpoint(e.id)

    def _restore(self) -> None:
        """The driver's bridges and rules again, with the host ports still ours held again."""
        networks = [n for n in self.store.networks() if not n.builtin]
        by_id = {n.id: n for n in networks}
        published = []
        for e in self.store.endpoints():
            if e.ports and e.network_id in by_id:
                kept = [p for p in e.ports if self.reservations.hold(p.proto, p.host_ip, p.host_port)]
                if len(kept) != len(e.ports):
                    log.warning("container %s: some published ports were taken while the daemon was down",
                                e.container_id[:12])
                for p in kept:
                    if ports.is_ipv6(p.host_ip):
                        self.reservations.proxy(p.proto, p.host_ip, p.host_port, (p.container_ip, p.container_port))
                published.append(Published(self.networks.spec(by_id[e.network_id]), e.spec(), tuple(nat_ports(kept))))
        self.pm.hook.barge_network_restore(networks=[self.networks.spec(n) for n in networks],
                                           published=published)

    def close(self) -> None:
        """Let go of the held host ports and stop the DNS server (containers keep their sandboxes)."""
        self.reservations.close()
        if self.dns is not None:
            self.dns.close()

    # -- what a container's files and views show ------------------------------

    def host_gateway(self) -> str:
        """``host-gateway`` in ``--add-host``: the default bridge's gateway, as Docker's default."""
        with contextlib.suppress(NotFound):
            return self.networks.get("bridge").gateway
        return ""

    def dns_settings(self, host: dict[str, Any]) -> dict[str, Any]:
        """A container's Dns/DnsSearch/DnsOptions, the daemon's ``[network]`` ones filling what it left empty."""
        out = dict(host)
        for key, value in (("Dns", self.cfg.dns), ("DnsSearch", self.cfg.dns_search),
                           ("DnsOptions", self.cfg.dns_options)):
            if not out.get(key) and value:
                out[key] = list(value)
        return out

    def snapshot(self) -> views.Snapshot:
        """Networks and endpoints read once, for inspect or a whole ``ps``."""
        return views.Snapshot(self.store.networks(), self.store.endpoints())

    def container_view(self, c, snapshot: views.Snapshot | None = None) -> dict[str, Any]:
        return views.container_view(snapshot or self.snapshot(), c, self.cfg.bridge, self.sandbox_path(c.id))

    def summary_ports(self, c, snapshot: views.Snapshot | None = None) -> list[dict[str, Any]]:
        return views.summary_ports(snapshot or self.snapshot(), c)
