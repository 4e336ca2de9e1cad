"""Pure parts of ``barge network``, ``barge port`` and the run/create network
flags: request bodies, rows, tables and refusals, as docker CLI 28 computes
them. No daemon: flag errors are refused before any connection."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from barge.cli import networks, port
from barge.cli.main import app
from barge.client import formatter
from barge.client.runconfig import ContainerOptions, OptionError, build_create_body

NET_ID = "4f1c9b2e7a3d" + "0" * 52
NETS = [
    {"Name": "n10", "Id": "b" * 64, "Created": "2024-05-01T10:00:00.123456789Z", "Scope": "local", "Driver": "bridge",
     "EnableIPv4": True, "EnableIPv6": False, "Internal": True, "Labels": {"z": "1", "a": "2"}},
    {"Name": "n2", "Id": NET_ID, "Created": "2024-05-01T10:00:00Z", "Scope": "local", "Driver": "bridge",
     "EnableIPv4": True, "EnableIPv6": False, "Internal": False, "Labels": {}},
    {"Name": "bridge", "Id": "c" * 64, "Created": "2024-05-01T10:00:00.5Z", "Scope": "local", "Driver": "bridge",
     "Labels": None},
]
runner = CliRunner()


# ---------------------------------------------------------------- create

def test_create_body_has_docker_shape():
    body = networks.create_body("front", labels={"a": "b"}, opts={"com.docker.network.bridge.name": "bt0"},
                                internal=True, subnets=["10.55.0.0/24"], ip_ranges=["10.55.0.128/25"],
                                gateways=["10.55.0.1"])
    assert body == {
        "Name": "front", "Driver": "bridge", "Scope": "",
        "IPAM": {"Driver": "default", "Options": {},
                 "Config": [{"Subnet": "10.55.0.0/24", "IPRange": "10.55.0.128/25", "Gateway": "10.55.0.1"}]},
        "Internal": True, "Attachable": False, "Ingress": False, "ConfigOnly": False,
        "Options": {"com.docker.network.bridge.name": "bt0"}, "Labels": {"a": "b"},
    }
    assert "EnableIPv4" not in body and "EnableIPv6" not in body  # sent only when the flag was given


def test_create_body_plain_and_ipv_flags():
    body = networks.create_body("n", ipv6=False, ipv4=True)
    assert body["IPAM"]["Config"] == [] and body["EnableIPv6"] is False and body["EnableIPv4"] is True
    assert networks.create_body("n", ipv6=True)["EnableIPv6"] is True  # the daemon wants a --subnet for it


def test_ip_range_is_masked_as_pflag_parses_it():
    config = networks.ipam_config(["172.30.0.0/16"], ["172.30.5.7/24"], [])
    assert config == [{"Subnet": "172.30.0.0/16", "IPRange": "172.30.5.0/24"}]


def test_ranges_and_gateways_land_on_their_subnet():
    config = networks.ipam_config(["10.1.0.0/24", "10.2.0.0/24"], ["10.2.0.0/25"], ["10.2.0.1", "10.1.0.254"],
                                  {"router": "10.1.0.2"})
    assert config == [
        {"Subnet": "10.1.0.0/24", "Gateway": "10.1.0.254", "AuxiliaryAddresses": {"router": "10.1.0.2"}},
        {"Subnet": "10.2.0.0/24", "IPRange": "10.2.0.0/25", "Gateway": "10.2.0.1"},
    ]


@pytest.mark.parametrize("subnets, ranges, gateways, message, code", [
    ([], [], ["10.0.0.1"], "every ip-range or gateway must have a corresponding subnet", 1),
    (["10.0.0.0/24"], [], ["10.9.0.1"], "no matching subnet for gateway 10.9.0.1", 1),
    (["10.0.0.0/24"], ["10.9.0.0/25"], [], "no matching subnet for range 10.9.0.0/25", 1),
    (["10.0.0.0/16", "10.0.1.0/24"], [], [], "multiple overlapping subnet configuration is not supported", 1),
    (["10.0.0.0/24", "10.1.0.0/24"], [], ["10.0.0.1", "10.0.0.2"], "cannot configure multiple gateways (10.0.0.2, 10.0.0.1) for the same subnet (10.0.0.0/24)", 1),
    (["nonsense"], [], [], "invalid subnet: invalid CIDR address: nonsense", 1),
    (["10.0.0.0/24"], [], ["10.0.0"], 'invalid argument "10.0.0" for "--gateway" flag: invalid string being converted to IP address: 10.0.0', 125),
    (["10.0.0.0/24"], ["x/24"], [], 'invalid argument "x/24" for "--ip-range" flag: invalid CIDR address: x/24', 125),
])
def test_ipam_refusals(subnets, ranges, gateways, message, code):
    with pytest.raises(networks.NetworkFlagError) as info:
        networks.ipam_config(subnets, ranges, gateways)
    assert str(info.value) == message and info.value.code == code


def test_pairs_and_slices():
    assert networks.pairs(["a=b", "c", "d=e=f"], "--label", labels=True) == {"a": "b", "c": "", "d": "e=f"}
    with pytest.raises(networks.NetworkFlagError, match="empty name"):
        networks.pairs(["=x"], "--label", labels=True)
    assert networks.split_list(["a,b", "c"]) == ["a", "b", "c"]


# ---------------------------------------------------------------- connect

def test_endpoint_config_for_connect():
    ep = networks.endpoint_config("10.5.0.9", ["web,www", "api"], ["com.example=1"])
    assert ep == {"IPAMConfig": {"IPv4Address": "10.5.0.9"}, "Links": None, "Aliases": ["web", "www", "api"],
                  "DriverOpts": {"com.example": "1"}, "MacAddress": ""}
    assert networks.endpoint_config()["IPAMConfig"] == {} and networks.endpoint_config()["Aliases"] == []
    with pytest.raises(networks.NetworkFlagError, match="invalid key/value pair format in driver options"):
        networks.endpoint_config(driver_opts=["novalue"])
    assert networks.endpoint_config(links=["other:alias"])["Links"] == ["other:alias"]
    with pytest.raises(networks.NetworkFlagError, match='invalid argument "a:b:c" for "--link" flag: bad format'):
        networks.endpoint_config(links=["a:b:c"])


# ---------------------------------------------------------------- ls

def test_ls_table_sorted_naturally_and_truncated():
    text = networks.render_list(NETS)
    lines = text.splitlines()
    assert lines[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    assert [line.split()[1] for line in lines[1:]] == ["bridge", "n2", "n10"]
    assert lines[2].split()[0] == "4f1c9b2e7a3d"
    assert lines[1].index("bridge") == lines[0].index("NAME")


def test_ls_quiet_no_trunc_and_formats():
    assert networks.render_list(NETS, quiet=True) == f"{'c' * 12}\n4f1c9b2e7a3d\n{'b' * 12}\n"
    assert networks.render_list(NETS, quiet=True, trunc=False).splitlines()[1] == NET_ID
    assert networks.render_list(NETS, "{{.Name}} {{.Internal}} {{.IPv4}} {{.IPv6}}") == (
        "bridge false true false\nn2 false true false\nn10 true true false\n")
    assert networks.render_list(NETS[:1], "{{.Labels}}|{{.Label \"z\"}}") == "a=2,z=1|1\n"
    row = json.loads(networks.render_list(NETS[:1], "json"))
    assert sorted(row) == ["CreatedAt", "Driver", "ID", "IPv4", "IPv6", "Internal", "Labels", "Name", "Scope"]
    header = networks.render_list(NETS[:1], "table {{.ID}}\t{{.CreatedAt}}").splitlines()[0]
    assert header.split() == ["NETWORK", "ID", "CREATED", "AT"]
    with pytest.raises(formatter.FormatError, match="can't evaluate field Nope in type"):
        networks.render_list(NETS, "{{.Nope}}")


@pytest.mark.parametrize("created, expected", [
    ("2024-05-01T10:00:00.123456789Z", "2024-05-01 10:00:00.123456789 +0000 UTC"),
    ("2024-05-01T10:00:00.500Z", "2024-05-01 10:00:00.5 +0000 UTC"),
    ("2024-05-01T10:00:00Z", "2024-05-01 10:00:00 +0000 UTC"),
    ("2024-05-01T12:00:00+02:00", "2024-05-01 12:00:00 +0200 +0200"),
])
def test_created_at_is_go_time_string(created, expected):
    assert networks.go_time(created) == expected


def test_prune_output():
    assert networks.prune_output({"NetworksDeleted": ["a", "b"]}) == "Deleted Networks:\na\nb\n\n"
    assert networks.prune_output({"NetworksDeleted": None}) == ""


# ---------------------------------------------------------------- port

PORTS = {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}],
         "9/udp": [{"HostIp": "127.0.0.1", "HostPort": "49153"}], "443/tcp": None}


def test_port_lines_all_and_one():
    assert port.port_lines(PORTS, "web") == [  # natural order: 9 before 80
        "9/udp -> 127.0.0.1:49153", "80/tcp -> 0.0.0.0:8080", "80/tcp -> [::]:8080"]
    assert port.port_lines(PORTS, "web", "80") == ["0.0.0.0:8080", "[::]:8080"]
    assert port.port_lines(PORTS, "web", "9/udp") == ["127.0.0.1:49153"]
    assert port.port_lines(None, "web") == []


@pytest.mark.parametrize("private, message", [
    ("81", "Error: No public port '81' published for web"),  # the port as typed, as docker 28 prints it
    ("81/tcp", "Error: No public port '81/tcp' published for web"),
    ("443", "Error: No public port '443' published for web"),
    ("80/udp", "Error: No public port '80/udp' published for web"),
    ("abc", 'Error: invalid port (abc): strconv.ParseUint: parsing "abc": invalid syntax'),
])
def test_port_refusals(private, message):
    with pytest.raises(ValueError) as info:
        port.port_lines(PORTS, "web", private)
    assert str(info.value) == message


# ---------------------------------------------------------------- run/create flags

def _endpoints(**kw):
    return build_create_body(ContainerOptions(image="busybox", **kw), environ={})["NetworkingConfig"]["EndpointsConfig"]


def test_run_endpoint_settings_on_the_first_network():
    assert _endpoints(network=["front"], ip="10.9.0.5", network_alias=["web", "www"], mac_address="02:42:0a:09:00:05") == {
        "front": {"IPAMConfig": {"IPv4Address": "10.9.0.5"}, "Aliases": ["web", "www"], "MacAddress": "02:42:0a:09:00:05"}}
    assert _endpoints(network=["front", "back"], network_alias=["web"]) == {"front": {"Aliases": ["web"]}, "back": {}}
    assert _endpoints(network=["front"]) == {}  # one network without settings: left to the daemon
    assert _endpoints() == {"default": {}}
    assert _endpoints(mac_address="02:42:ac:11:00:09") == {"default": {"MacAddress": "02:42:ac:11:00:09"}}


@pytest.mark.parametrize("kw, message", [
    (dict(ip="10.0.0"), "invalid IPv4 address: 10.0.0"),
    (dict(ip="fd00::1", network=["n"]), "invalid IPv4 address: fd00::1"),
    (dict(mac_address="02:42:zz:00:00:01"), "02:42:zz:00:00:01 is not a valid mac address"),
    (dict(network_alias=["web"]), "network-scoped aliases are only supported for user-defined networks"),
    (dict(network_alias=["web"], network=["bridge"]), "network-scoped aliases are only supported for user-defined networks"),
    (dict(network=["bridge", "front"]), "conflicting options: cannot attach both user-defined and non-user-defined network-modes"),
    (dict(links=["a:b:c"]), 'invalid argument "a:b:c" for "--link" flag: bad format for links: a:b:c'),
])
def test_run_network_flag_refusals(kw, message):
    with pytest.raises(OptionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _endpoints(**kw)


# ---------------------------------------------------------------- the commands refuse before connecting

@pytest.mark.parametrize("args, code, line", [
    (["network", "create", "--gateway", "10.0.0.1", "n"], 1, "every ip-range or gateway must have a corresponding subnet"),
    (["network", "create", "--subnet", "10.0.0.0/24", "--gateway", "bad", "n"], 125,
     'invalid argument "bad" for "--gateway" flag: invalid string being converted to IP address: bad'),
    (["network", "connect", "--link", "a:b:c", "n", "c"], 125,
     'invalid argument "a:b:c" for "--link" flag: bad format for links: a:b:c'),
    (["network", "ls", "-f", "driver"], 1, "bad format of filter (expected name=value): driver"),
])
def test_commands_refuse_before_any_request(args, code, line):
    result = runner.invoke(app, ["-H", "unix:///nonexistent/barge.sock", *args])
    assert result.exit_code == code, result.output
    assert result.output.strip() == line


def test_run_link_and_bad_ip_exit_125():
    for args, text in ((["--link", "a:b:c"], 'invalid argument "a:b:c" for "--link" flag: bad format for links: a:b:c'),
                       (["--ip", "300.1.1.1"], "invalid IPv4 address: 300.1.1.1")):
        result = runner.invoke(app, ["-H", "unix:///nonexistent/barge.sock", "run", *args, "busybox"])
        assert result.exit_code == 125 and text in result.output.splitlines()[0]


def test_network_commands_are_registered():
    result = runner.invoke(app, ["network", "--help"])
    assert result.exit_code == 0
    for cmd in ("connect", "create", "disconnect", "inspect", "ls", "prune", "rm"):
        assert cmd in result.output
    assert runner.invoke(app, ["port", "--help"]).exit_code == 0
    assert runner.invoke(app, ["container", "port", "--help"]).exit_code == 0


def test_run_links_go_to_host_config_and_a_user_network_s_endpoint_as_docker_28():
    """As the docker CLI 28 sends them (recorded): HostConfig.Links always; the endpoint's Links on a
    user-defined network only."""
    assert _endpoints(links=["db:alias"]) == {"default": {}}
    assert _endpoints(links=["db:alias"], network=["front"])["front"]["Links"] == ["db:alias"]


def test_run_ip6_and_link_local_ips_fill_ipam_config_as_docker_28():
    from barge.client.runconfig import ContainerOptions, build_create_body

    body = build_create_body(ContainerOptions(image="busybox", network=["n"], ip6="fd00:1::5",
                                              link_local_ip=["169.254.1.1", "fe80::1"]), environ={})
    assert body["NetworkingConfig"]["EndpointsConfig"]["n"]["IPAMConfig"] == {
        "IPv6Address": "fd00:1::5", "LinkLocalIPs": ["169.254.1.1", "fe80::1"]}
    # left to the daemon, as docker 28 does ("invalid IPv6 address: bad" comes back from it)
    bad = build_create_body(ContainerOptions(image="busybox", network=["n"], ip6="bad"), environ={})
    assert bad["NetworkingConfig"]["EndpointsConfig"]["n"]["IPAMConfig"] == {"IPv6Address": "bad"}
