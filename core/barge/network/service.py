"""``NetworkService``: networks, and the network side of a container's life.

Networks: create/list/inspect/remove/prune/connect/disconnect (the API's
``/networks``). The predefined ``bridge`` (the default bridge, on the
interface ``[network] bridge``), ``host`` and ``none`` always exist.

A container: :meth:`setup` before its start (sandbox namespace, one endpoint
per network with an address from IPAM, the driver's join, published ports,
the embedded DNS server on user-defined networks) and :meth:`teardown` after
its exit. Both are idempotent, and :meth:`recover` at daemon start makes the
records, the host and the firewall agree again after a crash.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import logging
import os
import re
import secrets
import socket
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from barge import netns
from barge.errors import BargeError, Conflict, Forbidden, InvalidParameter, NotFound
from barge.graph.filters import labels_match
from barge.netdriver import PortMapping, Published
from barge.network import ipam, ports, views
from barge.network.store import Endpoint, Network, NetworkStore

log = logging.getLogger("barge.network")

LIST_FILTERS = frozenset({"dangling", "driver", "id", "label", "name", "scope", "type"})
PRUNE_FILTERS = frozenset({"until", "label", "label!"})
DEFAULT_BRIDGE_OPTIONS = ("com.docker.network.bridge.default_bridge", "com.docker.network.bridge.enable_icc",
                          "com.docker.network.bridge.enable_ip_masquerade", "com.docker.network.bridge.name",
                          "com.docker.network.driver.mtu")
_DNS_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")
_NET_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")

#: ``emit(action, network_id, attributes)``: a network event (create, destroy, connect, disconnect)
Emit = Callable[[str, str, dict], None]


def _now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


def dns_name_problem(name: str) -> str:
    """Why ``name`` cannot be looked up through DNS, or ""."""
    if len(name) > 253:
        return "longer than 253 characters"
    for label in name.split("."):
        if not _DNS_LABEL.match(label):
            return (f"label {label!r} is not a DNS label (1 to 63 letters, digits, '-' or '_', "
                    "not starting or ending with '-')")
    return ""


def _container_of(body: dict[str, Any]) -> str:
    """The container a connect or disconnect body names; moby's words (``invalidIdentifier``) for none."""
    container = body.get("Container") or ""
    if not container:
        raise InvalidParameter('invalid name or ID supplied: ""')
    return container


def _lo_up() -> None:
    """Bring ``lo`` up in the current thread's namespace (SIOCSIFFLAGS; no netlink needed)."""
    SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(s, SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | IFF_UP, b""))


@dataclass
class Sandbox:
    """What a container's start needs from its networks."""

    path: str
    endpoints: list[Endpoint]
    #: the container's first address (its /etc/hosts line), "" with none
    address: str
    #: on a user-defined network: resolv.conf points at the embedded DNS server
    embedded_dns: bool


