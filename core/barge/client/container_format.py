"""Rows for ``ps`` and ``stats``, with the fields and column texts of docker's
formatter (cli/command/formatter/container.go, container/formatter_stats.go).
"""

from __future__ import annotations

import time
from typing import Any

from barge.client import units
from barge.client.formatter import _created_at
from barge.client.templates import Struct
from barge.goquote import go_quote

# ---------------------------------------------------------------- ps

PS_TABLE = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
PS_QUIET = "{{.ID}}"
PS_HEADERS = {
    "ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND",
    "CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE",
    "Status": "STATUS", "Size": "SIZE", "Labels": "LABELS", "Mounts": "MOUNTS",
    "LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS", "Platform": "PLATFORM",
}


def ps_format(fmt: str | None, quiet: bool, size: bool) -> str:
    """docker's ``NewContainerFormat``."""
    if not fmt or fmt == "table":
        if quiet:
            return PS_QUIET
        return PS_TABLE + ("\t{{.Size}}" if size else "")
    if quiet:
        return PS_QUIET
    return fmt


def _familiar_image(image: str) -> str | None:
    """A reference as docker shows it: familiar name, tag kept, digest dropped."""
    from barge import reference
    from barge.errors import InvalidParameter

    try:
        ref = reference.parse(image)
    except InvalidParameter:
        return None
    name = ref.familiar_name
    return f"{name}:{ref.tag}" if ref.tag else name


def display_ports(ports: list[dict] | None) -> str:
    """docker's ``DisplayablePorts``: ranges grouped, host mappings last."""
    items = sorted(ports or [], key=lambda p: (p.get("PrivatePort", 0), p.get("IP", ""), p.get("PublicPort", 0), p.get("Type", "")))
    groups: dict[str, list[int]] = {}
    order: list[str] = []
    result: list[str] = []
    mappings: list[str] = []

    def host(ip: str, port: Any) -> str:
        return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"

    def form(key: str, first: int, last: int) -> str:
        ip, _, kind = key.rpartition("/")
        group = str(first) if first == last else f"{first}-{last}"
        if ip:
            group = f"{host(ip, group)}->{group}"
        return f"{group}/{kind}"

    for port in items:
        current = int(port.get("PrivatePort", 0))
        key = port.get("Type", "")
        ip = port.get("IP", "")
        if ip:
            public = int(port.get("PublicPort", 0))
            if public != current:
                mappings.append(f"{host(ip, public)}->{current}/{key}")
                continue
            key = f"{ip}/{key}"
        group = groups.get(key)
        if group is None:
            groups[key] = [current, current]
            order.append(key)
            continue
        if current == group[1] + 1:
            group[1] = current
            continue
        result.append(form(key, group[0], group[1]))
        groups[key] = [current, current]
    for key in order:
        result.append(form(key, *groups[key]))
    return ", ".join(result + mappings)


class ContainerRow(Struct):
    """One line of ``ps``."""

    GO_TYPE = "*formatter.ContainerContext"
    FIELDS = ("Command", "CreatedAt", "ID", "Image", "Label", "Labels", "LocalVolumes", "Mounts",
              "Names", "Networks", "Platform", "Ports", "RunningFor", "Size", "State", "Status")

    def __init__(self, c: dict, trunc: bool, now: float):
        self.c, self.trunc, self.now = c, trunc, now

    def to_json(self) -> dict:
        return {name: getattr(self, name) for name in sorted(self.FIELDS) if name != "Label"}

    @property
    def ID(self) -> str:
        cid = self.c.get("Id", "")
        return units.truncate_id(cid) if self.trunc else cid

    @property
    def Names(self) -> str:
        names = [n[1:] if n.startswith("/") else n for n in self.c.get("Names") or []]
        if self.trunc:
            for name in names:
                if "/" not in name:
                    names = [name]
                    break
        return ",".join(names)

    @property
    def Image(self) -> str:
        image = self.c.get("Image", "")
        if not image:
            return "<no image>"
        if self.trunc:
            short = units.truncate_id(self.c.get("ImageID", ""))
            if short and short == units.truncate_id(image):
                return short
            familiar = _familiar_image(image)
            if familiar is not None:
                return familiar
        return image

    @property
    def Command(self) -> str:
        command = self.c.get("Command", "")
        if self.trunc:
            command = units.ellipsis(command, 20)
        return go_quote(command)

    @property
    def CreatedAt(self) -> str:
        return _created_at(self.c.get("Created", 0))

    @property
    def RunningFor(self) -> str:
        return units.since(self.c.get("Created", 0), self.now)

    @property
    def Ports(self) -> str:
        return display_ports(self.c.get("Ports"))

    @property
    def State(self) -> str:
        return self.c.get("State", "")

    @property
    def Status(self) -> str:
        return self.c.get("Status", "")

    @property
    def Size(self) -> str:
        rw = units.human_size(self.c.get("SizeRw") or 0, 3)
        rootfs = self.c.get("SizeRootFs") or 0
        return f"{rw} (virtual {units.human_size(rootfs, 3)})" if rootfs > 0 else rw

    @property
    def Labels(self) -> str:
        labels = self.c.get("Labels") or {}
        return ",".join(sorted(f"{k}={v}" for k, v in labels.items()))

    @property
    def Label(self):
        labels = self.c.get("Labels") or {}
        return lambda name: labels.get(name, "")

    @property
    def Mounts(self) -> str:
        names = []
        for m in self.c.get("Mounts") or []:
            name = m.get("Name") or m.get("Source", "")
            names.append(units.ellipsis(name, 15) if self.trunc else name)
        return ",".join(names)

    @property
    def LocalVolumes(self) -> str:
        return str(sum(1 for m in self.c.get("Mounts") or [] if m.get("Driver") == "local"))

    @property
    def Networks(self) -> str:
        settings = self.c.get("NetworkSettings") or {}
        return ",".join((settings.get("Networks") or {}).keys())

    @property
    def Platform(self):
        descriptor = self.c.get("ImageManifestDescriptor") or {}
        platform = descriptor.get("platform") or descriptor.get("Platform")
        if not platform:
            return None
        text = f"{platform.get('os', '')}/{platform.get('architecture', '')}"
        return text + (f"/{platform['variant']}" if platform.get("variant") else "")


