"""Network and endpoint records in the daemon's db.

A :class:`Network` row is journaled through ``state`` ('creating' ->
'ready' -> 'removing'); an :class:`Endpoint` row is an address allocation
and lives while its container runs. Writes that allocate check and insert in
one ``BEGIN IMMEDIATE`` transaction (see :mod:`barge.network.ipam`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from barge.db import Database, Schema
from barge.errors import BargeError, NotFound
from barge.netdriver import EndpointSpec, NetworkSpec, PortMapping
from barge.network import bridge_options

#: drivers that core itself provides: no interface, no driver hooks
BUILTIN_DRIVERS = ("host", "null")
PREDEFINED = ("bridge", "host", "none")

TABLES_V1 = """
-- Networks and endpoints (issue 4). An endpoint is a running container's
-- attachment to a network: its row *is* the address allocation (unique per
-- network), so an address is never handed out twice and is free again the
-- moment the row goes. Endpoints live from a container's start to its exit;
-- recover() drops those of containers no longer running. ``state`` journals
-- network create/remove ('creating', 'ready', 'removing') so a killed daemon
-- finishes or undoes them at its next start.
CREATE TABLE networks (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    driver     TEXT NOT NULL,
    interface  TEXT NOT NULL,
    subnet     TEXT NOT NULL,
    gateway    TEXT NOT NULL,
    ip_range   TEXT NOT NULL,
    internal   INTEGER NOT NULL,
    attachable INTEGER NOT NULL,
    options    TEXT NOT NULL,
    labels     TEXT NOT NULL,
    created    TEXT NOT NULL,
    state      TEXT NOT NULL
);

CREATE TABLE endpoints (
    id           TEXT PRIMARY KEY,
    network_id   TEXT NOT NULL REFERENCES networks(id),
    container_id TEXT NOT NULL,
    ifname       TEXT NOT NULL,
    address      TEXT NOT NULL,
    prefixlen    INTEGER NOT NULL,
    mac          TEXT NOT NULL,
    gateway      TEXT NOT NULL,
    dns_names    TEXT NOT NULL,
    ports        TEXT NOT NULL,
    created      REAL NOT NULL,
    UNIQUE (network_id, address),
    UNIQUE (network_id, container_id)
);
CREATE INDEX endpoints_container ON endpoints(container_id);
"""

TABLES_V2 = """
-- IPv6, auxiliary and link-local addresses (issue 12). ``ipam`` is the
-- network's IPAM configs as inspect shows them (one per family, with their
-- AuxiliaryAddresses, never handed out). An endpoint's IPv6 address is unique
-- per network like its IPv4 one, ``link_local`` lists its --link-local-ip.
ALTER TABLE networks ADD COLUMN ipv6 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE networks ADD COLUMN subnet6 TEXT NOT NULL DEFAULT '';
ALTER TABLE networks ADD COLUMN gateway6 TEXT NOT NULL DEFAULT '';
ALTER TABLE networks ADD COLUMN ip_range6 TEXT NOT NULL DEFAULT '';
ALTER TABLE networks ADD COLUMN ipam TEXT NOT NULL DEFAULT '[]';
ALTER TABLE endpoints ADD COLUMN address6 TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN prefixlen6 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN gateway6 TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN link_local TEXT NOT NULL DEFAULT '[]';
CREATE UNIQUE INDEX endpoints_address6 ON endpoints(network_id, address6) WHERE address6 != ''
"""

SCHEMA = Schema("networks", (TABLES_V1, TABLES_V2))


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


@dataclass
class Network:
    id: str
    name: str
    driver: str
    interface: str = ""
    subnet: str = ""
    gateway: str = ""
    ip_range: str = ""
    internal: bool = False
    attachable: bool = False
    options: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    created: str = ""
    state: str = "ready"
    #: ``EnableIPv6``, and the IPv6 subnet, gateway and range ("" without)
    ipv6: bool = False
    subnet6: str = ""
    gateway6: str = ""
    ip_range6: str = ""
    #: the IPAM configs as given (``Subnet``, ``IPRange``, ``Gateway``, ``AuxiliaryAddresses``), for inspect
    ipam: list[dict[str, Any]] = field(default_factory=list)

    @property
    def builtin(self) -> bool:
        return self.driver in BUILTIN_DRIVERS

    @property
    def predefined(self) -> bool:
        return self.name in PREDEFINED

    @property
    def user_defined(self) -> bool:
        """Docker's ``IsUserDefined``: only these get the embedded DNS server."""
        return not self.predefined

    @property
    def prefixlen(self) -> int:
        return int(self.subnet.partition("/")[2] or 0)

    @property
    def prefixlen6(self) -> int:
        return int(self.subnet6.partition("/")[2] or 0)

    def reserved(self) -> set[str]:
        """Addresses never handed out: the auxiliary addresses of every IPAM config."""
        return {str(a) for conf in self.ipam for a in (conf.get("AuxiliaryAddresses") or {}).values()}

    def spec(self, default_mtu: int = 0) -> NetworkSpec:
        opts = self.options
        mtu = int(opts.get(bridge_options.MTU) or default_mtu or 0)
        return NetworkSpec(
            id=self.id, name=self.name, interface=self.interface, subnet=self.subnet, gateway=self.gateway,
            internal=self.internal, icc=_flag(opts.get(bridge_options.ENABLE_ICC), True),
            masquerade=_flag(opts.get(bridge_options.ENABLE_IP_MASQUERADE), True),
            mtu=mtu, options=dict(opts), subnet6=self.subnet6, gateway6=self.gateway6,
            inhibit_ipv4=_flag(opts.get(bridge_options.INHIBIT_IPV4), False),
        )


