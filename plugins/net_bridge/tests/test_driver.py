"""The bridge driver against the real kernel: links in sandboxes, TCP between them, DNAT, isolation.

Every test gets a :class:`conftest.Lab` whose bridges, namespaces and table
are removed afterwards, even when the test fails. "Cannot reach" is always
paired with a control showing the same path works when barge's rule is not
in the way, so these tests can fail.
"""

from __future__ import annotations

import os
import time

import pytest

from barge.netdriver import Published
from barge.testing.wait import wait_for

IP_FORWARD = "/proc/sys/net/ipv4/ip_forward"


def _unreachable(lab, ip: str, port: int, sandbox) -> bool:
    try:
        lab.connect(ip, port, sandbox, timeout=0.7)
    except (TimeoutError, OSError):
        return True
    return False


def _link_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def _wait_gone(name: str, seconds: float = 5.0) -> bool:
    return wait_for(lambda: not _link_exists(name), seconds, interval=0.02, what=f"link {name} to be gone")


def test_join_configures_the_sandbox(lab):
    net = lab.network(mtu=1400)
    sb, ep = lab.attach(net)
    eth0 = sb.links()["eth0"]
    assert eth0["addresses"] == [f"{ep.address}/{ep.prefixlen}"]
    assert eth0["mac"] == ep.mac
    assert eth0["mtu"] == 1400
    assert eth0["up"]
    assert sb.default_gateway() == net.gateway
    veth = lab.driver.veth_name(ep)
    assert os.path.realpath(f"/sys/class/net/{veth}/master").endswith("/" + net.interface)
    assert open(f"/sys/class/net/{veth}/brport/hairpin_mode").read().strip() == "1"
    assert open(f"/proc/sys/net/ipv4/conf/{net.interface}/route_localnet").read().strip() == "1"


def test_leave_with_sandbox_removes_the_interface(lab):
    net = lab.network()
    sb, ep = lab.attach(net)
    lab.driver.leave(net, ep, sb.path)
    assert "eth0" not in sb.links()
    assert _wait_gone(lab.driver.veth_name(ep))


def test_two_sandboxes_talk_over_tcp(lab):
    net = lab.network()
    (a, ea), (b, eb) = lab.attach(net), lab.attach(net)
    lab.serve(a, ea.address)
    assert lab.connect(ea.address, 8000, b) == eb.address


def test_published_port_answers_on_loopback_and_gateway(lab):
    net = lab.network()
    sb, ep = lab.attach(net)
    lab.serve(sb, ep.address)
    m = lab.publish(net, ep)
    assert lab.connect("127.0.0.1", m.host_port) == net.gateway  # masqueraded onto the bridge
    assert lab.connect(net.gateway, m.host_port)
    lab.driver.unpublish(net, ep, [m])
    assert _unreachable(lab, "127.0.0.1", m.host_port, None)


def test_published_on_one_host_ip_only(lab):
    net = lab.network()
    sb, ep = lab.attach(net)
    lab.serve(sb, ep.address)
    m = lab.publish(net, ep, host_ip="127.0.0.1")
    assert lab.connect("127.0.0.1", m.host_port) == net.gateway
    assert _unreachable(lab, net.gateway, m.host_port, None)


def test_hairpin_through_the_host(lab):
    net = lab.network()
    (a, ea), (b, _) = lab.attach(net), lab.attach(net)
    lab.serve(a, ea.address)
    m = lab.publish(net, ea)
    # b -> gateway:host_port -> a, on the same bridge; a sees the gateway (masqueraded)
    assert lab.connect(net.gateway, m.host_port, b) == net.gateway
    # a reaches its own published port (hairpin mode on its bridge port)
    assert lab.connect(net.gateway, m.host_port, a) == net.gateway


def test_two_networks_are_isolated(lab):
    n1, n2 = lab.network(), lab.network()
    (a, _), (b, eb) = lab.attach(n1), lab.attach(n2)
    lab.serve(b, eb.address)
    assert open(IP_FORWARD).read().strip() == "1"
    assert _unreachable(lab, eb.address, 8000, a)
    # control: without barge's table, the host routes a -> b
    lab.driver.firewall.remove()
    assert lab.connect(eb.address, 8000, a)
    lab.driver.restore(lab.networks, [])
    assert _unreachable(lab, eb.address, 8000, a)


def test_published_port_reachable_from_another_network(lab):
    n1, n2 = lab.network(), lab.network()
    (a, _), (b, eb) = lab.attach(n1), lab.attach(n2)
    lab.serve(b, eb.address)
    m = lab.publish(n2, eb)
    assert lab.connect(n1.gateway, m.host_port, a) == n2.gateway


