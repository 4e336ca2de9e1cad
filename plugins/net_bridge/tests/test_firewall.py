"""Rendering barge's table: pure text, no kernel (except the libnftables parse test)."""

from __future__ import annotations

import pytest

from barge.errors import InvalidParameter
from barge.netdriver import NetworkSpec, PortMapping
from barge_net_bridge.firewall import Port, check_table_name, render

A = NetworkSpec("a" * 64, "a", "bga", "10.251.1.0/24", "10.251.1.1")
B = NetworkSpec("b" * 64, "b", "bgb", "10.251.2.0/24", "10.251.2.1", icc=False, masquerade=False)
I = NetworkSpec("c" * 64, "c", "bgc", "10.251.3.0/24", "10.251.3.1", internal=True)


def _port(net, **kw):
    m = dict(proto="tcp", host_ip="0.0.0.0", host_port=8080, container_ip="10.251.1.2", container_port=80)
    m.update(kw)
    return Port(net, PortMapping(**m))


def test_same_model_same_table_whatever_the_order():
    ports = [_port(A), _port(A, proto="udp", host_ip="127.0.0.1", host_port=53, container_port=53)]
    assert render("t", [A, B, I], ports) == render("t", [I, B, A], list(reversed(ports)))


def test_rules():
    text = render("t", [A, B, I], [_port(A), _port(A, host_ip="127.0.0.1", host_port=9090)])
    # the inet table replaces itself and the ip table of earlier barges in one transaction
    assert text.startswith("add table ip t\ndelete table ip t\nadd table inet t\ndelete table inet t\n"
                           "table inet t {")
    assert "\t\tmeta nfproto ipv4 tcp dport 8080 dnat ip to 10.251.1.2:80\n" in text
    assert "\t\tip daddr 127.0.0.1 tcp dport 9090 dnat ip to 10.251.1.2:80\n" in text
    assert 'oifname != "bga" ip saddr 10.251.1.0/24 masquerade' in text
    assert 'oifname != "bgb"' not in text  # masquerade off
    assert 'iifname "bgb" oifname "bgb" drop' in text  # icc off
    assert 'iifname "bga" oifname "bga" accept' in text
    assert 'iifname "bgc" oifname != "bgc" drop' in text and 'oifname "bgc" iifname != "bgc" drop' in text
    assert 'iifname { "bga", "bgb", "bgc" } oifname { "bga", "bgb", "bgc" } drop' in text
    assert "10.251.3.0/24" not in text  # internal: no nat at all


def test_ports_on_internal_or_unknown_networks_are_not_rendered():
    gone = NetworkSpec("d" * 64, "d", "bgd", "10.251.4.0/24", "10.251.4.1")
    text = render("t", [A, I], [_port(I, container_ip="10.251.3.2"), _port(gone, container_ip="10.251.4.2")])
    assert "dnat ip to" not in text


@pytest.mark.parametrize("kw", [dict(proto="icmp"), dict(host_ip="::"), dict(host_port=0),
                                dict(container_port=70000), dict(container_ip="10.251.1.2; flush ruleset")])
def test_bad_ports_are_refused(kw):
    with pytest.raises(InvalidParameter):
        render("t", [A], [_port(A, **kw)])


def test_bad_names_are_refused():
    for name in ("", "1abc", "a-b", "t; flush ruleset", "x" * 65):
        with pytest.raises(InvalidParameter):
            check_table_name(name)
    evil = NetworkSpec("e" * 64, "e", 'br" accept', "10.251.5.0/24", "10.251.5.1")
    with pytest.raises(InvalidParameter):
        render("t", [evil], [])


def test_nft_errors_carry_nfts_message():
    from barge_net_bridge.errors import FirewallError
    from barge_net_bridge.nft import Nft

    try:
        nft = Nft()
    except FirewallError as exc:
        pytest.skip(str(exc))
    with pytest.raises(FirewallError, match="syntax error"):
        nft.run("this is not nft\n")
    nft.close()
