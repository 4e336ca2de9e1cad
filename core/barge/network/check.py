"""The networks' invariants, for ``barge system check``: endpoints <-> running containers <-> the host.

- only running containers have endpoints (addresses, published ports) and
  network namespaces; a running container with endpoints has its namespace;
- each endpoint's address is in its network's subnet;
- every published port is held by this daemon, and no other;
- the driver's view of the host (bridges, veths, firewall) matches, through
  its ``audit`` operation.

What a stopped container left is released as its exit would have released
it; a running container that lost its namespace is left (restart it).
"""

from __future__ import annotations

import ipaddress
import os

from barge import netns
from barge.consistency import Finding, finding
from barge.errors import NotFound
from barge.netdriver import Published
from barge.network.attachments import Attachments
from barge.network.endpoints import Endpoints, nat_ports


def check_network(endpoints: Endpoints, attachments: Attachments) -> tuple[list[Finding], dict[str, int]]:
    """Endpoints and namespaces are listed first, then each one whose container seems not to run is
    looked at again under that container's lock: a start in progress is not a leak."""
    store, out = endpoints.store, []
    networks = {n.id: n for n in store.networks()}
    listed = sorted(os.listdir(endpoints.netns_dir)) if endpoints.netns_dir.is_dir() else []
    all_endpoints = store.endpoints()
    running = {c.id for c in attachments.containers.all() if c.state.Running}
    candidates = {e.container_id for e in all_endpoints if e.container_id not in running} | set(listed) - running
    stale = {cid for cid in candidates if not _runs(attachments, cid)}
    running |= candidates - stale
    for cid in sorted(stale):
        if store.endpoints(container_id=cid):
            out.append(finding("networks", cid, "a container that is not running still has endpoints",
                               remedy="release them (addresses, ports, rules, namespace) as its exit would have",
                               repair=lambda cid=cid: _release(attachments, endpoints, cid)))
        elif cid in listed:
            out.append(finding("networks", cid, "a container that is not running still has its network "
                               f"namespace {endpoints.sandbox_path(cid)}", remedy="remove it",
                               repair=lambda cid=cid: _release(attachments, endpoints, cid)))
    all_endpoints = store.endpoints()
    live = [e for e in all_endpoints if e.container_id in running]
    for cid in sorted({e.container_id for e in live}):
        if not netns.is_netns(endpoints.sandbox_path(cid)):
            out.append(finding("networks", cid, "a running container with endpoints has lost its network namespace",
                               left="restart the container"))
    for e in live:
        n = networks.get(e.network_id)
        if n is not None and not n.builtin and n.subnet and e.address and \
                ipaddress.ip_address(e.address) not in ipaddress.ip_network(n.subnet, strict=False):
            out.append(finding("networks", n.name, f"endpoint {e.id[:12]} of {e.container_id[:12]} has address "
                               f"{e.address}, outside {n.subnet}", left="disconnect and connect the container again"))
    out += _ports(endpoints, live)
    if endpoints.networks.driver is not None:
        user = [n for n in networks.values() if not n.builtin]
        specs = {n.id: endpoints.networks.spec(n) for n in user}
        published = [Published(specs[e.network_id], e.spec(), tuple(nat_ports(e.ports)))
                     for e in live if e.ports and e.network_id in specs]
        out += endpoints.pm.hook.barge_network_audit(
            networks=list(specs.values()), endpoints=[e.spec() for e in live if e.network_id in specs],
            published=published) or []
    return out, {"networks": len(networks), "endpoints": len(all_endpoints)}


def _ports(endpoints: Endpoints, live) -> list[Finding]:
    reservations = endpoints.reservations
    wanted = {(p.proto, p.host_ip, p.host_port): e.container_id for e in live for p in e.ports}
    held = reservations.held()
    out = []
    for key, cid in sorted(wanted.items()):
        if key not in held:
            out.append(finding("networks", cid, "published port {0} {1}:{2} is not held by the daemon".format(*key),
                               remedy="hold it again",
                               repair=lambda k=key: "held it" if reservations.hold(*k)
                               else "another program has taken it meanwhile: restart the container"))
    for key in sorted(held - set(wanted)):
        out.append(finding("networks", "{1}:{2}/{0}".format(*key), "a host port the daemon holds for no container",
                           remedy="let it go", repair=lambda k=key: (reservations.release(*k), "let it go")[1]))
    return out


def _runs(attachments: Attachments, cid: str) -> bool:
    try:
        with attachments.locks.locked(cid) as c:
            return bool(c.state.Running) or attachments.locks.releasing(cid)
    except NotFound:
        return False


def _release(attachments: Attachments, endpoints: Endpoints, cid: str) -> str:
    """As the container's exit releases them, unless it runs again by now."""
    try:
        with attachments.locks.locked(cid) as c:
            if c.state.Running or attachments.locks.releasing(cid):
                return "left: the container runs again, or its exit is being released"
            endpoints.teardown(cid)
    except NotFound:
        endpoints.teardown(cid)
    return "released them"
