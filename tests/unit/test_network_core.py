"""Core network logic with a recording fake driver: IPAM, ports, records, recovery.

Sandboxes are real namespace files (cheap, root); no link, bridge or rule
is made on the host: the fake driver only records what it was asked.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import threading
import types
from pathlib import Path

import pytest

from barge import netns
from barge.config import NetworkConfig
from barge.containers.files import host_nameservers
from barge.db import Database
from barge.engine.hookspecs import hookimpl
from barge.engine.plugins import make_plugin_manager
from barge.errors import Conflict, Forbidden, InvalidParameter, NotFound
from barge.network import ipam, ports
from barge.network.attachments import Attachments
from barge.network.dns import EmbeddedDNS
from barge.network.endpoint_config import dns_name_problem
from barge.network.endpoints import Endpoints
from barge.network.networks import Networks
from barge.network.resolver import Resolver
from barge.network.service import NetworkService
from barge.network.store import NetworkStore
from tests.unit.test_dns import A, ask_udp, parse, query


class FakeNet:
    def __init__(self):
        self.calls = []

    @hookimpl
    def barge_network_create(self, network):
        self.calls.append(("create", network.name))
        return True

    @hookimpl
    def barge_network_delete(self, network):
        self.calls.append(("delete", network.name))
        return True

    @hookimpl
    def barge_network_join(self, network, endpoint, sandbox):
        assert netns.is_netns(sandbox)
        self.calls.append(("join", network.name, endpoint.ifname, endpoint.address, endpoint.gateway))
        return True

    @hookimpl
    def barge_network_leave(self, network, endpoint, sandbox):
        self.calls.append(("leave", network.name, endpoint.address, sandbox))
        return True

    @hookimpl
    def barge_network_publish(self, network, endpoint, ports):
        self.calls.append(("publish", network.name, [(p.host_port, p.container_port) for p in ports]))
        return True

    @hookimpl
    def barge_network_unpublish(self, network, endpoint, ports):
        self.calls.append(("unpublish", network.name))
        return True

    @hookimpl
    def barge_network_restore(self, networks, published):
        self.calls.append(("restore", sorted(n.name for n in networks), len(published)))
        return True


class FakeContainers:
    """Just enough of the container side (ContainerRecords and ContainerLocks) for connect/disconnect and names."""

    def __init__(self):
        self.records = {}

    def all(self):
        return list(self.records.values())

    def get(self, cid):
        return self.records.get(cid)

    def set_network_config(self, cid, cfg):
        self.records[cid].network_config = cfg

    def add(self, name, mode="bridge", endpoints=None, exposed=None, bindings=None, running=False):
        cid = secrets.token_hex(32)
        c = types.SimpleNamespace(id=cid, name="/" + name, host_config={"NetworkMode": mode, "PortBindings": bindings},
                                  config={"Hostname": cid[:12], "ExposedPorts": exposed},
                                  network_config={"EndpointsConfig": endpoints or {}},
                                  state=types.SimpleNamespace(Running=running))
        self.records[cid] = c
        return c

    @contextlib.contextmanager
    def locked(self, ref):
        for c in self.records.values():
            if c.id.startswith(ref) or c.name == "/" + ref:
                yield c
                return
        raise NotFound(f"No such container: {ref}")

    def releasing(self, container_id):
        return False


def wire(db, pm, cfg, run, containers, dns=False):
    """The network pieces as the daemon's composition root builds them (the DNS server only if ``dns``)."""
    store = NetworkStore(db)
    networks = Networks(store=store, cfg=cfg, pm=pm, driver="bridge", containers=containers)
    resolver = Resolver(store=store, cfg=cfg, containers=containers, host_nameservers=host_nameservers)
    server = EmbeddedDNS(resolver.lookup, resolver.upstreams, reverse=resolver.reverse) if dns else None
    if server is not None:
        server.start()
    endpoints = Endpoints(store=store, networks=networks, pm=pm, cfg=cfg, exec_root=run, dns=server)
    attachments = Attachments(store=store, networks=networks, endpoints=endpoints, containers=containers,
                              locks=containers)
    svc = NetworkService(networks=networks, attachments=attachments, endpoints=endpoints)
    return types.SimpleNamespace(store=store, networks=networks, resolver=resolver, endpoints=endpoints, svc=svc)