def test_internal_network_has_no_route_out(lab):
    inner, outer = lab.network(internal=True), lab.network()
    (a, ea), (b, eb) = lab.attach(inner), lab.attach(outer)
    assert ea.gateway == "" and a.default_gateway() is None
    lab.serve(b, eb.address)
    # give the sandbox a route anyway: the firewall must still stop it at the bridge
    _add_default_route(a, inner.gateway)
    assert _unreachable(lab, eb.address, 8000, a)
    lab.driver.firewall.remove()
    assert lab.connect(eb.address, 8000, a)  # control: it was barge's rule
    # within the internal network containers still talk
    lab.driver.restore(lab.networks, [])
    c, ec = lab.attach(inner)
    lab.serve(a, ea.address)
    assert lab.connect(ea.address, 8000, c) == ec.address


def _add_default_route(sb, gateway: str) -> None:
    from barge import netns

    def inside() -> None:
        from pyroute2 import IPRoute

        ipr = IPRoute()
        try:
            ipr.route("add", dst="0.0.0.0/0", gateway=gateway)
        finally:
            ipr.close()

    netns.run_in(sb.path, inside)


def test_icc_false_blocks_containers_on_one_bridge(lab):
    net = lab.network(icc=False)
    assert open("/proc/sys/net/bridge/bridge-nf-call-iptables").read().strip() == "1"
    (a, ea), (b, eb) = lab.attach(net), lab.attach(net)
    lab.serve(a, ea.address)
    assert _unreachable(lab, ea.address, 8000, b)
    assert lab.connect(ea.address, 8000)  # the host still reaches it
    lab.driver.firewall.remove()
    assert lab.connect(ea.address, 8000, b) == eb.address  # control


def test_restore_rebuilds_the_table_identically(lab):
    from barge_net_bridge.driver import BridgeDriver

    n1, n2, n3 = lab.network(), lab.network(icc=False), lab.network(internal=True)
    sb, ep = lab.attach(n1)
    m = lab.publish(n1, ep)
    before = lab.driver.firewall.listing()
    assert f"dnat ip to {ep.address}:8000" in before and n3.interface in before
    lab.driver.firewall.remove()
    fresh = BridgeDriver(lab.driver.home, lab.options)  # a restarted daemon's driver
    fresh.restore([n3, n1, n2], [Published(n1, ep, (m,))])
    assert fresh.firewall.listing() == before
    # restore also brings back a bridge deleted behind our back
    from barge_net_bridge import links

    links.delete_link(n2.interface)
    fresh.restore([n1, n2, n3], [Published(n1, ep, (m,))])
    assert _link_exists(n2.interface) and fresh.firewall.listing() == before


def test_delete_leaves_nothing(lab):
    net = lab.network()
    sb, ep = lab.attach(net)
    lab.publish(net, ep)
    other = lab.network()
    lab.driver.delete(net)
    assert not _link_exists(net.interface)
    listing = lab.driver.firewall.listing()
    assert net.interface not in listing and ep.address not in listing and other.interface in listing
    lab.driver.delete(other)
    assert lab.driver.firewall.listing() == ""
    assert not _link_exists(other.interface)
    lab.driver.delete(other)  # deleting twice is fine


def test_sandbox_destroyed_takes_the_veth(lab):
    net = lab.network()
    sb, ep = lab.attach(net)
    lab.driver.leave(net, ep, None)
    from barge import netns

    netns.remove(sb.path)
    assert _wait_gone(lab.driver.veth_name(ep))


def test_status_names_the_backend(lab):
    lab.network()
    status = dict(lab.driver.status())
    assert status["Firewall Backend"] == "nftables"
    assert status["Firewall Table"] == f"inet {lab.table}"
    assert status["IP Forwarding"].startswith("on")


def test_join_to_a_missing_bridge_leaves_nothing(lab):
    from barge_net_bridge.errors import LinkNotFound

    net = lab.network()
    lab.driver.delete(net)
    sb, ep = lab.sandbox(), lab.endpoint(net)
    with pytest.raises(LinkNotFound, match=net.interface):
        lab.driver.join(net, ep, sb.path)
    assert not _link_exists(lab.driver.veth_name(ep))
    assert "eth0" not in sb.links()


def test_join_with_a_taken_address_cleans_up(lab):
    from barge_net_bridge.errors import LinkExists

    net = lab.network()
    sb, ep = lab.attach(net)
    again = lab.endpoint(net)
    with pytest.raises(LinkExists):  # eth0 is taken in that sandbox
        lab.driver.join(net, again, sb.path)
    assert not _link_exists(lab.driver.veth_name(again))


def test_join_cost(lab):
    net = lab.network()
    costs = []
    for _ in range(5):
        sb, ep = lab.sandbox(), lab.endpoint(net)
        t = time.perf_counter()
        lab.driver.join(net, ep, sb.path)
        costs.append(time.perf_counter() - t)
    # well under 15 ms on an idle machine; generous here for a loaded 2-core box
    assert min(costs) < 0.05, costs
