"""A container's /etc/hostname, /etc/hosts and /etc/resolv.conf, kept in its directory.

They are written at create and bind-mounted at every start, as Docker does
(``<data_root>/containers/<id>/``).
"""

from __future__ import annotations

import os
import re
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


def host_resolv_path() -> str:
    """systemd-resolved's upstream list when it runs (its stub at 127.0.0.53 is useless in a container)."""
    upstream = "/run/systemd/resolve/resolv.conf"
    return upstream if os.path.exists(upstream) else "/etc/resolv.conf"


def host_nameservers() -> list[str]:
    """The host's resolvers, loopback ones included (the embedded DNS forwards from the host)."""
    return _resolv_parts(read_text(host_resolv_path()), {})[0]


def _resolv_parts(host_text: str, host: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """Nameservers, search domains and options of a resolv.conf, DnsSearch/DnsOptions replacing theirs."""
    lines = host_text.splitlines()
    servers = [ln.split()[1] for ln in lines if ln.startswith("nameserver") and len(ln.split()) > 1]
    search = next((ln.split()[1:] for ln in reversed(lines) if ln.startswith("search")), [])
    options = [w for ln in lines if ln.startswith("options") for w in ln.split()[1:]]
    if host.get("DnsSearch"):
        search = list(host["DnsSearch"])
    if host.get("DnsOptions"):
        options = list(host["DnsOptions"])
    return servers, search, options


def _render(servers: list[str], search: list[str], options: list[str]) -> str:
    out = [f"nameserver {s}" for s in servers]
    if search:
        out.append("search " + " ".join(search))
    if options:
        out.append("options " + " ".join(options))
    return "\n".join(out) + "\n"


def embedded_resolv_conf(host_text: str, host: dict[str, Any]) -> str:
    """On user-defined networks: the embedded DNS server, with the host's search and options kept
    (its ndots dropped: ``ndots:0`` unless the container asks for another)."""
    _, search, options = _resolv_parts(host_text, host)
    if not host.get("DnsOptions"):
        options = [o for o in options if not o.startswith("ndots:")]
    ndots = [o for o in options if o.startswith("ndots:")][-1:] or ["ndots:0"]
    return _render(["127.0.0.11"], search, [o for o in options if not o.startswith("ndots:")] + ndots)


def resolv_conf(host_text: str, host: dict[str, Any]) -> str:
    """The host's resolv.conf for a container: loopback nameservers dropped (not with --network host),
    Google's when none is left (moby's default), Dns/DnsSearch/DnsOptions replacing their lines."""
    servers, search, options = _resolv_parts(host_text, host)
    if host.get("NetworkMode") != "host":
        servers = [s for s in servers if not (s.startswith("127.") or s == "::1")] or ["8.8.8.8", "8.8.4.4"]
    if host.get("Dns"):
        servers = list(host["Dns"])
    return _render(servers, search, options)


def own_names(hostname: str, domainname: str) -> str:
    """The container's names in its hosts entry, as libnetwork writes them: the FQDN (hostname.domainname,
    or a hostname with dots) and then the bare host name."""
    fqdn = f"{hostname}.{domainname}" if domainname else hostname
    short, dot, _ = fqdn.partition(".")
    return f"{fqdn} {short}" if dot else fqdn


def write_files(directory: Path, hostname: str, host: dict[str, Any], address: str = "", host_gateway: str = "",
                embedded_dns: bool = False, address6: str = "", links: list[str] | None = None,
                domainname: str = "") -> None:
    """hostname, hosts and resolv.conf for a container with HostConfig ``host``.

    Written at create, and again at each start once the container's address
    is known (before they are bind-mounted, so a rename is safe).
    """
    write_atomic(directory / "hostname", hostname + "\n")
    hosts = (read_text("/etc/hosts") or HOSTS_BASE) if host.get("NetworkMode") == "host" else HOSTS_BASE
    for entry in host.get("ExtraHosts") or []:
        name, _, ip = entry.partition(":")
        if ip == "host-gateway":  # Docker's name for the host's address on the container's network
            ip = host_gateway or "127.0.0.1"
        hosts += f"{ip}\t{name}\n"
    hosts += "".join(links or [])  # legacy links' entries (barge.containers.links.hosts_line)
    names = own_names(hostname, domainname)
    if address:
        hosts += f"{address}\t{names}\n"
    if address6:  # a dual-stack network's address too, as dockerd writes it
        hosts += f"{address6}\t{names}\n"
    write_atomic(directory / "hosts", hosts)
    source = read_text(host_resolv_path())
    text = embedded_resolv_conf(source, host) if embedded_dns else resolv_conf(source, host)
    write_atomic(directory / "resolv.conf", text)



def update_link_host(path: str, address: str, alias: str) -> None:
    """libnetwork's ``etchosts.Update``: a linked child started again at ``address``; the entries of
    its ``alias`` in a running parent's hosts file are rewritten in place (the file is bind-mounted:
    a new file would not be seen)."""
    pattern = re.compile(r"(\S*)(\t" + re.escape(alias) + r")(\s|\.)")
    try:
        with open(path, "r+") as fh:
            text = fh.read()
            new = pattern.sub(lambda m: address + m.group(2) + m.group(3), text)
            if new != text:
                fh.seek(0)
                fh.write(new)
                fh.truncate()
    except FileNotFoundError:
        pass