@pytest.fixture
def env(tmp_path, request):
    tag = secrets.token_hex(3)
    run = Path(f"/run/bt-nc-{tag}")
    db = Database(tmp_path / "barge.db")
    pm = make_plugin_manager(load_extensions=False)
    fake = FakeNet()
    pm.register(fake, name="network:fake")
    cfg = NetworkConfig(bridge=f"bt{tag}", default_address_pools=[{"base": "10.213.0.0/16", "size": 24}])
    containers = FakeContainers()
    net = wire(db, pm, cfg, run, containers, dns=getattr(request, "param", "") == "dns")
    net.endpoints.recover(set())
    yield types.SimpleNamespace(**vars(net), fake=fake, db=db, run=run, containers=containers)
    for entry in os.listdir(run / "netns") if (run / "netns").exists() else []:
        netns.remove(run / "netns" / entry)
    net.svc.close()
    db.close()
    import shutil

    shutil.rmtree(run, ignore_errors=True)


def test_predefined_networks_and_default_pool(env):
    names = {n["Name"]: n for n in env.svc.list({})}
    assert set(names) == {"bridge", "host", "none"}
    bridge = names["bridge"]
    assert bridge["IPAM"]["Config"] == [{"Subnet": "10.213.0.0/24", "Gateway": "10.213.0.1"}]
    assert bridge["Options"]["com.docker.network.bridge.default_bridge"] == "true"
    assert ("restore", ["bridge"], 0) in env.fake.calls


def test_create_picks_free_pools_and_refuses_overlaps(env):
    a = env.svc.create({"Name": "a"})
    b = env.svc.create({"Name": "b"})
    sa, sb = (env.svc.inspect(x["Id"])["IPAM"]["Config"][0]["Subnet"] for x in (a, b))
    assert sa == "10.213.1.0/24" and sb == "10.213.2.0/24"
    with pytest.raises(Forbidden, match="^Pool overlaps with other one on this address space$"):
        env.svc.create({"Name": "c", "IPAM": {"Config": [{"Subnet": "10.213.1.128/25"}]}})
    with pytest.raises(Conflict, match="already exists"):
        env.svc.create({"Name": "a"})
    with pytest.raises(Forbidden, match="not permitted on predefined host network"):
        env.svc.create({"Name": "host"})
    assert env.svc.inspect("a")["IPAM"]["Options"] is None  # none given: null, as dockerd
    with pytest.raises(InvalidParameter, match="IPAM.Options are not supported .*: com.docker.network.ipam.serial"):
        env.svc.create({"Name": "opts", "IPAM": {"Options": {"com.docker.network.ipam.serial": "true"}}})
    assert [n["Name"] for n in env.svc.list({"type": ["custom"]})] == ["a", "b"]
    env.svc.create({"Name": "empty-opts", "IPAM": {"Options": {}}})  # what the docker CLI sends


def test_subnet_colliding_with_a_host_route_is_refused(env):
    route = next(net for net, dev in ipam.host_routes())
    with pytest.raises(Forbidden, match="host route"):
        env.svc.create({"Name": "clash", "IPAM": {"Config": [{"Subnet": str(route)}]}})
    assert env.svc.list({"name": ["clash"]}) == []


