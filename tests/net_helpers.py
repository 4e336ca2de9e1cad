"""Small helpers shared by the networking tests (integration and compat)."""

from __future__ import annotations

import ipaddress

import pytest

from barge.network.ipam import host_routes


def serve(text: str) -> list[str]:
    """A busybox httpd on port 80 whose index is ``text``."""
    return ["sh", "-c", f"mkdir -p /www && echo {text} > /www/index.html && exec httpd -f -p 80 -h /www"]


def wget_loop(url: str) -> list[str]:
    """A client that retries while the server starts (``-T`` crashes busybox here: ``timeout`` bounds it)."""
    return ["sh", "-c", f"for i in $(seq 50); do timeout 2 wget -qO- {url} && exit 0; sleep 0.1; done; exit 1"]


def free_subnet(networks: list[dict], tag: str) -> ipaddress.IPv4Network:
    """A /24 under 10.240.0.0/12 overlapping none of ``networks`` (Docker network objects) and no
    host route; ``tag`` (hex) spreads parallel runs apart."""
    taken = [ipaddress.ip_network(c["Subnet"]) for n in networks for c in (n["IPAM"]["Config"] or [])]
    taken += [net for net, _ in host_routes()]
    start = int(tag, 16)
    for i in range(4096):
        k = (start + i * 11) % 4096
        cand = ipaddress.ip_network(f"10.{240 + k // 256}.{k % 256}.0/24")
        if not any(cand.overlaps(t) for t in taken):
            return cand
    pytest.skip("no free /24 under 10.240.0.0/12")
