"""The request of ``docker build`` (the classic builder's, docker CLI 28):
the flags' values as docker's validators leave them, the query of
``POST /build`` in the order the Go client writes it, and what
``config.json`` adds (``X-Registry-Config``, proxies as build args).

The context sent with it comes from :mod:`barge.client.buildcontext`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# ---------------------------------------------------------------- the query

@dataclass
class BuildOptions:
    """The flags of ``build`` that become the query, checked and converted
    as the CLI's flag types and ``imageBuildOptions`` leave them."""

    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str | None] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    extra_hosts: list[str] = field(default_factory=list)
    cache_from: list[str] = field(default_factory=list)
    security_opt: list[str] = field(default_factory=list)
    ulimits: list[dict] = field(default_factory=list)
    quiet: bool = False
    no_cache: bool = False
    remove: bool = True
    force_remove: bool = False
    pull: bool = False
    isolation: str = ""
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    network_mode: str = "default"
    cpu_shares: int = 0
    cpu_quota: int = 0
    cpu_period: int = 0
    memory: int = 0
    memory_swap: int = 0
    cgroup_parent: str = ""
    shm_size: int = 0
    target: str = ""
    platform: str = ""


def _go_json(value: Any) -> str:
    """Go's ``json.Marshal`` of a map (keys sorted; values' own order kept,
    as a struct's fields) or a list: compact, HTML characters escaped."""
    if isinstance(value, dict):
        value = {key: value[key] for key in sorted(value)}
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") \
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def build_query(o: BuildOptions, dockerfile: str) -> list[tuple[str, str]]:
    """docker's ``imageBuildOptionsToQuery`` for the classic builder, in the
    order ``url.Values.Encode`` writes it (keys sorted)."""
    pairs: list[tuple[str, str]] = [("t", t) for t in o.tags]
    pairs += [("securityopt", s) for s in o.security_opt] + [("extrahosts", h) for h in o.extra_hosts]
    single = {
        "q": "1" if o.quiet else "", "nocache": "1" if o.no_cache else "", "rm": "" if o.remove else "0",
        "forcerm": "1" if o.force_remove else "", "pull": "1" if o.pull else "",
        "isolation": "" if o.isolation.lower() in ("", "default") else o.isolation,
        "cpusetcpus": o.cpuset_cpus, "networkmode": "" if o.network_mode in ("", "default") else o.network_mode,
        "cpusetmems": o.cpuset_mems, "cpushares": str(o.cpu_shares or ""), "cpuquota": str(o.cpu_quota or ""),
        "cpuperiod": str(o.cpu_period or ""), "memory": str(o.memory or ""), "memswap": str(o.memory_swap or ""),
        "cgroupparent": o.cgroup_parent, "shmsize": str(o.shm_size or ""), "dockerfile": dockerfile,
        "target": o.target, "ulimits": _go_json(o.ulimits) if o.ulimits else "",
        "buildargs": _go_json(o.build_args) if o.build_args else "",
        "labels": _go_json(o.labels) if o.labels else "", "cachefrom": _go_json(o.cache_from) if o.cache_from else "",
        "platform": o.platform.lower(), "version": "1",
    }
    pairs += [(k, v) for k, v in single.items() if v]
    return sorted(pairs, key=lambda pair: pair[0])  # stable: repeated keys keep their order


# ---------------------------------------------------------------- flag values (docker's validators)

def validate_tag(value: str) -> str:
    """``validateTag``: the reference must parse; it is sent as typed."""
    from barge import reference
    from barge.errors import InvalidParameter

    try:
        reference.parse(value)
    except InvalidParameter as exc:
        raise ValueError(str(exc)) from None
    return value


def validate_label(value: str) -> str:
    key = value.partition("=")[0].lstrip(" \t\n\v\f\r")
    if not key:
        raise ValueError(f"invalid label '{value}': empty name")
    if any(c in key for c in " \t\n\v\f\r"):
        raise ValueError(f"label '{key}' contains whitespaces")
    return value


