"""``barge system check`` for the bridge driver: the host against core's records.

Each network's bridge exists; on it are exactly the host sides of the
running containers' endpoints; barge's nft table forwards exactly the
published ports. A missing bridge or a wrong table is repaired as a daemon
start repairs it (``restore``: bridges made again, the table rebuilt); a
stray veth is deleted (its container is gone); a running container whose
veth is gone is left: it needs reconnecting, which only its user can ask.
"""

from __future__ import annotations

import re
from typing import Callable

from barge.consistency import Finding, finding
from barge.netdriver import EndpointSpec, NetworkSpec, Published

#: a forward in the ``published`` chain as ``nft list table`` prints it
FORWARD = re.compile(r"\b(tcp|udp|sctp) dport (\d+) dnat ip to ([0-9.]+):(\d+)")


def forwards_listed(listing: str) -> set[tuple[str, int, str, int]]:
    """(proto, host port, container ip, container port) of each forward in the table's ``published`` chain."""
    chain = listing.split("chain published {", 1)[1].split("}", 1)[0] if "chain published {" in listing else ""
    return {(p, int(hp), ip, int(cp)) for p, hp, ip, cp in FORWARD.findall(chain)}


def forwards_wanted(networks: list[NetworkSpec], published: list[Published]) -> set[tuple[str, int, str, int]]:
    open_ids = {n.id for n in networks if not n.internal}
    return {(m.proto, m.host_port, m.container_ip, m.container_port) for p in published
            if p.network.id in open_ids for m in p.ports}


def audit(driver, networks: list[NetworkSpec], endpoints: list[EndpointSpec], published: list[Published],
          restore: Callable[[], None]) -> list[Finding]:
    links = driver._links
    rebuild = _once(restore)
    out: list[Finding] = []
    by_network: dict[str, set[str]] = {}
    for e in endpoints:
        by_network.setdefault(e.network_id, set()).add(driver.veth_name(e))
    for n in networks:
        if not links.link_exists(n.interface):
            out.append(finding("networks", n.name, f"its bridge {n.interface} is gone",
                               remedy="make the bridge again", repair=rebuild))
            continue
        present = set(links.bridge_ports(n.interface))
        wanted = by_network.get(n.id, set())
        for name in sorted(present - wanted):
            out.append(finding("networks", n.name, f"{name} on bridge {n.interface} is no running container's",
                               remedy=f"delete {name}",
                               repair=lambda name=name: (links.delete_link(name), f"deleted {name}")[1]))
        for name in sorted(wanted - present):
            out.append(finding("networks", n.name, f"a running container's interface {name} is not on bridge "
                               f"{n.interface}", left="disconnect and connect the container again, or restart it"))
    listing = driver.firewall.listing() if networks else ""
    if networks and not listing:
        out.append(finding("networks", f"nft table {driver.table}", "barge's firewall table is gone",
                           remedy="rebuild it", repair=rebuild))
    elif networks:
        have, want = forwards_listed(listing), forwards_wanted(networks, published)
        for fwd in sorted(want - have):
            out.append(finding("networks", f"nft table {driver.table}", "published port {1}/{0} to {2}:{3} is not "
                               "forwarded".format(*fwd), remedy="rebuild the table", repair=rebuild))
        for fwd in sorted(have - want):
            out.append(finding("networks", f"nft table {driver.table}", "port {1}/{0} is forwarded to {2}:{3}, "
                               "which no container publishes".format(*fwd), remedy="rebuild the table",
                               repair=rebuild))
    return out


def _once(restore: Callable[[], None]) -> Callable[[], str]:
    """One rebuild answers every finding it fixes."""
    done: list[bool] = []

    def repair() -> str:
        if not done:
            restore()
            done.append(True)
            return "rebuilt the bridges and the firewall table from the records"
        return "fixed by the rebuild above"
    return repair