@pytest.mark.parametrize("conf, message", [  # dockerd 20.10's texts (its status 500 is barge's 400)
    ({"Subnet": "10.214.0.0/33"}, "Invalid subnet 10.214.0.0/33 : invalid CIDR address: 10.214.0.0/33"),
    ({"Subnet": "bad"}, "Invalid subnet bad : invalid CIDR address: bad"),
    ({"Subnet": "10.214.0.0/24", "Gateway": "10.215.0.1"},
     r"failed to allocate gateway \(10.215.0.1\): Requested address is out of range"),
    ({"Subnet": "10.214.0.0/24", "Gateway": "10.214.0.0"},
     r"failed to allocate gateway \(10.214.0.0\): Address already in use"),
    ({"Subnet": "10.214.0.0/24", "Gateway": "10.214.0.255"},
     r"failed to allocate gateway \(10.214.0.255\): Address already in use"),
    ({"Subnet": "10.214.0.0/24", "Gateway": "bad"}, "invalid gateway address bad in Ipam configuration"),
    ({"Subnet": "10.214.0.0/24", "IPRange": "10.214.1.0/28"}, "invalid ip-range"),
    ({"Subnet": "10.214.0.0/24", "IPRange": "10.214.0.0/33"},
     'failed to parse pool request for address space "LocalDefault" pool "10.214.0.0/24" subpool '
     '"10.214.0.0/33": Invalid Address SubPool'),
    ({"Gateway": "10.214.0.1"}, "^Invalid subnet  : invalid CIDR address: $"),
    ({"Subnet": "10.214.0.0/24", "AuxiliaryAddresses": {"a": "bad"}},
     r"non parsable secondary ip address \(a:bad\) passed for network bad"),
    ({"Subnet": "10.214.0.0/24", "AuxiliaryAddresses": {"a": "10.214.0.1"}},
     r"failed to allocate secondary ip address \(a:10.214.0.1\): Address already in use"),
    ({"Subnet": "10.214.0.0/24", "AuxiliaryAddresses": {"a": "10.214.0.0"}},
     r"failed to allocate secondary ip address \(a:10.214.0.0\): Address already in use"),
    ({"Subnet": "10.214.0.0/24", "AuxiliaryAddresses": {"a": "10.214.0.9", "b": "10.214.0.9"}},
     r"failed to allocate secondary ip address \(b:10.214.0.9\): Address already in use"),
])
def test_bad_ipam_config(env, conf, message):
    with pytest.raises(InvalidParameter, match=message):
        env.svc.create({"Name": "bad", "IPAM": {"Config": [conf]}})
    assert env.svc.list({"name": ["bad"]}) == []


@pytest.mark.parametrize("body, error, message", [
    ({"IPAM": {"Config": [{"Subnet": "10.214.0.0/24", "AuxiliaryAddresses": {"a": "10.215.0.5"}}]}}, Forbidden,
     r"^auxiliary address: \(a:10.215.0.5\) must belong to the master pool: 10.214.0.0/24$"),
    ({"IPAM": {"Config": [{"Subnet": "10.214.0.0/24"}, {"Subnet": "10.214.1.0/24"}]}}, Forbidden,
     "^bridge driver doesn't support multiple subnets$"),
    ({"IPAM": {"Config": [{"Subnet": "fd00:214::/64"}, {"Subnet": "fd00:215::/64"}]}, "EnableIPv6": True}, Forbidden,
     "^bridge driver doesn't support multiple subnets$"),
    ({"EnableIPv6": True}, NotFound,
     "^could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network$"),
    ({"EnableIPv6": True, "IPAM": {"Config": [{"Subnet": "fd00:214::/64", "Gateway": "fd00:215::1"}]}},
     InvalidParameter, r"^failed to allocate gateway \(fd00:215::1\): Requested address is out of range$"),
    ({"Options": {"com.docker.network.bridge.enable_icc": "maybe"}}, InvalidParameter,
     r'^failed to parse com.docker.network.bridge.enable_icc value: maybe \(strconv.ParseBool: parsing "maybe": '
     r'invalid syntax\)$'),
    ({"Options": {"com.docker.network.driver.mtu": "abc"}}, InvalidParameter,
     r'^failed to parse com.docker.network.driver.mtu value: abc \(strconv.Atoi: parsing "abc": invalid syntax\)$'),
    ({"Options": {"com.docker.network.bridge.host_binding_ipv4": "nonsense"}}, InvalidParameter,
     r"^failed to parse com.docker.network.bridge.host_binding_ipv4 value: nonsense \(nil ip\)$"),
    ({"Options": {"com.docker.network.bridge.name": "this-is-much-too-long"}}, InvalidParameter,
     "^failed to check bridge interface existence: numerical result out of range$"),
])
def test_refused_as_dockerd_refuses(env, body, error, message):
    with pytest.raises(error, match=message):
        env.svc.create({"Name": "bad", **body})
    assert env.svc.list({"name": ["bad"]}) == []


