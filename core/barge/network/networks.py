"""``Networks``: the network records and the driver's networks, the API's ``/networks``.

Create, list, inspect, remove and prune; the predefined ``bridge`` (the
default bridge, on the interface ``[network] bridge``), ``host`` and ``none``
always exist. A create or remove is journaled in the record's ``state``, so
:meth:`Networks.recover` can finish what a crashed daemon left half-done.
Containers' endpoints are :mod:`barge.network.endpoints`' business.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import secrets
import threading
import time
from typing import Any, Callable

from barge.errors import BargeError, Conflict, Forbidden, InvalidParameter, NotFound
from barge.filters import Filters, labels_match, prune_until
from barge.netdriver import NetworkSpec
from barge.network import address_plan, bridge_options, ipam
from barge.network.records import ContainerRecords
from barge.network.store import Network, NetworkStore
from barge.timefmt import parse_rfc3339

log = logging.getLogger("barge.network")

LIST_FILTERS = frozenset({"dangling", "driver", "id", "label", "name", "scope", "type"})
PRUNE_FILTERS = frozenset({"until", "label", "label!"})
#: the states in which a network's name, subnet and interface are taken
_LIVE = ("ready", "creating", "removing")

#: ``emit(action, network_id, attributes)``: a network event (create, destroy, connect, disconnect)
Emit = Callable[[str, str, dict], None]


def _now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


def _matches(n: Network, f: dict[str, list[str]]) -> bool:
    """``GET /networks``' filters other than ``dangling``."""
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


def _wants(c, n: Network) -> bool:
    """The container record ``c`` is configured onto ``n`` (running or not)."""
    eps = (c.network_config or {}).get("EndpointsConfig") or {}
    return any(key == n.name or (cfg or {}).get("NetworkID") == n.id for key, cfg in eps.items())


