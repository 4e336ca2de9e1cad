"""Legacy container links (``--link name:alias``) on the default bridge, as moby's ``daemon/links``.

A link is a row (parent, child, alias) made at create (moby's
``registerLinks``), only for a container on the default ``bridge``: on a
user-defined network dockerd registers none (the docker CLI passes them as
the endpoint's ``Links``, which the embedded DNS answers). The link's full
name is ``/<parent>/<alias>``: the child is found by it (``inspect web/db``),
``ps`` lists it among the child's names, inspect shows the parent's links as
``/db:/web/db`` and ``DELETE /containers/web/db?link=1`` removes one. At the
parent's start every child must run on the bridge: its address goes into the
parent's /etc/hosts and the ``<ALIAS>_PORT...`` environment (:func:`link_env`).
Names are computed from the rows, so a rename of either side follows.
"""

from __future__ import annotations

import posixpath
import sqlite3
from typing import Any, Callable, Iterable

from barge.db import Database, Schema
from barge.errors import Conflict, InvalidParameter, NotFound

TABLES_V1 = """
-- Legacy links (issue 12): a parent container's child under an alias, the
-- link's name being /<parent name>/<alias>. The rows go with either side.
CREATE TABLE container_links (
    parent_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
    child_id  TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
    alias     TEXT NOT NULL,
    PRIMARY KEY (parent_id, alias)
);
CREATE INDEX container_links_child ON container_links(child_id);
"""

SCHEMA = Schema("container_links", (TABLES_V1,), requires=("containers",))

HOST_NETWORK_AND_LINKS = ("conflicting options: host type networking can't be used with links. "
                          "This would result in undefined behavior")
CONTAINER_NETWORK_AND_LINKS = ("conflicting options: container type network can't be used with links. "
                               "This would result in undefined behavior")


def parse_link(value: str) -> tuple[str, str]:
    """moby's ``opts.ParseLink``: ``name[:alias]`` (or the stored ``/name:/parent/alias``) -> (name, alias)."""
    if not value:
        raise InvalidParameter("empty string specified for links")
    parts = value.split(":")
    if len(parts) > 2:
        raise InvalidParameter(f"bad format for links: {value}")
    if len(parts) == 1:
        return value, value
    if parts[0].startswith("/"):
        return parts[0][1:], posixpath.basename(parts[1])
    return parts[0], parts[1]


def check_links(host: dict[str, Any]) -> None:
    """The create-time checks that need no other container (moby's ``validateNetMode``)."""
    links = host.get("Links") or []
    for value in links:
        parse_link(value)
    mode = host.get("NetworkMode") or ""
    if links and mode == "host":
        raise InvalidParameter(HOST_NETWORK_AND_LINKS)
    if links and mode.startswith("container:"):
        raise InvalidParameter(CONTAINER_NETWORK_AND_LINKS)


class LinkTable:
    """The rows, read and written in the daemon's db."""

    def __init__(self, db: Database):
        db.require(SCHEMA)
        self.db = db

    def insert(self, conn: sqlite3.Connection, parent_id: str, links: Iterable[tuple[str, str]]) -> None:
        """In the create's transaction; a name already taken is skipped, as moby only warns."""
        for child_id, alias in links:
            conn.execute("INSERT OR IGNORE INTO container_links (parent_id, child_id, alias) VALUES (?, ?, ?)",
                         (parent_id, child_id, alias))

    def children(self, parent_id: str) -> list[tuple[str, str]]:
        """``(child id, alias)`` of the parent's links, by alias."""
        rows = self.db.query("SELECT child_id, alias FROM container_links WHERE parent_id = ? ORDER BY alias",
                             (parent_id,))
        return [(r["child_id"], r["alias"]) for r in rows]

    def parents(self, child_id: str) -> list[tuple[str, str, str]]:
        """``(parent id, parent name, alias)`` of the links to the child."""
        rows = self.db.query("SELECT l.parent_id, c.name, l.alias FROM container_links l JOIN containers c"
                             " ON c.id = l.parent_id WHERE l.child_id = ? ORDER BY c.name, l.alias", (child_id,))
        return [(r["parent_id"], r["name"], r["alias"]) for r in rows]

    def names(self) -> dict[str, list[str]]:
        """Every link name by child id (``/web/db``), for a listing."""
        out: dict[str, list[str]] = {}
        rows = self.db.query("SELECT l.child_id, c.name, l.alias FROM container_links l JOIN containers c"
                             " ON c.id = l.parent_id")
        for r in rows:
            out.setdefault(r["child_id"], []).append(f"{r['name']}/{r['alias']}")
        return out

    def child_of(self, name: str) -> str | None:
        """The child id a link name (``/web/db``) stands for."""
        parent, _, alias = name.rpartition("/")
        if not parent or not alias:
            return None
        row = self.db.query_one("SELECT l.child_id FROM container_links l JOIN containers c ON c.id = l.parent_id"
                                " WHERE c.name = ? AND l.alias = ?", (parent, alias))
        return row["child_id"] if row else None

    def remove(self, name: str) -> None:
        """moby's ``rmLink``: ``/web/db`` unlinked from ``/web``; a container's own name is refused."""
        name = name if name.startswith("/") else "/" + name
        parent, _, alias = name.rpartition("/")
        if not parent:
            raise Conflict("Conflict, cannot remove the default link name of the container")
        with self.db.write() as conn:
            row = conn.execute("SELECT id FROM containers WHERE name = ?", (parent,)).fetchone()
            if row is None:
                raise NotFound(f"Cannot get parent {parent} for link name {name}")
            conn.execute("DELETE FROM container_links WHERE parent_id = ? AND alias = ?", (row["id"], alias))