def test_dual_stack_aux_addresses_and_unknown_options(env):
    aux = {"AuxiliaryAddresses": {"r": "10.214.9.2", "s": "10.214.9.3"}}
    nid = env.svc.create({"Name": "ds", "EnableIPv6": True, "CheckDuplicate": False,
                          "Options": {"com.docker.network.bridge.whatever": "x", "other": "y"},
                          "IPAM": {"Config": [{"Subnet": "10.214.9.0/24", **aux},
                                              {"Subnet": "fd00:214:9::/64", "AuxiliaryAddresses": {"t": "fd00:214:9::2"}}]}})["Id"]
    view = env.svc.inspect(nid)
    assert view["EnableIPv6"] is True
    assert view["IPAM"]["Config"] == [{"Subnet": "10.214.9.0/24", **aux},
                                      {"Subnet": "fd00:214:9::/64", "AuxiliaryAddresses": {"t": "fd00:214:9::2"}}]
    assert view["Options"] == {"com.docker.network.bridge.whatever": "x", "other": "y"}  # unknown: kept, unused
    spec = env.networks.spec(env.networks.get("ds"))
    assert (spec.subnet6, spec.gateway6) == ("fd00:214:9::/64", "fd00:214:9::1")
    with pytest.raises(Forbidden, match="^Pool overlaps with other one on this address space$"):
        env.svc.create({"Name": "ds2", "EnableIPv6": True, "IPAM": {"Config": [{"Subnet": "fd00:214:9::/80"}]}})
    # CheckDuplicate false or absent: still refused (barge keeps names unique, see Networks.create)
    for check in (True, False, None):
        with pytest.raises(Conflict, match="^network with name ds already exists$"):
            env.svc.create({"Name": "ds", "CheckDuplicate": check})
    # a v6 subnet without EnableIPv6: recorded as dockerd records it, but no endpoint gets an IPv6 address
    nid = env.svc.create({"Name": "v6off", "IPAM": {"Config": [{"Subnet": "fd00:214:a::/64"}]}})["Id"]
    view = env.svc.inspect(nid)
    assert view["EnableIPv6"] is False and view["IPAM"]["Config"][1] == {"Subnet": "fd00:214:a::/64"}
    assert env.networks.spec(env.networks.get("v6off")).subnet6 == ""


