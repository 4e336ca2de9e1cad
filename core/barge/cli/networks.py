"""``barge network create|ls|inspect|rm|prune|connect|disconnect`` with
docker's flags, columns, prompts and messages (cli/command/network/*.go).

The request bodies are the ones docker CLI 28 sends, so the daemon sees the
same thing from ``barge network`` and ``docker network``; what only the
daemon can judge (overlaps, names, drivers) is left to it.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Annotated, List, Optional

import typer

from barge.cli.common import add_commands, client, fail, handles_errors, inspect_each, out, parse_filters

network_app = typer.Typer(help="Manage networks.", no_args_is_help=True, rich_markup_mode=None, add_completion=False)

NETWORK_TABLE = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
NETWORK_QUIET = "{{.ID}}"
NETWORK_HEADERS = {
    "ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv4": "IPV4", "IPv6": "IPV6",
    "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT",
}
PRUNE_WARNING = ("WARNING! This will remove all custom networks not used by at least one container.\n"
                 "Are you sure you want to continue?")


class NetworkFlagError(ValueError):
    """A flag value docker refuses before sending anything; the text is the
    whole line. A value pflag cannot parse exits 125, a refused combination 1."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------- requests

def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


def _filters_json(filters: dict[str, list[str]] | None) -> str | None:
    if not filters:
        return None
    return json.dumps({k: {v: True for v in vs} for k, vs in filters.items()})


def _post_json(api, path: str, body: dict):
    return api.request("POST", path, None, json.dumps(body).encode(), {"Content-Type": "application/json"})


def api_create(api, body: dict) -> dict:
    return _post_json(api, "/networks/create", body).json() or {}


def api_list(api, filters: dict[str, list[str]] | None = None) -> list[dict]:
    return api.get_json("/networks", {"filters": _filters_json(filters)}) or []


def api_inspect(api, ref: str, verbose: bool = False) -> dict:
    return api.get_json(f"/networks/{_quote(ref)}", {"verbose": "true" if verbose else None})


def api_remove(api, ref: str) -> None:
    api.request("DELETE", f"/networks/{_quote(ref)}").close()


def api_prune(api, filters: dict[str, list[str]] | None = None) -> dict:
    return api.request("POST", "/networks/prune", {"filters": _filters_json(filters)}).json() or {}


def api_connect(api, ref: str, container: str, endpoint: dict) -> None:
    _post_json(api, f"/networks/{_quote(ref)}/connect", {"Container": container, "EndpointConfig": endpoint}).close()


def api_disconnect(api, ref: str, container: str, force: bool = False) -> None:
    _post_json(api, f"/networks/{_quote(ref)}/disconnect", {"Container": container, "Force": force}).close()


# ---------------------------------------------------------------- pure parts

def pairs(values: list[str] | None, flag: str, labels: bool = False) -> dict[str, str]:
    """``k=v`` flags as a map; a bare ``k`` means ``k=""`` (docker's MapOpts,
    ``ConvertKVStringsToMap``); labels refuse an empty name (``ValidateLabel``)."""
    result: dict[str, str] = {}
    for value in values or []:
        key, _, val = value.partition("=")
        if labels and not key.strip():
            raise NetworkFlagError(f'invalid argument "{value}" for "{flag}" flag: invalid label \'{value}\': empty name',
                                   125)
        result[key] = val
    return result


def split_list(values: list[str] | None) -> list[str]:
    """pflag's StringSlice: every value may hold several, comma-separated."""
    return [part for value in values or [] for part in value.split(",") if part != ""]


def _flag_ip(value: str, flag: str):
    import ipaddress

    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise NetworkFlagError(
            f'invalid argument "{value}" for "{flag}" flag: invalid string being converted to IP address: {value}', 125) from None


def _flag_net(value: str, flag: str):
    import ipaddress

    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise NetworkFlagError(f'invalid argument "{value}" for "{flag}" flag: invalid CIDR address: {value}', 125) from None