def resolve_children(host: dict[str, Any], get: Callable[[str], Any]) -> list[tuple[str, str]]:
    """moby's ``registerLinks``: ``(child id, alias)`` of the ``Links`` of a container on the default
    bridge (or none); none on a user-defined network. A child joined to another's network links to that one; a host one cannot."""
    mode = host.get("NetworkMode") or "default"
    if mode not in ("bridge", "default", "none"):
        return []  # a user-defined network (host and container: were refused at create)
    out = []
    for value in host.get("Links") or []:
        name, alias = parse_link(value)
        try:
            child = get(name)
        except NotFound as exc:
            raise InvalidParameter(f"could not get container for {name}: {exc}") from None
        mode = child.host_config.get("NetworkMode") or ""
        seen = set()
        while mode.startswith("container:") and child.id not in seen:
            seen.add(child.id)
            other = mode[len("container:"):]
            try:
                child = get(other)
            except NotFound as exc:
                raise InvalidParameter(f"Could not get container for {other}: {exc}") from None
            mode = child.host_config.get("NetworkMode") or ""
        if mode == "host":
            raise InvalidParameter(HOST_NETWORK_AND_LINKS)
        out.append((child.id, alias))
    return out


def _port_key(port: str) -> tuple[int, str]:
    number, _, proto = port.partition("/")
    return int(number), proto or "tcp"


def _sorted_ports(ports: Iterable[str]) -> list[tuple[int, str]]:
    """nat.Sort with moby's order: by number, tcp first at the same number."""
    numbered = (p for p in ports if p.partition("/")[0].isdigit())  # dockerd keeps "abc/tcp" but never uses it
    return sorted((_port_key(p) for p in numbered), key=lambda p: (p[0], p[1].lower() != "tcp"))


def link_env(name: str, child_ip: str, env: list[str], exposed: Iterable[str]) -> list[str]:
    """moby 20.10's ``Link.ToEnv``: ``name`` is the link's full name (``/web/db``)."""
    alias = posixpath.basename(name).upper().replace("-", "_")
    ports = _sorted_ports(exposed)
    out = []
    if ports:
        out.append(f"{alias}_PORT={ports[0][1]}://{child_ip}:{ports[0][0]}")
    i = 0
    while i < len(ports):
        j = _next_contiguous(ports, i)
        if j > i + 1:
            (num, proto), (end, end_proto) = ports[i], ports[j]
            prefix = f"{alias}_PORT_{num}_{proto.upper()}"
            out += [f"{prefix}_START={proto}://{child_ip}:{num}", f"{prefix}_ADDR={child_ip}",
                    f"{prefix}_PROTO={proto}", f"{prefix}_PORT_START={num}"]
            end_prefix = f"{alias}_PORT_{num}_{end_proto.upper()}"
            out += [f"{end_prefix}_END={end_proto}://{child_ip}:{end}", f"{end_prefix}_PORT_END={end}"]
            i = j + 1
        else:
            i += 1
    for num, proto in ports:
        prefix = f"{alias}_PORT_{num}_{proto.upper()}"
        out += [f"{prefix}={proto}://{child_ip}:{num}", f"{prefix}_ADDR={child_ip}", f"{prefix}_PORT={num}",
                f"{prefix}_PROTO={proto}"]
    out.append(f"{alias}_NAME={name}")
    for entry in env:
        key, sep, value = entry.partition("=")
        if sep and key not in ("HOME", "PATH"):
            out.append(f"{alias}_ENV_{key}={value}")
    return out


def _next_contiguous(ports: list[tuple[int, str]], index: int) -> int:
    if index + 1 == len(ports):
        return index
    value = ports[index][0]
    for i in range(index + 1, len(ports)):
        if ports[i][0] > value + 1:
            return i - 1
        value += 1
    return len(ports) - 1


def hosts_line(alias: str, child: Any, child_ip: str) -> str:
    """The parent's /etc/hosts entry: alias, the child's hostname, and its name unless it is the alias."""
    names = f"{alias} {child.config.get('Hostname') or child.id[:12]}"
    if alias != child.name[1:]:
        names += f" {child.name[1:]}"
    return f"{child_ip}\t{names}\n"


def for_start(c: Any, children: list[tuple[str, str]], get: Callable[[str], Any],
              bridge_ip: Callable[[Any], str | None]) -> tuple[list[str], list[str]]:
    """The parent's /etc/hosts lines and environment for its links (moby's ``buildSandboxOptions``
    and ``setupLinkedContainers``); nothing off the default bridge. A child that is gone, stopped
    or off the bridge fails the start with dockerd's words."""
    if c.host_config.get("NetworkMode") != "bridge" or not children:
        return [], []
    hosts: list[str] = []
    env: list[str] = []
    for child_id, alias in children:
        child = get(child_id)
        full = f"{c.name}/{alias}"
        if child is None or not child.state.Running or child.state.Restarting:
            name = child.name if child is not None else child_id
            raise Conflict(f"Cannot link to a non running container: {name} AS {full}")
        ip = bridge_ip(child)
        if not ip:
            raise Conflict(f"Cannot link to {child.name}, as it does not belong to the default network")
        hosts.append(hosts_line(alias, child, ip))
        env += link_env(full, ip, list(child.config.get("Env") or []), (child.config.get("ExposedPorts") or {}))
    return hosts, env