def test_setup_allocates_joins_publishes_and_teardown_releases(env):
    env.svc.create({"Name": "u", "IPAM": {"Config": [{"Subnet": "10.214.7.0/24", "IPRange": "10.214.7.16/28"}]}})
    c = env.containers.add("web", mode="u", exposed={"80/tcp": {}},
                           bindings={"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]})
    c.network_config = env.endpoints.check_create(c.name, c.config, c.host_config, c.network_config)
    sb = env.endpoints.setup(c)
    assert sb.address == "10.214.7.17" and sb.embedded_dns and netns.is_netns(sb.path)
    ep = env.store.endpoints(container_id=c.id)[0]
    assert ep.mac == "02:42:0a:d6:07:11" and ep.gateway == "10.214.7.1"
    port = ep.ports[0].host_port
    with pytest.raises(OSError):  # held by the daemon while the container runs
        socket.create_server(("127.0.0.1", port)).close()
    assert env.resolver.lookup(c.id, "web") == ["10.214.7.17"]
    assert env.resolver.lookup(c.id, "web.u") == ["10.214.7.17"]
    assert env.resolver.lookup(c.id, "nosuch") is None
    view = env.endpoints.container_view(c)
    assert view["Ports"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
    assert view["Networks"]["u"]["IPAddress"] == "10.214.7.17"
    with pytest.raises(Forbidden, match="active endpoints"):
        env.svc.remove("u")
    env.endpoints.teardown(c.id)
    assert env.store.endpoints(container_id=c.id) == [] and not os.path.exists(sb.path)
    socket.create_server(("127.0.0.1", port)).close()  # free again
    env.svc.remove("u")
    assert ("delete", "u") in env.fake.calls


def test_dual_stack_endpoints_skip_aux_addresses(env):
    env.svc.create({"Name": "d6", "EnableIPv6": True, "IPAM": {"Config": [
        {"Subnet": "10.214.10.0/24", "AuxiliaryAddresses": {"a": "10.214.10.2", "b": "10.214.10.3"}},
        {"Subnet": "fd00:214:10::/64", "AuxiliaryAddresses": {"c": "fd00:214:10::2"}}]}})
    c = env.containers.add("x", mode="d6")
    cfg = {"d6": {"IPAMConfig": {"LinkLocalIPs": ["169.254.9.9", "fe80::99"]}}}
    c.network_config = env.endpoints.check_create(c.name, c.config, c.host_config, {"EndpointsConfig": cfg})
    env.endpoints.setup(c)
    e = env.store.endpoints(container_id=c.id)[0]
    assert (e.address, e.address6, e.prefixlen6, e.gateway6) == ("10.214.10.4", "fd00:214:10::3", 64,
                                                                 "fd00:214:10::1")
    assert e.spec().link_local == ("169.254.9.9", "fe80::99")
    view = env.endpoints.container_view(c)["Networks"]["d6"]
    assert (view["GlobalIPv6Address"], view["GlobalIPv6PrefixLen"], view["IPv6Gateway"]) == (
        "fd00:214:10::3", 64, "fd00:214:10::1")
    assert env.svc.inspect("d6")["Containers"][c.id]["IPv6Address"] == "fd00:214:10::3/64"
    env.svc.create({"Name": "v4only", "IPAM": {"Config": [{"Subnet": "10.214.11.0/24"}]}})
    for net, ipam_cfg, message in [
        ("d6", {"IPv6Address": "zz"}, "^invalid IPv6 address: zz$"),
        ("d6", {"IPv6Address": "fd00:214:11::5"},
         "^Invalid address fd00:214:11::5: It does not belong to any of this network's subnets$"),
        ("v4only", {"IPv6Address": "fd00:214:11::5"}, "^user specified IP address is supported only when "
                                                        "connecting to networks with user configured subnets$"),
        ("d6", {"LinkLocalIPs": ["zz"]}, r"^Invalid link-local IP address: \[zz\]$"),
        ("d6", {"LinkLocalIPs": ["10.1.1.1"]}, "^invalid link local IP address: 10.1.1.1$"),
    ]:
        b = env.containers.add("bad", mode=net)
        with pytest.raises(InvalidParameter, match=message):
            env.endpoints.check_create(b.name, b.config, b.host_config, {"EndpointsConfig": {net: {"IPAMConfig": ipam_cfg}}})
    b = env.containers.add("b", mode="d6")
    wanted = {"d6": {"IPAMConfig": {"IPv6Address": "fd00:214:10::2"}}}  # an aux address: never handed out
    b.network_config = env.endpoints.check_create(b.name, b.config, b.host_config, {"EndpointsConfig": wanted})
    with pytest.raises(Conflict, match="Address already in use"):
        env.endpoints.setup(b)
    env.endpoints.teardown(c.id)


def test_static_ip_conflicts_and_validation(env):
    env.svc.create({"Name": "s", "IPAM": {"Config": [{"Subnet": "10.214.8.0/24"}]}})
    ok = {"s": {"IPAMConfig": {"IPv4Address": "10.214.8.50"}, "Aliases": ["db"]}}
    a = env.containers.add("a", mode="s")
    a.network_config = env.endpoints.check_create(a.name, a.config, a.host_config, {"EndpointsConfig": ok})
    env.endpoints.setup(a)
    b = env.containers.add("b", mode="s")
    b.network_config = env.endpoints.check_create(b.name, b.config, b.host_config, {"EndpointsConfig": ok})
    with pytest.raises(Conflict, match="Address already in use"):
        env.endpoints.setup(b)
    assert env.store.endpoints(container_id=b.id) == []
    assert not os.path.exists(env.endpoints.sandbox_path(b.id))
    assert env.resolver.lookup(a.id, "db") == ["10.214.8.50"]
    with pytest.raises(InvalidParameter, match="does not belong"):
        env.endpoints.check_create("/x", {}, {"NetworkMode": "s"},
                             {"EndpointsConfig": {"s": {"IPAMConfig": {"IPv4Address": "10.9.9.9"}}}})
    with pytest.raises(InvalidParameter, match="user defined networks only"):
        env.endpoints.check_create("/x", {}, {"NetworkMode": "bridge"},
                             {"EndpointsConfig": {"bridge": {"IPAMConfig": {"IPv4Address": "10.213.0.9"}}}})
    with pytest.raises(InvalidParameter, match="not a DNS label"):
        env.endpoints.check_create("/" + "x" * 64, {}, {"NetworkMode": "s"}, {})
    with pytest.raises(InvalidParameter, match="invalid network alias"):
        env.endpoints.check_create("/x", {}, {"NetworkMode": "s"}, {"EndpointsConfig": {"s": {"Aliases": ["-bad"]}}})
    # dockerd looks the network up at start: the create stands, naming it
    assert env.endpoints.check_create("/x", {}, {"NetworkMode": "nosuch"}, {}) == {"EndpointsConfig": {"nosuch": {}}}
    env.endpoints.teardown(a.id)


def test_recover_drops_endpoints_of_stopped_containers_and_rebuilds(env):
    c = env.containers.add("r")
    c.network_config = env.endpoints.check_create(c.name, c.config, c.host_config, c.network_config)
    sb = env.endpoints.setup(c)
    env.store.insert(type(env.networks.get("bridge"))(id="f" * 64, name="half", driver="bridge",
                                                    interface="btx", subnet="10.214.9.0/24",
                                                    gateway="10.214.9.1", created="x", state="creating"))
    env.fake.calls.clear()
    env.endpoints.recover(set())  # the container is not running any more
    assert env.store.endpoints() == [] and not os.path.exists(sb.path)
    assert ("delete", "half") in env.fake.calls and env.svc.list({"name": ["half"]}) == []
    assert ("restore", ["bridge"], 0) in env.fake.calls


def test_connect_and_disconnect(env):
    env.svc.create({"Name": "n2", "IPAM": {"Config": [{"Subnet": "10.214.10.0/24"}]}})
    c = env.containers.add("cc", running=True)
    c.network_config = env.endpoints.check_create(c.name, c.config, c.host_config, c.network_config)
    env.endpoints.setup(c)
    env.svc.connect("n2", {"Container": "cc", "EndpointConfig": {"Aliases": ["alt"]}})
    eps = {e.ifname: e for e in env.store.endpoints(container_id=c.id)}
    assert set(eps) == {"eth0", "eth1"} and eps["eth1"].gateway == ""  # the first network keeps the route
    assert list(c.network_config["EndpointsConfig"]) == ["bridge", "n2"]
    with pytest.raises(Forbidden, match="already exists"):
        env.svc.connect("n2", {"Container": "cc"})
    env.svc.disconnect("n2", {"Container": "cc"})
    assert [e.ifname for e in env.store.endpoints(container_id=c.id)] == ["eth0"]
    assert ("leave", "n2", eps["eth1"].address, env.endpoints.sandbox_path(c.id)) in env.fake.calls
    with pytest.raises(Conflict, match="not connected"):  # dockerd 20.10: a 500
        env.svc.disconnect("n2", {"Container": "cc"})
    for verb in (env.svc.connect, env.svc.disconnect):  # moby's words for no container
        with pytest.raises(InvalidParameter, match='^invalid name or ID supplied: ""$'):
            verb("n2", {"Container": ""})
    env.endpoints.teardown(c.id)


def test_prune_keeps_networks_in_use(env):
    env.svc.create({"Name": "used", "IPAM": {"Config": [{"Subnet": "10.214.11.0/24"}]}})
    env.svc.create({"Name": "idle", "Labels": {"k": "v"}})
    c = env.containers.add("p", mode="used")
    c.network_config = env.endpoints.check_create(c.name, c.config, c.host_config, c.network_config)
    assert env.svc.prune({})["NetworksDeleted"] == ["idle"]
    assert env.svc.prune({})["NetworksDeleted"] is None  # nothing deleted: null, as dockerd
    assert {n["Name"] for n in env.svc.list({})} == {"bridge", "host", "none", "used"}


def test_ports_parsing():
    b = ports.requested({"80/tcp": [{"HostIp": "", "HostPort": "8000-8010"}, {"HostIp": "[::1]"}]},
                        {"53/udp": {}}, True)
    assert [(x.container_port, x.proto, x.host_ip, x.host_first, x.host_last) for x in b] == [  # "": host_binding_ipv4
        (80, "tcp", "", 8000, 8010), (80, "tcp", "::1", 0, 0), (53, "udp", "", 0, 0)]
    for bad, msg in (({"abc": []}, "invalid port specification"), ({"80/xyz": []}, "invalid proto"),
                     ({"80": [{"HostPort": "99999"}]}, "invalid hostPort"),
                     ({"80/sctp": [{"HostIp": "::1"}]}, "publishing sctp on the IPv6 host address ::1 is not supported"),
                     ({"80": [{"HostIp": "1.2.3", "HostPort": "1"}]}, "invalid IP address")):
        with pytest.raises(InvalidParameter, match=msg):
            ports.check(bad, None)


def test_port_reservations_conflict():
    r = ports.PortReservations()
    try:
        port = r.reserve("tcp", "127.0.0.1", 0, 0)
        with pytest.raises(Conflict, match="port is already allocated"):
            r.reserve("tcp", "0.0.0.0", port, port)
        assert r.reserve("udp", "127.0.0.1", port, port) == port  # another protocol
        r.release("tcp", "127.0.0.1", port)
        assert r.reserve("tcp", "0.0.0.0", port, port) == port
    finally:
        r.close()


def test_ipam_helpers():
    assert ipam.allocate("10.0.0.0/30", "", "10.0.0.1", set()) == "10.0.0.2"
    with pytest.raises(Conflict, match="no available"):
        ipam.allocate("10.0.0.0/30", "", "10.0.0.1", {"10.0.0.2"})
    assert ipam.mac_for("172.17.0.2") == "02:42:ac:11:00:02"
    assert dns_name_problem("web.internal") == "" and dns_name_problem("a" * 64)


def test_container_wide_mac_address_goes_to_the_main_network(env):
    env.svc.create({"Name": "m", "IPAM": {"Config": [{"Subnet": "10.214.12.0/24"}]}})
    out = env.endpoints.check_create("/m1", {"MacAddress": "02:42:ac:11:99:05"}, {"NetworkMode": "m"}, {})
    assert out["EndpointsConfig"]["m"]["MacAddress"] == "02:42:ac:11:99:05"
    with pytest.raises(InvalidParameter, match="must match"):
        env.endpoints.check_create("/m2", {"MacAddress": "02:42:ac:11:99:05"}, {"NetworkMode": "m"},
                             {"EndpointsConfig": {"m": {"MacAddress": "02:42:ac:11:99:06"}}})
    assert env.endpoints.host_gateway() == "10.213.0.1"  # the default bridge's, whatever network asks


@pytest.mark.parametrize("env", ["dns"], indirect=True)
def test_the_dns_server_built_on_the_resolver_answers_in_the_sandbox(env):
    env.svc.create({"Name": "d", "IPAM": {"Config": [{"Subnet": "10.214.13.0/24"}]}})
    sandboxes = {}
    for name in ("alpha", "beta"):
        c = env.containers.add(name, mode="d", running=True)
        c.network_config = env.endpoints.check_create(c.name, c.config, c.host_config, c.network_config)
        sandboxes[name] = (c, env.endpoints.setup(c))
    (alpha, a), (beta, b) = sandboxes["alpha"], sandboxes["beta"]
    assert parse(ask_udp(a.path, query("beta.d")))["answers"] == [("beta.d", A, 600, b.address)]
    env.endpoints.renamed(beta.id, beta.name, "/gamma")
    assert parse(ask_udp(a.path, query("gamma")))["answers"] == [("gamma", A, 600, b.address)]
    assert env.resolver.reverse(alpha.id, b.address) == "gamma.d"
    for c, _ in sandboxes.values():
        env.endpoints.teardown(c.id)


def test_ipv6_ports_are_proxied_until_released():
    upstream = socket.create_server(("127.0.0.1", 0))
    target = upstream.getsockname()

    def echo() -> None:
        conn, _ = upstream.accept()
        with conn:
            conn.sendall(conn.recv(100).upper())

    threading.Thread(target=echo, daemon=True).start()
    r = ports.PortReservations()
    try:
        port = r.reserve("tcp", "::1", 0, 0)
        with pytest.raises(Conflict, match="port is already allocated"):
            r.reserve("tcp", "::", port, port)
        assert r.reserve("tcp", "127.0.0.1", port, port) == port  # IPv4's own binding: no clash
        r.proxy("tcp", "::1", port, target)
        with socket.create_connection(("::1", port), timeout=5) as c:
            c.sendall(b"hello")
            assert c.recv(100) == b"HELLO"
        r.release("tcp", "::1", port)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("::1", port), timeout=5).close()
    finally:
        r.close()
        upstream.close()


def test_host_binding_ipv4_is_the_default_host_ip(env):
    env.svc.create({"Name": "hb", "Options": {"com.docker.network.bridge.host_binding_ipv4": "127.0.0.1"}})
    c = env.containers.add("web", mode="hb", exposed={"80/tcp": {}},
                           bindings={"80/tcp": [{"HostIp": "", "HostPort": ""}]})
    c.network_config = env.endpoints.check_create(c.name, c.config, c.host_config, c.network_config)
    env.endpoints.setup(c)
    try:
        assert [p.host_ip for p in env.store.endpoints(container_id=c.id)[0].ports] == ["127.0.0.1"]
    finally:
        env.endpoints.teardown(c.id)


def test_udp_on_ipv6_is_relayed_per_client_until_released():
    upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    upstream.bind(("127.0.0.1", 0))
    upstream.settimeout(5)
    r = ports.PortReservations()
    try:
        port = r.reserve("udp", "::1", 0, 0)
        r.proxy("udp", "::1", port, upstream.getsockname())
        clients = [socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) for _ in range(2)]
        for i, c in enumerate(clients):
            c.settimeout(5)
            c.sendto(b"ping%d" % i, ("::1", port))
            data, relay = upstream.recvfrom(100)
            assert data == b"ping%d" % i
            upstream.sendto(data.upper(), relay)  # the answer goes back to that client only
            assert c.recvfrom(100)[0] == b"PING%d" % i
        r.release("udp", "::1", port)
        clients[0].sendto(b"late", ("::1", port))
        upstream.settimeout(0.5)
        with pytest.raises(OSError):
            upstream.recvfrom(100)
        for c in clients:
            c.close()
    finally:
        r.close()
        upstream.close()


def test_recover_drops_an_endpoint_a_kill_left_unjoined(env):
    """connect records the endpoint before the driver joins it: a daemon killed in between leaves a row
    with no interface in the sandbox; recover forgets it (and tells the driver), and keeps a joined one."""
    from pyroute2 import IPRoute

    env.svc.create({"Name": "cut", "IPAM": {"Config": [{"Subnet": "10.214.12.0/24"}]}})
    env.svc.create({"Name": "whole", "IPAM": {"Config": [{"Subnet": "10.214.13.0/24"}]}})
    c = env.containers.add("k", running=True)
    c.network_config = env.endpoints.check_create(c.name, c.config, c.host_config, c.network_config)
    sb = env.endpoints.setup(c)
    env.svc.connect("whole", {"Container": c.id})
    env.svc.connect("cut", {"Container": c.id})
    ifnames = {e.network_id: e.ifname for e in env.store.endpoints(container_id=c.id)}

    def dummy(name):  # a veth pair with both ends in the sandbox (no dummy module here)
        with IPRoute() as ipr:
            ipr.link("add", ifname=name, kind="veth", peer=name + "p")

    # the fake driver makes no interface: give the bridge's and "whole"'s theirs, as a real join would
    for net in ("bridge", "whole"):
        netns.run_in(sb.path, lambda n=net: dummy(ifnames[env.networks.get(n).id]))
    env.fake.calls.clear()
    env.endpoints.recover({c.id})
    left = {env.store.get(e.network_id).name for e in env.store.endpoints(container_id=c.id)}
    assert left == {"bridge", "whole"}
    assert [call[:2] for call in env.fake.calls if call[0] == "leave"] == [("leave", "cut")]
    env.endpoints.teardown(c.id)