def _flag(value: str | None, default: bool) -> bool:
    """A bridge option's boolean as dockerd's ParseBool reads it (create has refused what it cannot)."""
    parsed = bridge_options.parse_bool(str(value)) if value is not None else None
    return default if parsed is None else parsed


@dataclass
class Endpoint:
    id: str
    network_id: str
    container_id: str
    ifname: str
    address: str
    prefixlen: int
    mac: str
    gateway: str
    dns_names: list[str] = field(default_factory=list)
    ports: list[PortMapping] = field(default_factory=list)
    #: IPv6 address, its prefix length and default route ("" / 0 without)
    address6: str = ""
    prefixlen6: int = 0
    gateway6: str = ""
    #: ``--link-local-ip`` addresses, without prefix
    link_local: list[str] = field(default_factory=list)

    def spec(self) -> EndpointSpec:
        return EndpointSpec(id=self.id, network_id=self.network_id, container_id=self.container_id,
                            ifname=self.ifname, address=self.address, prefixlen=self.prefixlen, mac=self.mac,
                            gateway=self.gateway, address6=self.address6, prefixlen6=self.prefixlen6,
                            gateway6=self.gateway6, link_local=tuple(self.link_local))


def _network(row) -> Network:
    return Network(id=row["id"], name=row["name"], driver=row["driver"], interface=row["interface"],
                   subnet=row["subnet"], gateway=row["gateway"], ip_range=row["ip_range"],
                   internal=bool(row["internal"]), attachable=bool(row["attachable"]),
                   options=json.loads(row["options"]), labels=json.loads(row["labels"]), created=row["created"],
                   state=row["state"], ipv6=bool(row["ipv6"]), subnet6=row["subnet6"], gateway6=row["gateway6"],
                   ip_range6=row["ip_range6"], ipam=json.loads(row["ipam"]))


def _endpoint(row) -> Endpoint:
    return Endpoint(id=row["id"], network_id=row["network_id"], container_id=row["container_id"],
                    ifname=row["ifname"], address=row["address"], prefixlen=row["prefixlen"], mac=row["mac"],
                    gateway=row["gateway"], dns_names=json.loads(row["dns_names"]),
                    ports=[PortMapping.from_dict(p) for p in json.loads(row["ports"])],
                    address6=row["address6"], prefixlen6=row["prefixlen6"], gateway6=row["gateway6"],
                    link_local=json.loads(row["link_local"]))


class AddressInUse(BargeError):
    status = 409


