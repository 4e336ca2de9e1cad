"""The network driver contract: networks, endpoints and published ports as plain data.

After libnetwork's driver API (``CreateNetwork``, ``Join``, ``Leave``,
``ProgramExternalConnectivity``...), minus everything a local engine does
not need. Core owns the records and the decisions: which networks exist,
the addresses (IPAM, persisted in the daemon's db), the MAC addresses, the host
ports (reserved by core before a driver is asked), the container's network
namespace (its *sandbox*, a bind-mounted namespace file made by
:mod:`barge.netns`) and the embedded DNS server. A driver (entry point
group ``barge.network_drivers``, e.g. ``bridge``) makes that real on the
host: links, addresses, routes and firewall rules.

A driver keeps no state across daemon restarts of its own: at start core
calls ``barge_network_restore`` with every network and every published port
still in use, and the driver makes the host match (bridges present, firewall
rebuilt). All hooks are called from worker threads, never from the event
loop, and may block.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: bumped when the hooks or the data below change incompatibly
API_VERSION = 1


@dataclass(frozen=True)
class NetworkSpec:
    """One network as its driver sees it."""

    id: str
    name: str
    #: the host interface that carries it (a bridge's name: ``barge0``, ``bg-<id[:12]>``)
    interface: str
    #: IPv4 subnet in CIDR form and the gateway (the host's address on it)
    subnet: str
    gateway: str
    #: no route out and no published ports reach it (``--internal``)
    internal: bool = False
    #: inter-container communication on this network (``enable_icc``)
    icc: bool = True
    #: masquerade outbound traffic (``enable_ip_masquerade``)
    masquerade: bool = True
    #: link MTU (0: the driver's default, 1500)
    mtu: int = 0
    #: the options given at ``network create -o`` (``com.docker.network.*``), for drivers' own use
    options: dict[str, str] = field(default_factory=dict)
    #: IPv6 subnet and gateway of a dual-stack network ("" for IPv4 only)
    subnet6: str = ""
    gateway6: str = ""
    #: the interface gets no IPv4 address (``com.docker.network.bridge.inhibit_ipv4``)
    inhibit_ipv4: bool = False


@dataclass(frozen=True)
class EndpointSpec:
    """A container's attachment to one network: one interface in its sandbox."""

    id: str
    network_id: str
    container_id: str
    #: interface name inside the sandbox (``eth0``, ``eth1``...)
    ifname: str
    #: IPv4 address, its prefix length, and the MAC address of that interface
    address: str
    prefixlen: int
    mac: str
    #: default route via this gateway ("" for none: internal networks, secondary networks)
    gateway: str = ""
    #: IPv6 address, its prefix length and default route ("" / 0 on IPv4-only networks)
    address6: str = ""
    prefixlen6: int = 0
    gateway6: str = ""
    #: extra link-local addresses (``--link-local-ip``): IPv4 ones get /16, IPv6 ones /64
    link_local: tuple[str, ...] = ()


@dataclass(frozen=True)
class PortMapping:
    """A published port: ``host_ip:host_port`` -> ``container_ip:container_port``.

    Core has already reserved the host port (it holds it bound, so nothing
    else on the host can take it); the driver only forwards traffic.
    """

    proto: str  # "tcp" | "udp" | "sctp"
    host_ip: str  # "0.0.0.0" for every host IPv4 address, "::" for every IPv6 one
    host_port: int
    container_ip: str
    container_port: int

    def to_dict(self) -> dict[str, Any]:
        return {"proto": self.proto, "host_ip": self.host_ip, "host_port": self.host_port,
                "container_ip": self.container_ip, "container_port": self.container_port}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PortMapping":
        return cls(str(d["proto"]), str(d["host_ip"]), int(d["host_port"]), str(d["container_ip"]),
                   int(d["container_port"]))


@dataclass(frozen=True)
class Published:
    """The published ports of one endpoint, as handed to ``barge_network_restore``."""

    network: NetworkSpec
    endpoint: EndpointSpec
    ports: tuple[PortMapping, ...]