class NetworkService:
    def __init__(self, *, store: NetworkStore, cfg, pm, driver: str | None, exec_root: Path,
                 driver_error: str = "", emit: Emit | None = None, dns=None):
        self.store = store
        self.cfg = cfg  # barge.config.NetworkConfig
        self.pm = pm
        self.driver = driver
        self.driver_error = driver_error
        self.netns_dir = Path(exec_root) / "netns"
        self.reservations = ports.PortReservations()
        self.emit = emit or (lambda action, nid, attrs: None)
        self.dns = dns
        #: set by the daemon: the container service (names, records, locks)
        self.containers = None
        self._lock = threading.RLock()

    # -- helpers ------------------------------------------------------------

    def _require_driver(self, what: str) -> None:
        if self.driver is None:
            raise BargeError(f"{what}: no network driver ({self.driver_error or 'none configured'})")

    def sandbox_path(self, container_id: str) -> str:
        return str(self.netns_dir / container_id)

    def _spec(self, n: Network):
        return n.spec(self.cfg.mtu)

    def _taken(self, exclude: str = "") -> list[tuple[ipam.Net, str]]:
        networks = self.store.networks(("ready", "creating", "removing"))
        own = {n.interface for n in networks if n.interface}
        taken = [(ipam.Net(n.subnet), f"network {n.name}") for n in networks if n.subnet and n.id != exclude]
        taken += [(net, f"the host route {net} on {dev}") for net, dev in ipam.host_routes() if dev not in own]
        return taken

    def _event(self, action: str, n: Network, **attrs: str) -> None:
        try:
            self.emit(action, n.id, {"name": n.name, "type": n.driver, **attrs})
        except Exception:
            log.exception("network event %s", action)

    # -- daemon start -------------------------------------------------------

    def ensure_predefined(self) -> None:
        """``bridge``, ``host`` and ``none``; the default bridge follows ``[network]``'s bridge and bip."""
        by_name = {n.name: n for n in self.store.networks(("ready", "creating", "removing"))}
        for name, driver in (("host", "host"), ("none", "null")):
            if name not in by_name:
                self.store.insert(Network(id=secrets.token_hex(32), name=name, driver=driver, created=_now()))
        if self.driver is None:
            return
        bridge = by_name.get("bridge")
        opts = {"com.docker.network.bridge.default_bridge": "true",
                "com.docker.network.bridge.enable_icc": str(bool(self.cfg.enable_icc)).lower(),
                "com.docker.network.bridge.enable_ip_masquerade": str(bool(self.cfg.ip_masq)).lower(),
                "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
                "com.docker.network.bridge.name": self.cfg.bridge,
                "com.docker.network.driver.mtu": str(self.cfg.mtu or 1500)}
        subnet, gateway = self._default_address(bridge)
        if bridge is not None and (bridge.subnet, bridge.gateway, bridge.interface, bridge.options) == (
                subnet, gateway, self.cfg.bridge, opts):
            return
        if bridge is not None:
            if self.store.endpoints(network_id=bridge.id):
                log.warning("the default bridge's settings changed but containers still use it; kept as it was")
                return
            with contextlib.suppress(Exception):
                if bridge.interface != self.cfg.bridge:
                    self.pm.hook.barge_network_delete(network=self._spec(bridge))
            self.store.delete(bridge.id)
        n = Network(id=bridge.id if bridge else secrets.token_hex(32), name="bridge", driver=self.driver,
                    interface=self.cfg.bridge, subnet=subnet, gateway=gateway, options=opts, created=_now())
        self.store.insert(n)

    def _default_address(self, current: Network | None) -> tuple[str, str]:
        if self.cfg.bip:
            try:
                iface = ipaddress.IPv4Interface(self.cfg.bip)
            except ValueError:
                raise InvalidParameter(f"invalid bip {self.cfg.bip}: expected an address with a prefix, "
                                       "e.g. 172.17.0.1/16") from None
            return str(iface.network), str(iface.ip)
        if current is not None and current.subnet:
            return current.subnet, current.gateway
        taken = [t for t in self._taken() if not t[1].endswith(f" on {self.cfg.bridge}")]
        net = ipam.choose_pool(self.cfg.default_address_pools, taken)
        return str(net), str(next(net.hosts()))

    def recover(self, running: set[str]) -> None:
        """Finish journaled creates/removes, drop what stopped containers left, rebuild the host side."""
        self.netns_dir.mkdir(parents=True, exist_ok=True, mode=0o711)
        for n in self.store.networks(("creating", "removing")):
            with contextlib.suppress(Exception):
                self.pm.hook.barge_network_delete(network=self._spec(n))
            self.store.delete(n.id)
        self.ensure_predefined()
        for e in self.store.endpoints():
            if e.container_id not in running:
                self.store.delete_endpoint(e.id)
        for entry in os.listdir(self.netns_dir):
            if entry not in running:
                with contextlib.suppress(BargeError):
                    netns.remove(self.netns_dir / entry)
        if self.driver is None:
            return
        networks = [n for n in self.store.networks() if not n.builtin]
        by_id = {n.id: n for n in networks}
        published = []
        for e in self.store.endpoints():
            if e.ports and e.network_id in by_id:
                kept = [p for p in e.ports if self.reservations.hold(p.proto, p.host_ip, p.host_port)]
                if len(kept) != len(e.ports):
                    log.warning("container %s: some published ports were taken while the daemon was down",
                                e.container_id[:12])
                published.append(Published(self._spec(by_id[e.network_id]), e.spec(), tuple(kept)))
        self.pm.hook.barge_network_restore(networks=[self._spec(n) for n in networks], published=published)
        if self.dns is not None:
            for cid in running:
                if self._user_networks(cid) and netns.is_netns(self.sandbox_path(cid)):
                    with contextlib.suppress(Exception):
                        self.dns.add(cid, self.sandbox_path(cid))

    def close(self) -> None:
        self.reservations.close()
        if self.dns is not None:
            self.dns.close()

    # -- networks -----------------------------------------------------------

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /networks/create`` (``body`` decoded)."""
        name = body.get("Name") or ""
        if not name:
            raise InvalidParameter("network name cannot be empty")
        if not _NET_NAME.match(name):
            raise InvalidParameter(f"invalid network name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        driver = body.get("Driver") or "bridge"
        if name in ("bridge", "host", "none") or driver in ("host", "null"):
            raise Forbidden(f"{name} is a pre-defined network and cannot be created")
        self._require_driver("network create")
        if driver != self.driver:
            raise NotFound(f"plugin \"{driver}\" not found (the network driver is {self.driver})")
        if body.get("EnableIPv6"):
            raise InvalidParameter("IPv6 networks are not supported by barge's bridge driver")
        if body.get("Scope") not in (None, "", "local"):
            raise InvalidParameter(f"scope {body['Scope']} is not supported; networks are local")
        for key in ("Ingress", "ConfigOnly"):
            if body.get(key):
                raise InvalidParameter(f"{key} networks are a swarm feature barge does not have")
        ipam_cfg = body.get("IPAM") or {}
        if (ipam_cfg.get("Driver") or "default") != "default":
            raise NotFound(f"plugin \"{ipam_cfg['Driver']}\" not found (only the default IPAM driver exists)")
        configs = ipam_cfg.get("Config") or []
        if len(configs) > 1:
            raise InvalidParameter("barge's networks have one IPv4 subnet; give at most one --subnet")
        options = dict(body.get("Options") or {})
        labels = dict(body.get("Labels") or {})
        with self._lock:
            if any(n.name == name for n in self.store.networks(("ready", "creating", "removing"))):
                raise Conflict(f"network with name {name} already exists")
            subnet, gateway, ip_range = self._address_plan(configs[0] if configs else {})
            nid = secrets.token_hex(32)
            iface = options.get("com.docker.network.bridge.name") or f"bg-{nid[:12]}"
            if len(iface) > 15 or "/" in iface or " " in iface:
                raise InvalidParameter(f"invalid bridge name {iface!r}: at most 15 characters, no '/' or spaces")
            if any(n.interface == iface for n in self.store.networks(("ready", "creating", "removing"))):
                raise Conflict(f"bridge {iface} is already used by another network")
            n = Network(id=nid, name=name, driver=driver, interface=iface, subnet=subnet, gateway=gateway,
                        ip_range=ip_range, internal=bool(body.get("Internal")),
                        attachable=bool(body.get("Attachable")), options=options, labels=labels,
                        created=_now(), state="creating")
            self.store.insert(n)
        try:
            self.pm.hook.barge_network_create(network=self._spec(n))
        except BaseException:
            with contextlib.suppress(Exception):
                self.pm.hook.barge_network_delete(network=self._spec(n))
            self.store.delete(n.id)
            raise
        self.store.set_state(n.id, "ready")
        self._event("create", n)
        return {"Id": n.id, "Warning": ""}

    def _address_plan(self, conf: dict[str, Any]) -> tuple[str, str, str]:
        subnet_s = conf.get("Subnet") or ""
        if conf.get("AuxiliaryAddresses"):
            raise InvalidParameter("auxiliary addresses are not supported")
        taken = self._taken()
        if subnet_s:
            if ":" in subnet_s:
                raise InvalidParameter("IPv6 subnets are not supported by barge's bridge driver")
            net = ipam.parse_subnet(subnet_s)
            clash = ipam.overlapping(net, taken)
            if clash is not None:
                raise Forbidden(f"invalid pool request: subnet {net} overlaps with {clash[1]}")
        else:
            if conf.get("Gateway") or conf.get("IPRange"):
                raise InvalidParameter("a gateway or ip-range needs a subnet (--subnet)")
            net = ipam.choose_pool(self.cfg.default_address_pools, taken)
        gateway = conf.get("Gateway") or str(next(net.hosts()))
        if ipam.parse_address(gateway, "gateway") not in net or gateway in (
                str(net.network_address), str(net.broadcast_address)):
            raise InvalidParameter(f"invalid gateway {gateway}: not a host address of the subnet {net}")
        ip_range = conf.get("IPRange") or ""
        if ip_range:
            r = ipam.parse_subnet(ip_range)
            if not r.subnet_of(net):
                raise InvalidParameter(f"invalid ip-range {ip_range}: not inside the subnet {net}")
            ip_range = str(r)
        return str(net), gateway, ip_range

    def get(self, ref: str) -> Network:
        return self.store.resolve(ref)

    def _container_names(self) -> dict[str, str]:
        if self.containers is None:
            return {}
        return {c.id: c.name.lstrip("/") for c in self.containers.store.all()}

    def view(self, n: Network, names: dict[str, str] | None = None) -> dict[str, Any]:
        """Docker's network object."""
        names = self._container_names() if names is None else names
        containers = {}
        for e in self.store.endpoints(network_id=n.id):
            containers[e.container_id] = {"Name": names.get(e.container_id, ""), "EndpointID": e.id,
                                          "MacAddress": e.mac, "IPv4Address": f"{e.address}/{e.prefixlen}",
                                          "IPv6Address": ""}
        config = []
        if n.subnet:
            entry = {"Subnet": n.subnet, "Gateway": n.gateway}
            if n.ip_range:
                entry["IPRange"] = n.ip_range
            config.append(entry)
        return {
            "Name": n.name, "Id": n.id, "Created": n.created, "Scope": "local", "Driver": n.driver,
            "EnableIPv4": True, "EnableIPv6": False,
            "IPAM": {"Driver": "default", "Options": None if n.predefined else {}, "Config": config},
            "Internal": n.internal, "Attachable": n.attachable, "Ingress": False,
            "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Containers": containers,
            "Options": dict(n.options), "Labels": dict(n.labels),
        }

    def inspect(self, ref: str, verbose: bool = False) -> dict[str, Any]:
        return self.view(self.get(ref))

    def list(self, filters: dict[str, list[str]]) -> list[dict[str, Any]]:
        for key in filters:
            if key not in LIST_FILTERS:
                raise InvalidParameter(f"invalid filter '{key}'")
        names = self._container_names()
        out = []
        for n in self.store.networks():
            if not self._matches(n, filters):
                continue
            v = self.view(n, names)
            if "dangling" in filters:
                dangling = not self._in_use(n)
                if not any((val.lower() in ("true", "1")) == dangling for val in filters["dangling"]):
                    continue
            out.append(v)
        return out

    def _matches(self, n: Network, f: dict[str, list[str]]) -> bool:
        if "driver" in f and n.driver not in f["driver"]:
            return False
        if "id" in f and not any(n.id.startswith(v) for v in f["id"]):
            return False
        if "name" in f and not any(v in n.name for v in f["name"]):
            return False
        if "scope" in f and "local" not in f["scope"]:
            return False
        if "type" in f:
            for v in f["type"]:
                if v not in ("custom", "builtin"):
                    raise InvalidParameter(f"invalid filter: 'type'='{v}'")
            if ("builtin" if n.predefined else "custom") not in f["type"]:
                return False
        if "label" in f and not labels_match(n.labels, f["label"]):
            return False
        return True

    def _in_use(self, n: Network) -> bool:
        if self.store.endpoints(network_id=n.id):
            return True
        if self.containers is None:
            return False
        return any(self._wants(c, n) for c in self.containers.store.all())

    @staticmethod
    def _wants(c, n: Network) -> bool:
        eps = (c.network_config or {}).get("EndpointsConfig") or {}
        return any(key == n.name or (cfg or {}).get("NetworkID") == n.id for key, cfg in eps.items())

    def remove(self, ref: str) -> None:
        n = self.get(ref)
        if n.predefined:
            raise Forbidden(f"{n.name} is a pre-defined network and cannot be removed")
        with self._lock:
            active = self.store.begin_remove(n.id)
            if active:
                names = self._container_names()
                who = ", ".join(f'(name:"{names.get(e.container_id, "")}" id:"{e.container_id[:12]}")'
                                for e in active)
                raise Forbidden(f"error while removing network: network {n.name} has active endpoints {who}")
        try:
            self.pm.hook.barge_network_delete(network=self._spec(n))
        except BaseException:
            self.store.set_state(n.id, "ready")
            raise
        self.store.delete(n.id)
        self._event("destroy", n)

    def prune(self, filters: dict[str, list[str]]) -> dict[str, Any]:
        from barge.containers.events import parse_time

        for key in filters:
            if key not in PRUNE_FILTERS:
                raise InvalidParameter(f"invalid filter '{key}'")
        until = [parse_time(v) for v in filters.get("until", [])]
        deleted = []
        for n in self.store.networks():
            if n.predefined or self._in_use(n):
                continue
            if "label" in filters and not labels_match(n.labels, filters["label"]):
                continue
            if "label!" in filters and any(labels_match(n.labels, [item]) for item in filters["label!"]):
                continue
            if until and any((parse_time(n.created) or 0) >= u for u in until if u is not None):  # both in ns
                continue
            try:
                self.remove(n.id)
                deleted.append(n.name)
            except (Forbidden, NotFound):
                pass
        return {"NetworksDeleted": deleted}

    # -- a container's networks --------------------------------------------

    def check_create(self, name: str, config: dict[str, Any], host: dict[str, Any],
                     networking: dict[str, Any]) -> dict[str, Any]:
        """Validate a create request's networking; return its ``NetworkingConfig`` with the
        primary network first and every network's id recorded (Docker's EndpointSettings)."""
        mode = host.get("NetworkMode") or "bridge"
        ports.check(host.get("PortBindings"), config.get("ExposedPorts"))
        given = dict(((networking or {}).get("EndpointsConfig") or {}))
        if mode in ("host", "none") or mode.startswith("container:"):
            for key in given:
                if key not in (mode, "default"):
                    raise InvalidParameter(f"container cannot be connected to network endpoints: {mode}, {key}")
            if mode != "host" and (host.get("PortBindings") or host.get("PublishAllPorts")) and mode != "none":
                raise InvalidParameter("conflicting options: port publishing and the container type network mode")
            if mode.startswith("container:") and (host.get("Dns") or host.get("ExtraHosts")):
                raise InvalidParameter("conflicting options: dns and the network mode" if host.get("Dns")
                                       else "conflicting options: custom host-to-IP mapping and the network mode")
            return {"EndpointsConfig": {mode: given.get(mode) or given.get("default") or {}}}
        primary = self.get(mode)
        if primary.builtin:
            host["NetworkMode"] = primary.name
            return {"EndpointsConfig": {primary.name: {}}}
        host["NetworkMode"] = mode
        out: dict[str, Any] = {}
        order = [mode] + [k for k in given if k not in (mode, "default", primary.name, primary.id)]
        for key in order:
            n = primary if key == mode else self.get(key)
            if n.builtin:
                raise InvalidParameter(f"container cannot be connected to network endpoints: {mode}, {key}")
            cfg = dict(given.get(key) or (given.get("default") if key == mode else None) or {})
            if key == mode and config.get("MacAddress"):  # moby's handleMACAddressBC: the old, container-wide field
                if cfg.get("MacAddress") and cfg["MacAddress"] != config["MacAddress"]:
                    raise InvalidParameter("the container-wide MAC address must match the endpoint-specific MAC "
                                           "address for the main network, or be left empty")
                cfg["MacAddress"] = config["MacAddress"]
            self._check_endpoint_config(n, cfg, name)
            cfg["NetworkID"] = n.id
            out[n.name] = cfg
        return {"EndpointsConfig": out}

    def _check_endpoint_config(self, n: Network, cfg: dict[str, Any], name: str) -> None:
        wanted = ((cfg.get("IPAMConfig") or {}).get("IPv4Address") or "")
        aliases = cfg.get("Aliases") or []
        if wanted:
            if not n.user_defined:
                raise InvalidParameter("user specified IP address is supported on user defined networks only")
            addr = ipam.parse_address(wanted, "IPv4")
            if addr not in ipam.Net(n.subnet):
                raise InvalidParameter(f"invalid address {wanted}: it does not belong to the subnet {n.subnet} "
                                       f"of network {n.name}")
            if ((cfg.get("IPAMConfig") or {}).get("IPv6Address") or ""):
                raise InvalidParameter("IPv6 addresses are not supported")
        if aliases and not n.user_defined:
            raise InvalidParameter("network-scoped alias is supported only for containers in user defined networks")
        mac = cfg.get("MacAddress") or ""
        if mac and not re.match(r"^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$", mac):
            raise InvalidParameter(f"invalid MAC address: {mac}")
        if n.user_defined:
            bare = name.lstrip("/")
            problem = dns_name_problem(bare) if bare else ""
            if problem:
                raise InvalidParameter(f"container name {bare!r} cannot be used on network {n.name}, where names "
                                       f"are resolved by DNS: {problem}")
            for alias in aliases:
                problem = dns_name_problem(alias)
                if problem:
                    raise InvalidParameter(f"invalid network alias {alias!r}: {problem}")

    def _attachments(self, c) -> list[tuple[Network, dict[str, Any]]]:
        eps = (c.network_config or {}).get("EndpointsConfig") or {}
        out = []
        for key, cfg in eps.items():
            cfg = cfg or {}
            n = self.store.get(cfg.get("NetworkID") or "") if cfg.get("NetworkID") else None
            if n is None or n.state != "ready":
                try:
                    n = self.get(key)
                except NotFound:
                    raise NotFound(f"network {key} not found: it was removed; connect the container to "
                                   "another network or remove it") from None
            if not n.builtin:
                out.append((n, cfg))
        return out

    def setup(self, c) -> Sandbox | None:
        """Before a start: the container's sandbox and endpoints (None: no sandbox of its own)."""
        mode = c.host_config.get("NetworkMode") or "bridge"
        if mode in ("host", "none") or mode.startswith("container:"):
            return None
        self._require_driver("start")
        attachments = self._attachments(c)
        path = self.sandbox_path(c.id)
        self.teardown(c.id)  # whatever an earlier run left
        netns.create(path)
        try:
            netns.run_in(path, _lo_up)
            endpoints = []
            gateway_endpoint = None
            for i, (n, cfg) in enumerate(attachments):
                give_route = gateway_endpoint is None and not n.internal
                e = self._allocate(c, n, cfg, f"eth{i}", give_route)
                endpoints.append(e)
                self.pm.hook.barge_network_join(network=self._spec(n), endpoint=e.spec(), sandbox=path)
                if give_route:
                    gateway_endpoint = (n, e)
            if gateway_endpoint is not None:
                self._publish(c, *gateway_endpoint)
            embedded = any(n.user_defined for n, _ in attachments)
            if embedded and self.dns is not None:
                self.dns.add(c.id, path)
        except BaseException:
            self.teardown(c.id)
            raise
        for n, _ in attachments:
            self._event("connect", n, container=c.id)
        return Sandbox(path, endpoints, endpoints[0].address if endpoints else "", embedded)

    def _allocate(self, c, n: Network, cfg: dict[str, Any], ifname: str, give_route: bool) -> Endpoint:
        wanted = ((cfg.get("IPAMConfig") or {}).get("IPv4Address") or "")
        names = [c.name.lstrip("/")] + [str(a) for a in (cfg.get("Aliases") or [])] + [c.id[:12]]
        if n.user_defined and c.config.get("Hostname") and c.config["Hostname"] not in names:
            names.append(c.config["Hostname"])
        with self.store.db.write() as conn:
            address = ipam.allocate(n.subnet, n.ip_range, n.gateway, self.store.used_addresses(conn, n.id), wanted)
            e = Endpoint(id=secrets.token_hex(32), network_id=n.id, container_id=c.id, ifname=ifname,
                         address=address, prefixlen=n.prefixlen, mac=cfg.get("MacAddress") or ipam.mac_for(address),
                         gateway=n.gateway if give_route else "", dns_names=names)
            self.store.insert_endpoint(conn, e)
        return e

    def _publish(self, c, n: Network, e: Endpoint) -> None:
        wanted = ports.requested(c.host_config.get("PortBindings"), c.config.get("ExposedPorts"),
                                 bool(c.host_config.get("PublishAllPorts")))
        if not wanted:
            return
        mappings: list[PortMapping] = []
        try:
            for b in wanted:
                port = self.reservations.reserve(b.proto, b.host_ip, b.host_first, b.host_last)
                mappings.append(PortMapping(b.proto, b.host_ip, port, e.address, b.container_port))
        except BaseException:
            for m in mappings:
                self.reservations.release(m.proto, m.host_ip, m.host_port)
            raise
        e.ports = mappings
        self.store.set_ports(e.id, mappings)
        self.pm.hook.barge_network_publish(network=self._spec(n), endpoint=e.spec(), ports=list(mappings))

    def teardown(self, container_id: str) -> None:
        """After an exit (or a failed start, or rm): everything :meth:`setup` made, gone."""
        endpoints = self.store.endpoints(container_id=container_id)
        path = self.sandbox_path(container_id)
        if not endpoints and not os.path.lexists(path):
            return
        if self.dns is not None:
            with contextlib.suppress(Exception):
                self.dns.remove(container_id)
        for e in endpoints:
            n = self.store.get(e.network_id)
            try:
                if n is not None and self.driver is not None:
                    if e.ports:
                        self.pm.hook.barge_network_unpublish(network=self._spec(n), endpoint=e.spec(),
                                                             ports=list(e.ports))
                    self.pm.hook.barge_network_leave(network=self._spec(n), endpoint=e.spec(), sandbox=None)
            except Exception:
                log.exception("network driver: releasing endpoint %s of %s", e.id[:12], container_id[:12])
            for p in e.ports:
                self.reservations.release(p.proto, p.host_ip, p.host_port)
        try:
            netns.remove(path)
        except BargeError:
            log.exception("removing the network namespace of %s", container_id[:12])
        for e in endpoints:
            self.store.delete_endpoint(e.id)
            if n := self.store.get(e.network_id):
                self._event("disconnect", n, container=container_id)

    # -- connect / disconnect ----------------------------------------------

    def connect(self, ref: str, body: dict[str, Any]) -> None:
        """``POST /networks/{id}/connect`` (``body`` decoded)."""
        container = _container_of(body)
        n = self.get(ref)
        cfg = dict(body.get("EndpointConfig") or {})
        with self.containers.locked(container) as c:
            mode = c.host_config.get("NetworkMode") or "bridge"
            if n.builtin or mode in ("host", "none") or mode.startswith("container:"):
                if n.name == "host" or mode == "host":
                    raise Forbidden("container cannot be disconnected from host network or connected to host network")
                raise Forbidden("container sharing network namespace with another container or host cannot be "
                                "connected to any other network")
            eps = dict((c.network_config or {}).get("EndpointsConfig") or {})
            if n.name in eps or any((v or {}).get("NetworkID") == n.id for v in eps.values()):
                raise Forbidden(f"endpoint with name {c.name.lstrip('/')} already exists in network {n.name}")
            self._check_endpoint_config(n, cfg, c.name)
            cfg["NetworkID"] = n.id
            if c.state.Running and netns.is_netns(self.sandbox_path(c.id)):
                current = self.store.endpoints(container_id=c.id)
                used = {e.ifname for e in current}
                ifname = next(f"eth{i}" for i in range(len(used) + 1) if f"eth{i}" not in used)
                give_route = not n.internal and not any(e.gateway for e in current)
                e = self._allocate(c, n, cfg, ifname, give_route)
                try:
                    self.pm.hook.barge_network_join(network=self._spec(n), endpoint=e.spec(),
                                                    sandbox=self.sandbox_path(c.id))
                except BaseException:
                    self.store.delete_endpoint(e.id)
                    raise
                if n.user_defined and self.dns is not None:
                    self.dns.add(c.id, self.sandbox_path(c.id))
            eps[n.name] = cfg
            self.containers.store.set_network_config(c.id, {"EndpointsConfig": eps})
        self._event("connect", n, container=c.id)

    def disconnect(self, ref: str, body: dict[str, Any]) -> None:
        """``POST /networks/{id}/disconnect`` (``body`` decoded)."""
        container = _container_of(body)
        n = self.get(ref)
        with contextlib.ExitStack() as held:
            try:
                c = held.enter_context(self.containers.locked(container))
            except NotFound:
                # moby: with force, an endpoint whose container is gone is still dropped; none at all is 404
                gone = [e for e in self.store.endpoints(network_id=n.id)
                        if body.get("Force") and e.container_id.startswith(container)]
                if not gone:
                    raise
                for e in gone:
                    self._drop_endpoint(n, e, None)
                return
            if n.builtin or (c.host_config.get("NetworkMode") or "").startswith("container:"):
                raise Forbidden("container cannot be disconnected from host network or connected to host network"
                                if n.name == "host" else f"container {c.id[:12]} is not connected to network {n.name}")
            eps = dict((c.network_config or {}).get("EndpointsConfig") or {})
            key = next((k for k, v in eps.items() if k == n.name or (v or {}).get("NetworkID") == n.id), None)
            if key is None:
                raise Forbidden(f"container {c.id[:12]} is not connected to network {n.name}")
            for e in self.store.endpoints(container_id=c.id):
                if e.network_id == n.id:
                    self._drop_endpoint(n, e, self.sandbox_path(c.id))
            del eps[key]
            self.containers.store.set_network_config(c.id, {"EndpointsConfig": eps})
        self._event("disconnect", n, container=c.id)

    def _drop_endpoint(self, n: Network, e: Endpoint, sandbox: str | None) -> None:
        if e.ports:
            self.pm.hook.barge_network_unpublish(network=self._spec(n), endpoint=e.spec(), ports=list(e.ports))
            for p in e.ports:
                self.reservations.release(p.proto, p.host_ip, p.host_port)
        live = sandbox if sandbox and netns.is_netns(sandbox) else None
        self.pm.hook.barge_network_leave(network=self._spec(n), endpoint=e.spec(), sandbox=live)
        self.store.delete_endpoint(e.id)

    def host_gateway(self) -> str:
        """``host-gateway`` in ``--add-host``: the default bridge's gateway, as Docker's default."""
        with contextlib.suppress(NotFound):
            return self.get("bridge").gateway
        return ""

    def renamed(self, container_id: str, old: str, new: str) -> None:
        """A rename shows at once in the embedded DNS, as in Docker."""
        old, new = old.lstrip("/"), new.lstrip("/")
        for e in self.store.endpoints(container_id=container_id):
            if old in e.dns_names:
                self.store.set_dns_names(e.id, [new if n == old else n for n in e.dns_names])

    # -- the embedded DNS server's answers ---------------------------------

    def _user_networks(self, container_id: str) -> list[str]:
        ids = []
        for e in self.store.endpoints(container_id=container_id):
            n = self.store.get(e.network_id)
            if n is not None and n.user_defined:
                ids.append(n.id)
        return ids

    def dns_lookup(self, container_id: str, name: str) -> list[str] | None:
        """Addresses of ``name`` on the user-defined networks ``container_id`` is on (also ``name.network``)."""
        found: list[str] = []
        known = False
        for nid in self._user_networks(container_id):
            n = self.store.get(nid)
            for e in self.store.endpoints(network_id=nid):
                for dns_name in e.dns_names:
                    d = dns_name.lower()
                    if name == d or (n is not None and name == f"{d}.{n.name.lower()}"):
                        known = True
                        if e.address not in found:
                            found.append(e.address)
        return found if known else None

    def dns_reverse(self, container_id: str, address: str) -> str | None:
        for nid in self._user_networks(container_id):
            n = self.store.get(nid)
            for e in self.store.endpoints(network_id=nid):
                if e.address == address and e.dns_names:
                    return f"{e.dns_names[0]}.{n.name}" if n else e.dns_names[0]
        return None

    def dns_upstreams(self, container_id: str) -> list[str]:
        """Where other names go: the container's --dns, else the host's resolvers; none from internal networks."""
        nets = [self.store.get(nid) for nid in self._user_networks(container_id)]
        if nets and all(n is not None and n.internal for n in nets):
            return []
        c = self.containers.store.get(container_id) if self.containers is not None else None
        if c is not None and c.host_config.get("Dns"):
            return [s for s in c.host_config["Dns"] if s != "127.0.0.11"]
        if self.cfg.dns:
            return [s for s in self.cfg.dns if s != "127.0.0.11"]
        from barge.containers.files import host_nameservers

        return [s for s in host_nameservers() if s != "127.0.0.11"]

    def dns_settings(self, host: dict[str, Any]) -> dict[str, Any]:
        """A container's Dns/DnsSearch/DnsOptions, the daemon's ``[network]`` ones filling what it left empty."""
        out = dict(host)
        for key, value in (("Dns", self.cfg.dns), ("DnsSearch", self.cfg.dns_search),
                           ("DnsOptions", self.cfg.dns_options)):
            if not out.get(key) and value:
                out[key] = list(value)
        return out

    # -- a container's view ---------------------------------------------------

    def snapshot(self) -> "views.Snapshot":
        """Networks and endpoints read once, for inspect or a whole ``ps``."""
        return views.Snapshot(self.store.networks(), self.store.endpoints())

    def container_view(self, c, snapshot: "views.Snapshot | None" = None) -> dict[str, Any]:
        return views.container_view(snapshot or self.snapshot(), c, self.cfg.bridge, self.sandbox_path(c.id))

    def summary_ports(self, c, snapshot: "views.Snapshot | None" = None) -> list[dict[str, Any]]:
        return views.summary_ports(snapshot or self.snapshot(), c)