def ipam_config(subnets: list[str], ip_ranges: list[str], gateways: list[str],
                aux: dict[str, str] | None = None) -> list[dict]:
    """docker's ``createIPAMConfig``: every ``--ip-range``, ``--gateway`` and
    ``--aux-address`` lands on the one ``--subnet`` holding it, in subnet order."""
    import ipaddress

    ranges = [_flag_net(r, "--ip-range") for r in ip_ranges]
    gws = [_flag_ip(g, "--gateway") for g in gateways]
    if len(subnets) < len(ranges) or len(subnets) < len(gws):
        raise NetworkFlagError("every ip-range or gateway must have a corresponding subnet")
    nets = []
    for text in subnets:
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise NetworkFlagError(f"invalid subnet: invalid CIDR address: {text}") from None
        if any(net.version == other.version and net.overlaps(other) for other, _ in nets):
            raise NetworkFlagError("multiple overlapping subnet configuration is not supported")
        nets.append((net, {"Subnet": text}))

    def holder(addr_or_net, what: str) -> dict:
        for net, entry in nets:
            inside = (addr_or_net.version == net.version and
                      (addr_or_net.network_address if hasattr(addr_or_net, "network_address") else addr_or_net) in net)
            if inside:
                return entry
        raise NetworkFlagError(f"no matching subnet for {what}")

    for r in ranges:
        entry = holder(r, f"range {r}")
        if "IPRange" in entry:
            raise NetworkFlagError(f"cannot configure multiple ranges ({r}, {entry['IPRange']}) on the same subnet ({entry['Subnet']})")
        entry["IPRange"] = str(r)
    for g in gws:
        entry = holder(g, f"gateway {g}")
        if "Gateway" in entry:
            raise NetworkFlagError(f"cannot configure multiple gateways ({g}, {entry['Gateway']}) for the same subnet ({entry['Subnet']})")
        entry["Gateway"] = str(g)
    for key, text in (aux or {}).items():
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            raise NetworkFlagError(f"ParseAddr({json.dumps(text)}): unable to parse IP") from None
        holder(addr, f"aux-address {text}").setdefault("AuxiliaryAddresses", {})[key] = text
    return [entry for _, entry in nets]


def create_body(name: str, driver: str = "bridge", opts: dict[str, str] | None = None,
                labels: dict[str, str] | None = None, internal: bool = False, attachable: bool = False,
                ipv4: bool | None = None, ipv6: bool | None = None, scope: str = "",
                ipam_driver: str = "default", ipam_opts: dict[str, str] | None = None,
                subnets: list[str] | None = None, ip_ranges: list[str] | None = None,
                gateways: list[str] | None = None, aux: dict[str, str] | None = None) -> dict:
    """The ``POST /networks/create`` body docker CLI 28 sends (``EnableIPv4``/
    ``EnableIPv6`` only when the flag was given)."""
    body: dict = {
        "Name": name,
        "Driver": driver,
        "Scope": scope,
        "IPAM": {"Driver": ipam_driver, "Config": ipam_config(subnets or [], ip_ranges or [], gateways or [], aux),
                 "Options": ipam_opts or {}},
        "Internal": internal,
        "Attachable": attachable,
        "Ingress": False,
        "ConfigOnly": False,
        "Options": opts or {},
        "Labels": labels or {},
    }
    if ipv4 is not None:
        body["EnableIPv4"] = ipv4
    if ipv6 is not None:
        body["EnableIPv6"] = ipv6
    return body


def endpoint_config(ip: str = "", aliases: list[str] | None = None, driver_opts: list[str] | None = None,
                    links: list[str] | None = None, ip6: str = "", link_local: list[str] | None = None) -> dict:
    """``EndpointConfig`` of a connect request, as docker CLI 28 fills it."""
    for link in links or []:
        if not link or len(link.split(":")) > 2:
            raise NetworkFlagError(f'invalid argument "{link}" for "--link" flag: '
                                   + (f"bad format for links: {link}" if link else "empty string specified for links"),
                                   125)
    opts: dict[str, str] = {}
    for opt in split_list(driver_opts):
        key, sep, value = opt.partition("=")
        if not sep or not key.strip():
            raise NetworkFlagError("invalid key/value pair format in driver options")
        opts[key.strip()] = value.strip()
    ipam: dict = {}
    for key, value in (("IPv4Address", ip), ("IPv6Address", ip6), ("LinkLocalIPs", split_list(link_local))):
        if value:
            ipam[key] = value
    return {
        "IPAMConfig": ipam,
        "Links": list(links or []) or None,
        "Aliases": split_list(aliases),
        "DriverOpts": opts,
        "MacAddress": "",
    }


def go_time(created: str) -> str:
    """Go's ``time.Time.String()`` of an RFC 3339 time from the API
    (``2024-05-01 10:00:00.123456789 +0000 UTC``), as ``{{.CreatedAt}}`` shows it."""
    m = re.match(r"^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", created or "")
    if not m:
        return "0001-01-01 00:00:00 +0000 UTC" if not created else created
    day, clock, frac, zone = m.groups()
    frac = (frac or "")[:9].rstrip("0")
    stamp = f"{day} {clock}" + (f".{frac}" if frac else "")
    if zone == "Z":
        return f"{stamp} +0000 UTC"
    offset = zone.replace(":", "")
    return f"{stamp} {offset} {offset}"


