"""Port specs as go-connections' ``nat.ParsePortSpecs`` reads them, for ``-p`` and EXPOSE alike.

``[ip:][hostPort:]containerPort[/proto]`` to ``ExposedPorts`` and
``PortBindings``; nothing but builtins and :mod:`barge.errors`, so the CLI
and the daemon's builder share it.
"""

from __future__ import annotations

from barge.errors import InvalidParameter

PROTOCOLS = ("tcp", "udp", "sctp")


def port_range(text: str, what: str) -> tuple[int, int]:
    start, sep, end = text.partition("-")
    try:
        first = int(start)
        last = int(end) if sep else first
    except ValueError:
        raise InvalidParameter(f"invalid {what}: {text}") from None
    if not (0 <= first <= 65535 and 0 <= last <= 65535) or last < first:
        raise InvalidParameter(f"invalid {what}: {text}")
    return first, last


def parse_port_specs(specs: list[str]) -> tuple[dict, dict]:
    """go-connections ``nat.ParsePortSpecs``: ``[ip:][hostPort:]containerPort[/proto]``
    -> (ExposedPorts, PortBindings)."""
    exposed: dict[str, dict] = {}
    bindings: dict[str, list[dict]] = {}
    for spec in specs:
        raw, _, proto = spec.partition("/")
        proto = proto or "tcp"
        if proto.lower() not in PROTOCOLS:
            raise InvalidParameter(f"invalid proto: {proto}")
        ip, host_port, container_port = "", "", raw
        if raw.startswith("["):  # [ipv6]:host:container
            end = raw.find("]")
            ip, rest = raw[1:end], raw[end + 2:]
            host_port, _, container_port = rest.rpartition(":")
        else:
            parts = raw.split(":")
            if len(parts) == 2:
                host_port, container_port = parts
            elif len(parts) == 3:
                ip, host_port, container_port = parts
            elif len(parts) > 3:
                ip = ":".join(parts[:-2])
                host_port, container_port = parts[-2:]
        if not container_port:
            raise InvalidParameter(f"no port specified: {spec}<empty>")
        first, last = port_range(container_port, "containerPort")
        host_first = host_last = 0
        if host_port:
            host_first, host_last = port_range(host_port, "hostPort")
            if (last - first) != (host_last - host_first) and host_last != host_first:
                raise InvalidParameter(f"invalid ranges specified for container and host Ports: {container_port} and {host_port}")
        for i in range(last - first + 1):
            key = f"{first + i}/{proto.lower()}"
            exposed[key] = {}
            hp = ""
            if host_port:
                if host_last != host_first and last - first == host_last - host_first:
                    hp = str(host_first + i)
                elif host_last != host_first:
                    hp = f"{host_first}-{host_last}"
                else:
                    hp = str(host_first)
            bindings.setdefault(key, []).append({"HostIp": ip, "HostPort": hp})
    return exposed, bindings
