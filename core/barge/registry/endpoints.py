"""Which URLs serve a registry domain, and how to trust them (Docker's registry/config.go).

``docker.io`` is served by its mirrors first, then ``registry-1.docker.io``.
An insecure registry (a configured host or CIDR; loopback always) is tried
over HTTPS without verification and then over plain HTTP, as dockerd does.
Plain HTTP is never used for anything else.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from barge.errors import InvalidParameter

HUB_DOMAIN = "docker.io"
HUB_REGISTRY_HOST = "registry-1.docker.io"
HUB_INDEX_HOST = "index.docker.io"
_HUB_ALIASES = {HUB_DOMAIN, HUB_INDEX_HOST, HUB_REGISTRY_HOST, "registry.hub.docker.com"}
_ALWAYS_INSECURE = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


@dataclass
class RegistryConfig:
    """``[registry]`` of daemon.toml (Docker's insecure-registries, registry-mirrors, ...)."""

    insecure_registries: list[str] = field(default_factory=list)
    mirrors: list[str] = field(default_factory=list)
    max_concurrent_downloads: int = 3
    max_concurrent_uploads: int = 5
    certs_dir: str = "/etc/docker/certs.d"


@dataclass(frozen=True)
class Endpoint:
    url: str  # "https://host:port" or "http://host:port", no trailing slash
    host: str  # "host:port" as in the reference's domain
    insecure_tls: bool  # https without certificate verification
    mirror: bool = False

    @property
    def plain_http(self) -> bool:
        return self.url.startswith("http://")


def index_name(domain: str) -> str:
    """The index a domain belongs to: ``docker.io`` for every spelling of the Hub."""
    return HUB_DOMAIN if domain.lower() in _HUB_ALIASES else domain


def _split_host(host: str) -> str:
    """The bare hostname or IP of ``host[:port]`` / ``[v6]:port``."""
    if host.startswith("["):
        return host[1:host.index("]")] if "]" in host else host
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


def _networks(cfg: RegistryConfig) -> tuple[list[ipaddress._BaseNetwork], set[str]]:
    nets: list[ipaddress._BaseNetwork] = list(_ALWAYS_INSECURE)
    hosts: set[str] = set()
    for entry in cfg.insecure_registries:
        entry = entry.strip()
        if "://" in entry:
            entry = urlsplit(entry).netloc
        try:
            nets.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            hosts.add(entry.lower().rstrip("/"))
    return nets, hosts


def is_insecure(host: str, cfg: RegistryConfig | None = None) -> bool:
    """Docker's ``isSecureIndex`` negated: listed by name, or any of its IPs in an insecure CIDR."""
    cfg = cfg or RegistryConfig()
    nets, names = _networks(cfg)
    if host.lower() in names:
        return True
    bare = _split_host(host)
    try:
        addrs = [ipaddress.ip_address(bare)]
    except ValueError:
        if index_name(bare) == HUB_DOMAIN:
            return False
        try:
            infos = socket.getaddrinfo(bare, None, proto=socket.IPPROTO_TCP)
        except OSError:
            return False
        addrs = []
        for info in infos:
            try:
                addrs.append(ipaddress.ip_address(info[4][0].split("%", 1)[0]))
            except ValueError:
                continue
    return any(addr in net for addr in addrs for net in nets if addr.version == net.version)


def _mirror_endpoint(url: str, cfg: RegistryConfig) -> Endpoint:
    parts = urlsplit(url if "://" in url else f"https://{url}")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidParameter(f"invalid registry mirror {url!r}: expected http(s)://host[:port]")
    insecure = is_insecure(parts.netloc, cfg)
    if parts.scheme == "http" and not insecure:
        raise InvalidParameter(f"registry mirror {url!r}: plain HTTP is only allowed for insecure registries")
    base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
    return Endpoint(base, parts.netloc, insecure_tls=insecure, mirror=True)


def endpoints_for(domain: str, cfg: RegistryConfig | None = None) -> list[Endpoint]:
    """Endpoints to try, in order, for the registry of ``domain``."""
    cfg = cfg or RegistryConfig()
    if index_name(domain) == HUB_DOMAIN:
        out = [_mirror_endpoint(m, cfg) for m in cfg.mirrors]
        return out + [Endpoint(f"https://{HUB_REGISTRY_HOST}", HUB_REGISTRY_HOST, insecure_tls=False)]
    if is_insecure(domain, cfg):
        return [Endpoint(f"https://{domain}", domain, insecure_tls=True),
                Endpoint(f"http://{domain}", domain, insecure_tls=True)]
    return [Endpoint(f"https://{domain}", domain, insecure_tls=False)]


def search_endpoints(domain: str, cfg: RegistryConfig | None = None) -> list[Endpoint]:
    """Where ``docker search`` asks: the Hub's index host, else the registry itself."""
    cfg = cfg or RegistryConfig()
    if index_name(domain) == HUB_DOMAIN:
        return [Endpoint(f"https://{HUB_INDEX_HOST}", HUB_INDEX_HOST, insecure_tls=False)]
    return endpoints_for(domain, cfg)


def split_search_term(term: str) -> tuple[str, str]:
    """Docker's ``splitReposSearchTerm``: ``127.0.0.1:5000/foo`` -> (``127.0.0.1:5000``, ``foo``)."""
    head, sep, rest = term.partition("/")
    if sep and ("." in head or ":" in head or head == "localhost"):
        domain, remote = head, rest
    else:
        domain, remote = HUB_DOMAIN, term
    if index_name(domain) == HUB_DOMAIN and remote.startswith("library/"):
        remote = remote[len("library/"):]
    return index_name(domain), remote


# --- TLS -------------------------------------------------------------------

_ctx_lock = threading.Lock()
_contexts: dict[tuple[str, str, bool], ssl.SSLContext] = {}


def ssl_context(host: str, insecure: bool, cfg: RegistryConfig | None = None) -> ssl.SSLContext:
    """System CAs plus ``<certs_dir>/<host>/*.crt``; client pairs ``*.cert``/``*.key`` (Docker's certs.d)."""
    cfg = cfg or RegistryConfig()
    key = (cfg.certs_dir, host.lower(), insecure)
    with _ctx_lock:
        ctx = _contexts.get(key)
        if ctx is not None:
            return ctx
        ctx = ssl.create_default_context()
        if insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        hostdir = Path(cfg.certs_dir) / host
        if hostdir.is_dir():
            for entry in sorted(os.listdir(hostdir)):
                path = hostdir / entry
                if entry.endswith(".crt"):
                    ctx.load_verify_locations(cafile=str(path))
                elif entry.endswith(".cert"):
                    keyfile = hostdir / (entry[:-5] + ".key")
                    if not keyfile.exists():
                        raise InvalidParameter(f"missing key {keyfile.name} for client certificate {path}")
                    ctx.load_cert_chain(str(path), str(keyfile))
                elif entry.endswith(".key") and not (hostdir / (entry[:-4] + ".cert")).exists():
                    raise InvalidParameter(f"missing client certificate {entry[:-4]}.cert for key {path}")
        _contexts[key] = ctx
        return ctx
