"""A container's /etc/hostname, /etc/hosts and /etc/resolv.conf, kept in its directory.

They are written at create and bind-mounted at every start, as Docker does
(``<data_root>/containers/<id>/``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

HOSTS_BASE = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def read_text(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def resolv_conf(host_text: str, host: dict[str, Any]) -> str:
    """The host's resolv.conf for a container: loopback nameservers dropped (not with --network host),
    Google's when none is left (moby's default), Dns/DnsSearch/DnsOptions replacing their lines."""
    lines = host_text.splitlines()
    network_host = host.get("NetworkMode") == "host"
    servers = [ln.split()[1] for ln in lines if ln.startswith("nameserver") and len(ln.split()) > 1]
    search = next((ln.split()[1:] for ln in reversed(lines) if ln.startswith("search")), [])
    options = [w for ln in lines if ln.startswith("options") for w in ln.split()[1:]]
    if not network_host:
        servers = [s for s in servers if not (s.startswith("127.") or s == "::1")]
        if not servers:
            servers = ["8.8.8.8", "8.8.4.4"]
    if host.get("Dns"):
        servers = list(host["Dns"])
    if host.get("DnsSearch"):
        search = list(host["DnsSearch"])
    if host.get("DnsOptions"):
        options = list(host["DnsOptions"])
    out = [f"nameserver {s}" for s in servers]
    if search:
        out.append("search " + " ".join(search))
    if options:
        out.append("options " + " ".join(options))
    return "\n".join(out) + "\n"


def write_files(directory: Path, hostname: str, host: dict[str, Any]) -> None:
    """hostname, hosts and resolv.conf for a container with HostConfig ``host``."""
    write_atomic(directory / "hostname", hostname + "\n")
    hosts = (read_text("/etc/hosts") or HOSTS_BASE) if host.get("NetworkMode") == "host" else HOSTS_BASE
    for entry in host.get("ExtraHosts") or []:
        name, _, ip = entry.partition(":")
        hosts += f"{ip}\t{name}\n"
    write_atomic(directory / "hosts", hosts)
    write_atomic(directory / "resolv.conf", resolv_conf(read_text("/etc/resolv.conf"), host))
