"""The ``bridge`` network driver: a Linux bridge per network, a veth pair per endpoint, one nftables table.

The driver holds an in-memory model (networks, endpoints, published ports)
and derives the whole firewall table from it on every change, so the
kernel's table is always a function of the model and a restart's
``restore`` rebuilds the same table from core's records. Links are created
and removed directly; the model does not track them beyond what ``leave``
needs.
"""

from __future__ import annotations

import ipaddress
import os
import threading
from pathlib import Path
from typing import Any, Mapping

from barge.errors import DriverNotSupported, InvalidParameter
from barge.netdriver import EndpointSpec, NetworkSpec, PortMapping, Published
from barge.netdriver.base import NetworkDriver

IP_FORWARD = "/proc/sys/net/ipv4/ip_forward"
BRIDGE_NF_CALL_IPTABLES = "/proc/sys/net/bridge/bridge-nf-call-iptables"
BRIDGE_NF_CALL_IP6TABLES = "/proc/sys/net/bridge/bridge-nf-call-ip6tables"
DEFAULT_MTU = 1500


def _bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0", "no"):
        return value.lower() in ("true", "1", "yes")
    raise InvalidParameter(f"[network.options.bridge] {key} must be true or false, not {value!r}")


class BridgeDriver(NetworkDriver):
    name = "bridge"
    options_schema = {
        "table": "name of barge's nftables table (family inet); default \"barge\"",
        "ip_forward": "switch net.ipv4.ip_forward on when a network needs it; default true",
        "veth_prefix": "host-side veth names are this plus 7 characters of the endpoint id; default \"veth\"",
    }

    def __init__(self, home: Path, options: Mapping[str, Any] | None = None):
        super().__init__(home, options)
        unknown = set(self.options) - set(self.options_schema)
        if unknown:
            raise InvalidParameter(f"[network.options.bridge] unknown option(s): {', '.join(sorted(unknown))}"
                                   f" (known: {', '.join(self.options_schema)})")
        if os.geteuid() != 0:
            raise DriverNotSupported(self.name, "needs root (CAP_NET_ADMIN) for bridges and nftables")
        try:
            from barge_net_bridge import links
        except ImportError as exc:
            raise DriverNotSupported(self.name, f"pyroute2 does not load: {exc}") from None
        from barge_net_bridge import firewall, nft

        try:
            nft.load()
        except OSError as exc:
            raise DriverNotSupported(self.name, f"libnftables does not load: {exc}") from None
        self._links = links
        self.table = firewall.check_table_name(str(self.options.get("table", "barge")))
        self.ip_forward_allowed = _bool(self.options.get("ip_forward", True), "ip_forward")
        self.veth_prefix = str(self.options.get("veth_prefix", "veth"))
        if not self.veth_prefix or len(self.veth_prefix) > 8 or not self.veth_prefix.isalnum():
            raise InvalidParameter("[network.options.bridge] veth_prefix: 1 to 8 letters or digits")
        self._firewall_mod = firewall
        self._nft_mod = nft
        self._firewall: firewall.Firewall | None = None  # made on first use: probing touches nothing
        self._lock = threading.RLock()
        self._networks: dict[str, NetworkSpec] = {}
        self._endpoints: dict[str, EndpointSpec] = {}
        self._ports: dict[tuple[str, str], list[PortMapping]] = {}
        self._forwarding: str | None = None  # what _settle_forwarding did, for status()

    # -- helpers -----------------------------------------------------------

    @property
    def firewall(self):
        with self._lock:
            if self._firewall is None:
                self._firewall = self._firewall_mod.Firewall(self._nft_mod.Nft(), self.table)
            return self._firewall

    def veth_name(self, endpoint: EndpointSpec) -> str:
        return self.veth_prefix + endpoint.id[:7]

    @staticmethod
    def _check(network: NetworkSpec) -> tuple[int, int]:
        """Validate the addressing; returns the IPv4 and IPv6 prefix lengths (0: no IPv6 subnet)."""
        try:
            net = ipaddress.IPv4Network(network.subnet, strict=False)
            gw = ipaddress.IPv4Address(network.gateway)
            net6 = ipaddress.IPv6Network(network.subnet6, strict=False) if network.subnet6 else None
            gw6 = ipaddress.IPv6Address(network.gateway6) if net6 else None
        except ValueError as exc:
            raise InvalidParameter(f"network {network.name}: {exc}") from None
        if gw not in net:
            raise InvalidParameter(f"network {network.name}: gateway {gw} is not in {net}")
        if net6 is not None and gw6 not in net6:
            raise InvalidParameter(f"network {network.name}: gateway {gw6} is not in {net6}")
        return net.prefixlen, net6.prefixlen if net6 is not None else 0

    def _ensure_bridge(self, n: NetworkSpec, prefixlens: tuple[int, int]) -> None:
        prefixlen, prefixlen6 = prefixlens
        self._links.ensure_bridge(n.interface, n.gateway, prefixlen, n.mtu or DEFAULT_MTU, n.gateway6, prefixlen6,
                                  n.inhibit_ipv4)

    def _apply(self) -> None:
        """Re-render the table from the model, then settle the host switches it needs."""
        ports = [self._firewall_mod.Port(self._networks[nid], m)
                 for (nid, _), maps in self._ports.items() if nid in self._networks for m in maps]
        self.firewall.apply(list(self._networks.values()), ports)
        self._settle_forwarding()

    def _settle_forwarding(self) -> None:
        needed = any(not n.internal and n.masquerade for n in self._networks.values())
        current = self._links.read_sysctl(IP_FORWARD)
        if needed and self.ip_forward_allowed:
            if current != "1":
                self._links.write_sysctl(IP_FORWARD, "1")
                self._forwarding = "on (switched on by barge)"
            elif not (self._forwarding or "").startswith("on"):
                self._forwarding = "on (already on)"
        elif needed:
            self._forwarding = f"{'on' if current == '1' else 'off'} (ip_forward = false: left as it is)"
        else:
            self._forwarding = f"{'on' if current == '1' else 'off'} (not needed)"

    # -- hooks -------------------------------------------------------------

    def status(self) -> list[tuple[str, str]]:
        forwarding = self._forwarding
        if forwarding is None:
            current = self._links.read_sysctl(IP_FORWARD)
            forwarding = f"{'on' if current == '1' else 'off'} (no network yet)"
        return [("Firewall Backend", "nftables"), ("Firewall Table", f"inet {self.table}"),
                ("IP Forwarding", forwarding)]

    def create(self, network: NetworkSpec) -> None:
        prefixlens = self._check(network)
        with self._lock:
            existed = self._links.link_exists(network.interface)
            try:
                self._ensure_bridge(network, prefixlens)
                if not network.icc:
                    self._need_bridge_netfilter(network)
                previous = self._networks.get(network.id)
                self._networks[network.id] = network
                try:
                    self._apply()
                except BaseException:
                    if previous is None:
                        del self._networks[network.id]
                    else:
                        self._networks[network.id] = previous
                    raise
            except BaseException:
                if not existed:
                    self._links.delete_link(network.interface)
                raise

    def _need_bridge_netfilter(self, network: NetworkSpec) -> None:
        """icc=false is a rule on bridged traffic: iptables hooks must see it (br_netfilter)."""
        if not os.path.exists(BRIDGE_NF_CALL_IPTABLES):
            raise InvalidParameter(f"network {network.name}: enable_icc=false needs the br_netfilter kernel module"
                                   " (modprobe br_netfilter)")
        self._links.write_sysctl(BRIDGE_NF_CALL_IPTABLES, "1")
        if network.subnet6:  # the drop judges bridged IPv6 as well
            self._links.write_sysctl(BRIDGE_NF_CALL_IP6TABLES, "1")

    def delete(self, network: NetworkSpec) -> None:
        with self._lock:
            self._networks.pop(network.id, None)
            for key in [k for k in self._ports if k[0] == network.id]:
                del self._ports[key]
            for eid in [e.id for e in self._endpoints.values() if e.network_id == network.id]:
                del self._endpoints[eid]
            self._apply()
            self._links.delete_link(network.interface)

    def join(self, network: NetworkSpec, endpoint: EndpointSpec, sandbox: str) -> None:
        extra = [(endpoint.address6, endpoint.prefixlen6)] if endpoint.address6 else []
        extra += [(a, 64 if ":" in a else 16) for a in endpoint.link_local]  # libnetwork's link-local masks
        self._links.add_endpoint(network.interface, self.veth_name(endpoint), sandbox, endpoint.ifname,
                                 endpoint.address, endpoint.prefixlen, endpoint.mac, network.mtu or DEFAULT_MTU,
                                 endpoint.gateway, tuple(extra), endpoint.gateway6)
        with self._lock:
            self._endpoints[endpoint.id] = endpoint

    def leave(self, network: NetworkSpec, endpoint: EndpointSpec, sandbox: str | None) -> None:
        with self._lock:
            self._endpoints.pop(endpoint.id, None)
            if self._ports.pop((network.id, endpoint.id), None):
                self._apply()
        if sandbox is not None:
            self._links.remove_endpoint(sandbox, endpoint.ifname)

    def publish(self, network: NetworkSpec, endpoint: EndpointSpec, ports: list[PortMapping]) -> None:
        if network.internal and ports:
            raise InvalidParameter(f"network {network.name} is internal: ports cannot be published to it")
        for m in ports:
            self._firewall_mod.dnat_rule(m)  # validates before anything changes
        with self._lock:
            key = (network.id, endpoint.id)
            before = self._ports.get(key)
            merged = list(before or [])
            merged += [m for m in ports if m not in merged]
            self._ports[key] = merged
            try:
                self._apply()
            except BaseException:
                if before is None:
                    del self._ports[key]
                else:
                    self._ports[key] = before
                raise

    def unpublish(self, network: NetworkSpec, endpoint: EndpointSpec, ports: list[PortMapping]) -> None:
        with self._lock:
            key = (network.id, endpoint.id)
            have = self._ports.get(key)
            if not have:
                return
            left = [m for m in have if m not in ports]
            if left:
                self._ports[key] = left
            else:
                del self._ports[key]
            if len(left) != len(have):
                self._apply()

    def restore(self, networks: list[NetworkSpec], published: list[Published]) -> None:
        with self._lock:
            for n in networks:
                self._ensure_bridge(n, self._check(n))
                if not n.icc:
                    self._need_bridge_netfilter(n)
            self._networks = {n.id: n for n in networks}
            self._endpoints = {}
            self._ports = {}
            for p in published:
                if p.network.id in self._networks and p.ports:
                    for m in p.ports:
                        self._firewall_mod.dnat_rule(m)
                    key = (p.network.id, p.endpoint.id)
                    self._ports[key] = list(dict.fromkeys(self._ports.get(key, []) + list(p.ports)))
                    self._endpoints[p.endpoint.id] = p.endpoint
            self._apply()

    def audit(self, networks: list[NetworkSpec], endpoints: list[EndpointSpec], published: list[Published]) -> list:
        from barge_net_bridge.audit import audit

        return audit(self, networks, endpoints, published, restore=lambda: self.restore(networks, published))
