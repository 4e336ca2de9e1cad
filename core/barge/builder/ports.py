"""EXPOSE's ports as go-connections' ``nat.ParsePortSpecs`` reads them: ``80``, ``80/udp``, ``8000-8002``."""

from __future__ import annotations

from barge.errors import InvalidParameter

PROTOCOLS = ("tcp", "udp", "sctp")


def _port_range(text: str, whole: str) -> range:
    start, _, end = text.partition("-")
    try:
        low = int(start)
        high = int(end) if end else low
    except ValueError:
        raise InvalidParameter(f"invalid containerPort: {whole}") from None
    if not (0 <= low <= 65535 and 0 <= high <= 65535) or high < low:
        raise InvalidParameter(f"invalid containerPort: {whole}")
    return range(low, high + 1)


def exposed_ports(specs) -> list[str]:
    """``80/tcp``-style keys of ``ExposedPorts`` for each spec (an ``ip:host:container`` one gives its container port)."""
    out: list[str] = []
    for spec in specs:
        port, _, proto = spec.rpartition("/") if "/" in spec else (spec, "", "tcp")
        proto = proto.lower() or "tcp"
        if proto not in PROTOCOLS:
            raise InvalidParameter(f"invalid proto: {proto}")
        container = port.rsplit(":", 1)[-1]
        if not container:
            raise InvalidParameter(f"no port specified: {spec}<empty>")
        out.extend(f"{n}/{proto}" for n in _port_range(container, spec))
    return out