def natural_key(text: str) -> list:
    """sortorder.NaturalLess: digit runs compare as numbers (``n2`` before ``n10``)."""
    return [(0, int(p), p) if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", text) if p]


def network_row(network: dict, trunc: bool = True):
    """A row for ``network ls --format`` (docker's ``networkContext``)."""
    from barge.client import units
    from barge.client.templates import Struct

    class NetworkRow(Struct):
        GO_TYPE = "*network.networkContext"
        FIELDS = ("CreatedAt", "Driver", "ID", "IPv4", "IPv6", "Internal", "Label", "Labels", "Name", "Scope")

        def __init__(self, n: dict):
            self.n = n
            self.ID = units.truncate_id(n.get("Id", "")) if trunc else n.get("Id", "")
            self.Name, self.Driver, self.Scope = n.get("Name", ""), n.get("Driver", ""), n.get("Scope", "")
            self.IPv4 = "true" if n.get("EnableIPv4", True) else "false"
            self.IPv6 = "true" if n.get("EnableIPv6") else "false"
            self.Internal = "true" if n.get("Internal") else "false"
            labels = n.get("Labels") or {}
            self.Labels = ",".join(f"{k}={labels[k]}" for k in sorted(labels))
            self.Label = lambda name: labels.get(name, "")
            self.CreatedAt = go_time(n.get("Created", ""))

        def to_json(self) -> dict:
            return {name: getattr(self, name) for name in sorted(self.FIELDS) if name != "Label"}

    return NetworkRow(network)


def render_list(networks: list[dict], format: str | None = None, quiet: bool = False, trunc: bool = True) -> str:
    """``network ls`` output: natural name order, docker's table or a template."""
    from barge.client import formatter

    rows = [network_row(n, trunc) for n in sorted(networks, key=lambda n: natural_key(n.get("Name", "")))]
    fmt = format or ""
    if quiet and fmt in ("", "table"):
        fmt = NETWORK_QUIET
    return formatter.render(fmt, rows, NETWORK_TABLE, NETWORK_HEADERS)


def prune_output(report: dict) -> str:
    deleted = report.get("NetworksDeleted") or []
    return "Deleted Networks:\n" + "".join(f"{name}\n" for name in deleted) + "\n" if deleted else ""


def _flag_errors(fn):
    """A refused flag: one line on stderr and its exit status."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except NetworkFlagError as exc:
            raise fail(str(exc), exc.code) from None

    return wrapper


# ---------------------------------------------------------------- commands

@handles_errors
@_flag_errors
def create(
    ctx: typer.Context,
    network: Annotated[str, typer.Argument(metavar="NETWORK", show_default=False)],
    driver: Annotated[str, typer.Option("-d", "--driver", help="Driver to manage the Network")] = "bridge",
    opt: Annotated[Optional[List[str]], typer.Option("-o", "--opt", help="Set driver specific options")] = None,
    label: Annotated[Optional[List[str]], typer.Option("--label", help="Set metadata on a network")] = None,
    internal: Annotated[bool, typer.Option("--internal", help="Restrict external access to the network")] = False,
    ipv4: Annotated[Optional[bool], typer.Option("--ipv4/--no-ipv4", help="Enable or disable IPv4 address assignment", show_default=False)] = None,
    ipv6: Annotated[Optional[bool], typer.Option("--ipv6/--no-ipv6", help="Enable or disable IPv6 address assignment", show_default=False)] = None,
    attachable: Annotated[bool, typer.Option("--attachable", help="Enable manual container attachment")] = False,
    scope: Annotated[str, typer.Option("--scope", help="Control the network's scope")] = "",
    ipam_driver: Annotated[str, typer.Option("--ipam-driver", help="IP Address Management Driver")] = "default",
    subnet: Annotated[Optional[List[str]], typer.Option("--subnet", help="Subnet in CIDR format that represents a network segment")] = None,
    ip_range: Annotated[Optional[List[str]], typer.Option("--ip-range", help="Allocate container ip from a sub-range")] = None,
    gateway: Annotated[Optional[List[str]], typer.Option("--gateway", help="IPv4 Gateway for the master subnet")] = None,
    aux_address: Annotated[Optional[List[str]], typer.Option("--aux-address", help="Auxiliary IPv4 or IPv6 addresses used by Network driver")] = None,
    ipam_opt: Annotated[Optional[List[str]], typer.Option("--ipam-opt", help="Set IPAM driver specific options")] = None,
) -> None:
    """Create a network."""
    body = create_body(
        network, driver, pairs(opt, "-o, --opt"), pairs(label, "--label", labels=True), internal, attachable,
        ipv4, ipv6, scope, ipam_driver, pairs(ipam_opt, "--ipam-opt"), split_list(subnet), split_list(ip_range),
        split_list(gateway), pairs(aux_address, "--aux-address"))
    answer = api_create(client(ctx), body)
    out(f"{answer.get('Id', '')}\n")


@handles_errors
def ls(
    ctx: typer.Context,
    filter: Annotated[Optional[List[str]], typer.Option("-f", "--filter", help="Provide filter values (e.g. \"driver=bridge\")")] = None,
    format: Annotated[Optional[str], typer.Option("--format", help="Format output using a custom template")] = None,
    no_trunc: Annotated[bool, typer.Option("--no-trunc", help="Do not truncate the output")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only display network IDs")] = False,
) -> None:
    """List networks."""
    networks = api_list(client(ctx), parse_filters(filter) or None)
    out(render_list(networks, format, quiet, trunc=not no_trunc))


@handles_errors
def inspect(
    ctx: typer.Context,
    networks: Annotated[List[str], typer.Argument(metavar="NETWORK...", show_default=False)],
    format: Annotated[Optional[str], typer.Option("-f", "--format", help="Format output using a custom template")] = None,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Verbose output for diagnostics")] = False,
) -> None:
    """Display detailed information on one or more networks."""
    api = client(ctx)
    inspect_each(networks, lambda ref: api_inspect(api, ref, verbose), format)


@handles_errors
def rm(
    ctx: typer.Context,
    networks: Annotated[List[str], typer.Argument(metavar="NETWORK...", show_default=False)],
    force: Annotated[bool, typer.Option("-f", "--force", help="Do not error if the network does not exist")] = False,
) -> None:
    """Remove one or more networks."""
    from barge.client.errors import APIError, ClientError

    api = client(ctx)
    failed = False
    for name in networks:  # in order, each error as it comes (docker's runRemove)
        try:
            api_remove(api, name)
        except ClientError as exc:
            if force and isinstance(exc, APIError) and exc.status == 404:
                continue
            sys.stderr.write(f"{exc}\n")
            sys.stderr.flush()
            failed = True
            continue
        out(f"{name}\n")
    if failed:
        raise fail("exit status 1")  # docker 28 ends with its StatusError's text


@handles_errors
def prune(
    ctx: typer.Context,
    filter: Annotated[Optional[List[str]], typer.Option("--filter", help="Provide filter values (e.g. \"until=<timestamp>\")")] = None,
    force: Annotated[bool, typer.Option("-f", "--force", help="Do not prompt for confirmation")] = False,
) -> None:
    """Remove all unused networks."""
    from barge.cli.volumes import confirm

    filters = parse_filters(filter)
    api = client(ctx)
    if not force and not confirm(PRUNE_WARNING):
        raise fail("network prune has been cancelled", 0)
    out(prune_output(api_prune(api, filters or None)))


@handles_errors
@_flag_errors
def connect(
    ctx: typer.Context,
    network: Annotated[str, typer.Argument(metavar="NETWORK", show_default=False)],
    container: Annotated[str, typer.Argument(metavar="CONTAINER", show_default=False)],
    ip: Annotated[str, typer.Option("--ip", help="IPv4 address (e.g., \"172.30.100.104\")")] = "",
    ip6: Annotated[str, typer.Option("--ip6", help="IPv6 address (e.g., \"2001:db8::33\")")] = "",
    link_local_ip: Annotated[Optional[List[str]], typer.Option("--link-local-ip", help="Add a link-local address for the container")] = None,
    alias: Annotated[Optional[List[str]], typer.Option("--alias", help="Add network-scoped alias for the container")] = None,
    driver_opt: Annotated[Optional[List[str]], typer.Option("--driver-opt", help="driver options for the network")] = None,
    link: Annotated[Optional[List[str]], typer.Option("--link", help="Add link to another container (not supported)")] = None,
) -> None:
    """Connect a container to a network."""
    endpoint = endpoint_config(ip, alias, driver_opt, link, ip6, link_local_ip)
    api_connect(client(ctx), network, container, endpoint)


@handles_errors
def disconnect(
    ctx: typer.Context,
    network: Annotated[str, typer.Argument(metavar="NETWORK", show_default=False)],
    container: Annotated[str, typer.Argument(metavar="CONTAINER", show_default=False)],
    force: Annotated[bool, typer.Option("-f", "--force", help="Force the container to disconnect from a network")] = False,
) -> None:
    """Disconnect a container from a network."""
    api_disconnect(client(ctx), network, container, force)


# name, function, hidden aliases, groups
COMMANDS = (
    ("connect", connect, (), ("network",)),
    ("create", create, (), ("network",)),
    ("disconnect", disconnect, (), ("network",)),
    ("inspect", inspect, (), ("network",)),
    ("ls", ls, ("list",), ("network",)),
    ("prune", prune, (), ("network",)),
    ("rm", rm, ("remove",), ("network",)),
)


def register(app: typer.Typer) -> None:
    from barge.cli.dockerflags import DockerCommand

    add_commands({"network": network_app}, COMMANDS, cls=DockerCommand)
    app.add_typer(network_app, name="network")