class Networks:
    """The network records, their addresses (IPAM) and the driver's create/delete."""

    def __init__(self, *, store: NetworkStore, cfg, pm, driver: str | None, containers: ContainerRecords,
                 driver_error: str = "", emit: Emit | None = None):
        self.store = store
        self.cfg = cfg  # barge.config.NetworkConfig
        self.pm = pm
        #: the network driver's name; None: none loaded (``driver_error`` says why)
        self.driver = driver
        self.driver_error = driver_error
        self.containers = containers
        self.emit = emit or (lambda action, nid, attrs: None)
        self._lock = threading.RLock()

    # -- shared with the endpoints -----------------------------------------

    def require_driver(self, what: str) -> None:
        if self.driver is None:
            raise BargeError(f"{what}: no network driver ({self.driver_error or 'none configured'})")

    def spec(self, n: Network) -> NetworkSpec:
        """What the driver is told about ``n``."""
        return n.spec(self.cfg.mtu)

    def event(self, action: str, n: Network, **attrs: str) -> None:
        """Announce a network event; a failing listener is logged, never raised."""
        try:
            self.emit(action, n.id, {"name": n.name, "type": n.driver, **attrs})
        except Exception:  # noqa: BLE001 - an event subscriber must not fail the network operation
            log.exception("network event %s", action)

    def get(self, ref: str) -> Network:
        return self.store.resolve(ref)

    def _taken(self) -> list[tuple[Any, str]]:
        """Subnets a new network must not overlap: other networks' (both families) and the host's own routes."""
        networks = self.store.networks(_LIVE)
        own = {n.interface for n in networks if n.interface}
        taken: list[tuple[Any, str]] = [(ipam.Net(n.subnet), f"network {n.name}") for n in networks if n.subnet]
        taken += [(ipaddress.ip_network(c["Subnet"], strict=False), f"network {n.name}")
                  for n in networks for c in n.ipam if ":" in (c.get("Subnet") or "")]
        routes = ipam.host_routes() + ipam.host_routes6()
        taken += [(net, f"the host route {net} on {dev}") for net, dev in routes if dev not in own]
        return taken

    # -- daemon start -------------------------------------------------------

    def recover(self) -> None:
        """Undo journaled creates and finish journaled removes; make sure the predefined networks exist."""
        for n in self.store.networks(("creating", "removing")):
            with contextlib.suppress(Exception):
                self.pm.hook.barge_network_delete(network=self.spec(n))
            self.store.delete(n.id)
        self.ensure_predefined()

    def ensure_predefined(self) -> None:
        """``bridge``, ``host`` and ``none``; the default bridge follows ``[network]``'s bridge and bip."""
        by_name = {n.name: n for n in self.store.networks(_LIVE)}
        for name, driver in (("host", "host"), ("none", "null")):
            if name not in by_name:
                self.store.insert(Network(id=secrets.token_hex(32), name=name, driver=driver, created=_now()))
        if self.driver is None:
            return
        bridge = by_name.get("bridge")
        opts = {bridge_options.DEFAULT_BRIDGE: "true",
                bridge_options.ENABLE_ICC: str(bool(self.cfg.enable_icc)).lower(),
                bridge_options.ENABLE_IP_MASQUERADE: str(bool(self.cfg.ip_masq)).lower(),
                bridge_options.HOST_BINDING_IPV4: "0.0.0.0",
                bridge_options.NAME: self.cfg.bridge,
                bridge_options.MTU: str(self.cfg.mtu or 1500)}
        subnet, gateway = self._default_address(bridge)
        subnet6, gateway6 = self._default_address6()
        if bridge is not None and (bridge.subnet, bridge.gateway, bridge.interface, bridge.options, bridge.ipv6,
                                   bridge.subnet6, bridge.gateway6) == (
                subnet, gateway, self.cfg.bridge, opts, self.cfg.ipv6, subnet6, gateway6):
            return
        if bridge is not None:
            if self.store.endpoints(network_id=bridge.id):
                log.warning("the default bridge's settings changed but containers still use it; kept as it was")
                return
            with contextlib.suppress(Exception):
                if bridge.interface != self.cfg.bridge:
                    self.pm.hook.barge_network_delete(network=self.spec(bridge))
            self.store.delete(bridge.id)
        n = Network(id=bridge.id if bridge else secrets.token_hex(32), name="bridge", driver=self.driver,
                    interface=self.cfg.bridge, subnet=subnet, gateway=gateway, options=opts, created=_now(),
                    ipv6=self.cfg.ipv6, subnet6=subnet6, gateway6=gateway6)
        self.store.insert(n)

    def _default_address6(self) -> tuple[str, str]:
        """The default bridge's IPv6 subnet and gateway: ``fixed_cidr_v6`` when ``ipv6`` is on."""
        if not (self.cfg.ipv6 and self.cfg.fixed_cidr_v6):
            return "", ""
        net = ipam.parse_subnet(self.cfg.fixed_cidr_v6)
        if net.version != 6:
            raise InvalidParameter(f"invalid fixed-cidr-v6 {self.cfg.fixed_cidr_v6}: not an IPv6 subnet")
        return str(net), str(net.network_address + 1)

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

    # -- create -------------------------------------------------------------

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /networks/create`` (``body`` decoded).

        Names are unique whatever ``CheckDuplicate`` says: dockerd 20.10 lets a
        duplicate through when it is false, but then refuses every lookup of
        that name as ambiguous; barge answers as with ``CheckDuplicate`` true
        (the docker CLI's request, and the API's only behaviour from 1.44 on).
        """
        name, driver, configs = self._checked(body)
        options = {str(k): str(v) for k, v in (body.get("Options") or {}).items()}
        bridge_options.check(options)
        labels = dict(body.get("Labels") or {})
        ipv6 = bool(body.get("EnableIPv6"))
        with self._lock:
            if any(n.name == name for n in self.store.networks(_LIVE)):
                raise Conflict(f"network with name {name} already exists")
            plan = address_plan.plan(name, configs, ipv6, self._taken(), self.cfg.default_address_pools)
            nid = secrets.token_hex(32)
            iface = options.get(bridge_options.NAME) or f"bg-{nid[:12]}"
            if len(iface) > 15:
                raise InvalidParameter("failed to check bridge interface existence: numerical result out of range")
            if "/" in iface or any(ch.isspace() for ch in iface) or iface in (".", ".."):
                raise InvalidParameter(f"invalid bridge name {iface!r}: no '/' or spaces")
            for other in self.store.networks(_LIVE):
                if other.interface == iface:
                    raise Forbidden(f"cannot create network {nid} ({iface}): conflicts with network {other.id} "
                                    f"({iface}): networks have same bridge name")
            n = Network(id=nid, name=name, driver=driver, interface=iface, subnet=plan.subnet, gateway=plan.gateway,
                        ip_range=plan.ip_range, internal=bool(body.get("Internal")),
                        attachable=bool(body.get("Attachable")), options=options, labels=labels,
                        created=_now(), state="creating", ipv6=ipv6, subnet6=plan.subnet6, gateway6=plan.gateway6,
                        ip_range6=plan.ip_range6, ipam=plan.ipam)
            self.store.insert(n)
        try:
            self.pm.hook.barge_network_create(network=self.spec(n))
        except BaseException:
            with contextlib.suppress(Exception):
                self.pm.hook.barge_network_delete(network=self.spec(n))
            self.store.delete(n.id)
            raise
        self.store.set_state(n.id, "ready")
        self.event("create", n)
        return {"Id": n.id, "Warning": ""}

    def _checked(self, body: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]]]:
        """A create request's name, driver and IPAM configs, or the error that refuses it."""
        name = body.get("Name") or ""
        if not name:
            raise InvalidParameter("invalid name: ")  # libnetwork's ErrInvalidName
        driver = body.get("Driver") or "bridge"
        if name in ("bridge", "host", "none"):
            raise Forbidden(f"operation is not permitted on predefined {name} network ")  # dockerd's, space too
        if driver in ("host", "null"):
            raise Forbidden(f'only one instance of "{driver}" network is allowed')
        self.require_driver("network create")
        if driver != self.driver:
            raise NotFound(f"plugin \"{driver}\" not found")
        if body.get("Scope") not in (None, "", "local"):
            raise InvalidParameter(f"scope {body['Scope']} is not supported; networks are local")
        for key in ("Ingress", "ConfigOnly"):
            if body.get(key):
                raise InvalidParameter(f"{key} networks are a swarm feature barge does not have")
        ipam_cfg = body.get("IPAM") or {}
        if (ipam_cfg.get("Driver") or "default") != "default":
            raise NotFound(f"plugin \"{ipam_cfg['Driver']}\" not found (only the default IPAM driver exists)")
        if ipam_cfg.get("Options"):  # dockerd's default IPAM keeps them and uses none but an allocation order
            raise InvalidParameter("IPAM.Options are not supported by barge's default IPAM driver: "
                                   f"{', '.join(sorted(map(str, ipam_cfg['Options'])))}")
        return name, driver, list(ipam_cfg.get("Config") or [])

    # -- read ---------------------------------------------------------------

    def _container_names(self) -> dict[str, str]:
        return {c.id: c.name.lstrip("/") for c in self.containers.all()}

    def view(self, n: Network, names: dict[str, str] | None = None) -> dict[str, Any]:
        """Docker's network object."""
        names = self._container_names() if names is None else names
        containers = {}
        for e in self.store.endpoints(network_id=n.id):
            containers[e.container_id] = {"Name": names.get(e.container_id, ""), "EndpointID": e.id,
                                          "MacAddress": e.mac, "IPv4Address": f"{e.address}/{e.prefixlen}",
                                          "IPv6Address": f"{e.address6}/{e.prefixlen6}" if e.address6 else ""}
        config = [dict(c) for c in n.ipam]
        if not config and n.subnet:  # the default bridge, and networks recorded before ``ipam`` was
            entry = {"Subnet": n.subnet, "Gateway": n.gateway}
            if n.ip_range:
                entry["IPRange"] = n.ip_range
            config.append(entry)
            if n.subnet6:
                config.append({"Subnet": n.subnet6, "Gateway": n.gateway6})
        return {
            "Name": n.name, "Id": n.id, "Created": n.created, "Scope": "local", "Driver": n.driver,
            "EnableIPv4": True, "EnableIPv6": n.ipv6,
            "IPAM": {"Driver": "default", "Options": None, "Config": config},  # none given: null, as dockerd
            "Internal": n.internal, "Attachable": n.attachable, "Ingress": False,
            "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Containers": containers,
            "Options": dict(n.options), "Labels": dict(n.labels),
        }

    def inspect(self, ref: str, verbose: bool = False) -> dict[str, Any]:
        return self.view(self.get(ref))

    def list(self, filters: Filters) -> list[dict[str, Any]]:
        for key in filters:
            if key not in LIST_FILTERS:
                raise InvalidParameter(f"invalid filter '{key}'")
        names = self._container_names()
        out = []
        for n in self.store.networks():
            if not _matches(n, filters):
                continue
            v = self.view(n, names)
            if "dangling" in filters:
                dangling = not self._in_use(n)
                if not any((val.lower() in ("true", "1")) == dangling for val in filters["dangling"]):
                    continue
            out.append(v)
        return out

    def _in_use(self, n: Network) -> bool:
        """An endpoint is on ``n``, or a container (stopped ones too) is configured onto it."""
        if self.store.endpoints(network_id=n.id):
            return True
        return any(_wants(c, n) for c in self.containers.all())

    # -- remove -------------------------------------------------------------

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
            self.pm.hook.barge_network_delete(network=self.spec(n))
        except BaseException:
            self.store.set_state(n.id, "ready")
            raise
        self.store.delete(n.id)
        self.event("destroy", n)

    def prune(self, filters: Filters) -> dict[str, Any]:
        for key in filters:
            if key not in PRUNE_FILTERS:
                raise InvalidParameter(f"invalid filter '{key}'")
        until = prune_until(filters.get("until", []))
        deleted = []
        for n in self.store.networks():
            if n.predefined or self._in_use(n):
                continue
            if "label" in filters and not labels_match(n.labels, filters["label"]):
                continue
            if "label!" in filters and any(labels_match(n.labels, [item]) for item in filters["label!"]):
                continue
            if until is not None and parse_rfc3339(n.created) >= until:
                continue
            try:
                self.remove(n.id)
                deleted.append(n.name)
            except (Forbidden, NotFound):
                pass
        try:  # dockerd's ``network prune``: no actor, nothing reclaimed
            self.emit("prune", "", {"reclaimed": "0"})
        except Exception:  # noqa: BLE001 - an event subscriber must not fail the prune
            log.exception("network event prune")
        return {"NetworksDeleted": deleted or None}  # none deleted: null, as dockerd