def validate_extra_host(value: str) -> str:
    """``ValidateExtraHost``: ``host:ip`` or ``host=ip`` (brackets allowed) -> ``host:ip``."""
    import ipaddress

    name, sep, address = value.partition("=")
    if not sep:
        name, sep, address = value.partition(":")
    if not sep or not name or ":" in name:
        raise ValueError(f'bad format for add-host: "{value}"')
    if address != "host-gateway":
        if len(address) > 2 and address[0] == "[" and address[-1] == "]":
            address = address[1:-1]
        try:
            ipaddress.ip_address(address.strip())
        except ValueError:
            raise ValueError(f'invalid IP address in add-host: "{address}"') from None
        if "%" in address:
            raise ValueError(f'invalid IP address in add-host: "{address}"')
    return f"{name}:{address}"


def build_arg_map(values: list[str]) -> dict[str, str | None]:
    """``ConvertKVStringsToMapWithNil``: ``KEY`` alone (unset in our
    environment, see ``validate_env``) is sent as null."""
    out: dict[str, str | None] = {}
    for value in values:
        key, sep, val = value.partition("=")
        out[key] = val if sep else None
    return out


def parse_go_int(text: str) -> int:
    """pflag's ``Int64``: ``strconv.ParseInt(s, 0, 64)``; Go's integer
    literals are Python's but for a lone leading ``0``, which is octal."""
    bad = ValueError(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    sign, body = (text[0], text[1:]) if text[:1] in ("+", "-") else ("", text)
    if not body or body != body.strip() or body[0] in "+-":
        raise bad
    if len(body) > 1 and body[0] == "0" and body[1] not in "bBoOxX":
        body = "0o" + body[1:]
    try:
        value = int(sign + body, 0)
    except ValueError:
        raise bad from None
    if not -(1 << 63) <= value < (1 << 63):
        raise ValueError(f'strconv.ParseInt: parsing "{text}": value out of range')
    return value


def split_csv(value: str) -> list[str]:
    """pflag's ``StringSlice``: one value is a CSV record."""
    import csv

    if value == "":
        return []
    try:
        return next(csv.reader([value], strict=True))
    except (csv.Error, StopIteration) as exc:
        raise ValueError(str(exc)) from None


# ---------------------------------------------------------------- config.json: credentials and proxies

def registry_config(config) -> str:
    """``X-Registry-Config``: every stored credential (``GetAllCredentials``),
    base64url JSON keyed by registry. As docker, a failing store sends ``{}``."""
    import base64

    from barge.client.credentials import CredentialsError, HelperStore

    auths: dict[str, Any] = {}
    try:
        if config.creds_store:
            store = HelperStore(config, config.creds_store)
            listed = json.loads(store._run("list", "") or "{}")
            auths = {key: store.get(key) for key in (listed if isinstance(listed, dict) else {})}
        else:
            auths = dict(config.auths)
        for key in config.cred_helpers:
            try:
                auths[key] = config.get(key)
            except CredentialsError as exc:
                import sys

                sys.stderr.write(f"WARNING: Failed to get credentials for registry: {key}: {exc}\n")
    except (CredentialsError, ValueError):
        auths = {}
    doc = _go_json({key: auth.to_json() for key, auth in auths.items()})
    return base64.urlsafe_b64encode(doc.encode()).decode("ascii")


_PROXIES = (("HTTP_PROXY", "httpProxy"), ("HTTPS_PROXY", "httpsProxy"), ("NO_PROXY", "noProxy"),
            ("FTP_PROXY", "ftpProxy"), ("ALL_PROXY", "allProxy"))


def with_proxies(raw_config: dict, host: str, args: dict[str, str | None]) -> dict[str, str | None]:
    """``ParseProxyConfig``: config.json's ``proxies`` (for ``host``, else
    ``default``) as build args, upper and lower case, unless given."""
    proxies = raw_config.get("proxies") if isinstance(raw_config.get("proxies"), dict) else {}
    chosen = proxies.get(host) if host in proxies else proxies.get("default")
    chosen = chosen if isinstance(chosen, dict) else {}
    out = dict(args)
    for name, key in _PROXIES:
        value = chosen.get(key)
        if not isinstance(value, str) or not value:
            continue
        out.setdefault(name, value)
        out.setdefault(name.lower(), value)
    return out
