"""Core network logic with a recording fake driver: IPAM, ports, records, recovery.

Sandboxes are real namespace files (cheap, root); no link, bridge or rule
is made on the host: the fake driver only records what it was asked.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
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
    with pytest.raises(Forbidden, match="overlaps with network a"):
        env.svc.create({"Name": "c", "IPAM": {"Config": [{"Subnet": "10.213.1.128/25"}]}})
    with pytest.raises(Conflict, match="already exists"):
        env.svc.create({"Name": "a"})
    with pytest.raises(Forbidden, match="pre-defined"):
        env.svc.create({"Name": "host"})
    assert [n["Name"] for n in env.svc.list({"type": ["custom"]})] == ["a", "b"]


def test_subnet_colliding_with_a_host_route_is_refused(env):
    route = next(net for net, dev in ipam.host_routes())
    with pytest.raises(Forbidden, match="host route"):
        env.svc.create({"Name": "clash", "IPAM": {"Config": [{"Subnet": str(route)}]}})
    assert env.svc.list({"name": ["clash"]}) == []


@pytest.mark.parametrize("conf, message", [
    ({"Subnet": "10.214.0.0/33"}, "invalid subnet"),
    ({"Subnet": "10.214.0.0/24", "Gateway": "10.215.0.1"}, "invalid gateway"),
    ({"Subnet": "10.214.0.0/24", "IPRange": "10.214.1.0/28"}, "invalid ip-range"),
    ({"Gateway": "10.214.0.1"}, "needs a subnet"),
])
def test_bad_ipam_config(env, conf, message):
    with pytest.raises(InvalidParameter, match=message):
        env.svc.create({"Name": "bad", "IPAM": {"Config": [conf]}})


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
    with pytest.raises(NotFound, match="network nosuch not found"):
        env.endpoints.check_create("/x", {}, {"NetworkMode": "nosuch"}, {})
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
    with pytest.raises(Forbidden, match="not connected"):
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
    assert {n["Name"] for n in env.svc.list({})} == {"bridge", "host", "none", "used"}


def test_ports_parsing():
    b = ports.requested({"80/tcp": [{"HostIp": "", "HostPort": "8000-8010"}]}, {"53/udp": {}}, True)
    assert [(x.container_port, x.proto, x.host_ip, x.host_first, x.host_last) for x in b] == [
        (80, "tcp", "0.0.0.0", 8000, 8010), (53, "udp", "0.0.0.0", 0, 0)]
    for bad, msg in (({"abc": []}, "invalid port specification"), ({"80/xyz": []}, "invalid proto"),
                     ({"80": [{"HostPort": "99999"}]}, "invalid hostPort"),
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