def container_rows(containers: list[dict], trunc: bool = True, now: float | None = None) -> list[ContainerRow]:
    now = time.time() if now is None else now
    return [ContainerRow(c, trunc, now) for c in containers]


# ---------------------------------------------------------------- stats

STATS_TABLE = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"
STATS_HEADERS = {
    "Container": "CONTAINER", "Name": "NAME", "ID": "CONTAINER ID", "CPUPerc": "CPU %",
    "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
}


def stats_entry(container: str, v: dict) -> dict:
    """docker's ``collect``: one stats sample to the numbers a row shows."""
    cpu = v.get("cpu_stats") or {}
    precpu = v.get("precpu_stats") or {}
    cpu_delta = float((cpu.get("cpu_usage") or {}).get("total_usage", 0)) - float((precpu.get("cpu_usage") or {}).get("total_usage", 0))
    system_delta = float(cpu.get("system_cpu_usage", 0) or 0) - float(precpu.get("system_cpu_usage", 0) or 0)
    online = float(cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []))
    cpu_percent = (cpu_delta / system_delta) * online * 100.0 if system_delta > 0 and cpu_delta > 0 else 0.0

    mem = v.get("memory_stats") or {}
    usage = float(mem.get("usage", 0) or 0)
    mstats = mem.get("stats") or {}
    if "total_inactive_file" in mstats and mstats["total_inactive_file"] < usage:
        used = usage - mstats["total_inactive_file"]
    elif mstats.get("inactive_file", 0) < usage:
        used = usage - mstats.get("inactive_file", 0)
    else:
        used = usage
    limit = float(mem.get("limit", 0) or 0)

    read = write = 0
    for entry in (v.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        op = (entry.get("op") or "")[:1].lower()
        if op == "r":
            read += entry.get("value", 0)
        elif op == "w":
            write += entry.get("value", 0)
    rx = tx = 0.0
    for net in (v.get("networks") or {}).values():
        rx += net.get("rx_bytes", 0)
        tx += net.get("tx_bytes", 0)
    return {
        "Container": container, "Name": v.get("name", ""), "ID": v.get("id", ""),
        "CPUPercentage": cpu_percent, "Memory": used, "MemoryLimit": limit,
        "MemoryPercentage": used / limit * 100.0 if limit else 0.0,
        "NetworkRx": rx, "NetworkTx": tx, "BlockRead": float(read), "BlockWrite": float(write),
        "PidsCurrent": int((v.get("pids_stats") or {}).get("current", 0) or 0), "IsInvalid": False,
    }


def invalid_entry(container: str) -> dict:
    return {"Container": container, "Name": "", "ID": "", "CPUPercentage": 0.0, "Memory": 0.0, "MemoryLimit": 0.0,
            "MemoryPercentage": 0.0, "NetworkRx": 0.0, "NetworkTx": 0.0, "BlockRead": 0.0, "BlockWrite": 0.0,
            "PidsCurrent": 0, "IsInvalid": True}


class StatsRow(Struct):
    """One line of ``stats``."""

    GO_TYPE = "*container.statsContext"
    FIELDS = ("BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name", "NetIO", "PIDs")

    def __init__(self, entry: dict, trunc: bool):
        self.s, self.trunc = entry, trunc

    @property
    def Container(self) -> str:
        return self.s["Container"]

    @property
    def Name(self) -> str:
        name = self.s.get("Name", "")
        return name[1:] if len(name) > 1 else "--"

    @property
    def ID(self) -> str:
        return units.truncate_id(self.s.get("ID", "")) if self.trunc else self.s.get("ID", "")

    @property
    def CPUPerc(self) -> str:
        return "--" if self.s["IsInvalid"] else f"{self.s['CPUPercentage']:.2f}%"

    @property
    def MemUsage(self) -> str:
        if self.s["IsInvalid"]:
            return "-- / --"
        return f"{units.bytes_size(self.s['Memory'])} / {units.bytes_size(self.s['MemoryLimit'])}"

    @property
    def MemPerc(self) -> str:
        return "--" if self.s["IsInvalid"] else f"{self.s['MemoryPercentage']:.2f}%"

    @property
    def NetIO(self) -> str:
        if self.s["IsInvalid"]:
            return "--"
        return f"{units.human_size(self.s['NetworkRx'], 3)} / {units.human_size(self.s['NetworkTx'], 3)}"

    @property
    def BlockIO(self) -> str:
        if self.s["IsInvalid"]:
            return "--"
        return f"{units.human_size(self.s['BlockRead'], 3)} / {units.human_size(self.s['BlockWrite'], 3)}"

    @property
    def PIDs(self) -> str:
        return "--" if self.s["IsInvalid"] else str(self.s["PidsCurrent"])