class NetworkStore:
    def __init__(self, db: Database):
        db.require(SCHEMA)
        self.db = db

    # -- networks -----------------------------------------------------------

    def networks(self, states: tuple[str, ...] = ("ready",)) -> list[Network]:
        marks = ",".join("?" * len(states))
        rows = self.db.query(f"SELECT * FROM networks WHERE state IN ({marks}) ORDER BY created, name", states)
        return [_network(r) for r in rows]

    def get(self, network_id: str) -> Network | None:
        row = self.db.query_one("SELECT * FROM networks WHERE id = ?", (network_id,))
        return _network(row) if row else None

    def resolve(self, ref: str) -> Network:
        """By full id, then exact name, then unique id prefix (Docker's order)."""
        for sql, arg in (("id = ?", ref), ("name = ?", ref)):
            row = self.db.query_one(f"SELECT * FROM networks WHERE {sql} AND state = 'ready'", (arg,))
            if row:
                return _network(row)
        if ref:
            rows = self.db.query("SELECT * FROM networks WHERE id LIKE ? AND state = 'ready'", (ref + "%",))
            if len(rows) == 1:
                return _network(rows[0])
            if len(rows) > 1:
                from barge.errors import InvalidParameter

                raise InvalidParameter(f"network {ref} is ambiguous ({len(rows)} matches found based on ID prefix)")
        raise NotFound(f"network {ref} not found")

    def insert(self, n: Network) -> None:
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO networks (id, name, driver, interface, subnet, gateway, ip_range, internal, attachable,"
                " options, labels, created, state, ipv6, subnet6, gateway6, ip_range6, ipam)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (n.id, n.name, n.driver, n.interface, n.subnet, n.gateway, n.ip_range, int(n.internal),
                 int(n.attachable), _dump(n.options), _dump(n.labels), n.created, n.state, int(n.ipv6),
                 n.subnet6, n.gateway6, n.ip_range6, _dump(n.ipam)))

    def set_state(self, network_id: str, state: str) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE networks SET state = ? WHERE id = ?", (state, network_id))

    def update_address(self, network_id: str, interface: str, subnet: str, gateway: str) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE networks SET interface = ?, subnet = ?, gateway = ?, ip_range = '' WHERE id = ?",
                         (interface, subnet, gateway, network_id))

    def delete(self, network_id: str) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM endpoints WHERE network_id = ?", (network_id,))
            conn.execute("DELETE FROM networks WHERE id = ?", (network_id,))

    def begin_remove(self, network_id: str) -> list[Endpoint]:
        """Mark a network 'removing' unless it has endpoints; returns them (then nothing is marked)."""
        with self.db.write() as conn:
            rows = conn.execute("SELECT * FROM endpoints WHERE network_id = ?", (network_id,)).fetchall()
            if not rows:
                conn.execute("UPDATE networks SET state = 'removing' WHERE id = ?", (network_id,))
        return [_endpoint(r) for r in rows]

    # -- endpoints ----------------------------------------------------------

    def endpoints(self, *, network_id: str | None = None, container_id: str | None = None) -> list[Endpoint]:
        if network_id is not None:
            rows = self.db.query("SELECT * FROM endpoints WHERE network_id = ? ORDER BY created", (network_id,))
        elif container_id is not None:
            rows = self.db.query("SELECT * FROM endpoints WHERE container_id = ? ORDER BY ifname", (container_id,))
        else:
            rows = self.db.query("SELECT * FROM endpoints ORDER BY created")
        return [_endpoint(r) for r in rows]

    def used_addresses(self, conn, network_id: str) -> set[str]:
        """Both families' addresses held on the network (IPv6 ones in their compressed form)."""
        rows = conn.execute("SELECT address, address6 FROM endpoints WHERE network_id = ?", (network_id,))
        return {a for r in rows for a in r if a}

    def insert_endpoint(self, conn, e: Endpoint) -> None:
        conn.execute(
            "INSERT INTO endpoints (id, network_id, container_id, ifname, address, prefixlen, mac, gateway,"
            " dns_names, ports, created, address6, prefixlen6, gateway6, link_local)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (e.id, e.network_id, e.container_id, e.ifname, e.address, e.prefixlen, e.mac, e.gateway,
             _dump(e.dns_names), _dump([p.to_dict() for p in e.ports]), time.time(), e.address6, e.prefixlen6,
             e.gateway6, _dump(e.link_local)))

    def set_ports(self, endpoint_id: str, ports: list[PortMapping]) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE endpoints SET ports = ? WHERE id = ?",
                         (_dump([p.to_dict() for p in ports]), endpoint_id))

    def set_dns_names(self, endpoint_id: str, names: list[str]) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE endpoints SET dns_names = ? WHERE id = ?", (_dump(names), endpoint_id))

    def delete_endpoint(self, endpoint_id: str) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM endpoints WHERE id = ?", (endpoint_id,))
