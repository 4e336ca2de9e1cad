"""The pure parts of links, volumes-from and devices, against moby 20.10's own test expectations
(``daemon/links/links_test.go``, ``opts.ParseLink``, ``ParseVolumesFrom``, ``DevicesFromPath``)."""

from __future__ import annotations

import os

import pytest

from barge.containers import devices, links, volumes_from
from barge.errors import InvalidParameter


def test_link_env_of_a_port_range_as_moby_20_10():
    """TestLinkMultipleEnv as it stood in 20.10: the range's _ADDR and _PROTO come twice."""
    env = links.link_env("/db/docker", "172.0.17.2", ["PASSWORD=gordon"], {"6379/tcp": {}, "6380/tcp": {}, "6381/tcp": {}})
    assert sorted(env) == [
        "DOCKER_ENV_PASSWORD=gordon", "DOCKER_NAME=/db/docker", "DOCKER_PORT=tcp://172.0.17.2:6379",
        "DOCKER_PORT_6379_TCP=tcp://172.0.17.2:6379", "DOCKER_PORT_6379_TCP_ADDR=172.0.17.2",
        "DOCKER_PORT_6379_TCP_ADDR=172.0.17.2", "DOCKER_PORT_6379_TCP_END=tcp://172.0.17.2:6381",
        "DOCKER_PORT_6379_TCP_PORT=6379", "DOCKER_PORT_6379_TCP_PORT_END=6381", "DOCKER_PORT_6379_TCP_PORT_START=6379",
        "DOCKER_PORT_6379_TCP_PROTO=tcp", "DOCKER_PORT_6379_TCP_PROTO=tcp",
        "DOCKER_PORT_6379_TCP_START=tcp://172.0.17.2:6379",
        "DOCKER_PORT_6380_TCP=tcp://172.0.17.2:6380", "DOCKER_PORT_6380_TCP_ADDR=172.0.17.2",
        "DOCKER_PORT_6380_TCP_PORT=6380", "DOCKER_PORT_6380_TCP_PROTO=tcp",
        "DOCKER_PORT_6381_TCP=tcp://172.0.17.2:6381", "DOCKER_PORT_6381_TCP_ADDR=172.0.17.2",
        "DOCKER_PORT_6381_TCP_PORT=6381", "DOCKER_PORT_6381_TCP_PROTO=tcp",
    ]


def test_link_env_of_one_port_no_ports_and_a_dashed_alias():
    env = links.link_env("/web/my-db", "10.0.0.2", ["A=1", "HOME=/root", "PATH=/bin", "NOVALUE"], {"80/tcp": {}})
    assert env == ["MY_DB_PORT=tcp://10.0.0.2:80", "MY_DB_PORT_80_TCP=tcp://10.0.0.2:80", "MY_DB_PORT_80_TCP_ADDR=10.0.0.2",
                   "MY_DB_PORT_80_TCP_PORT=80", "MY_DB_PORT_80_TCP_PROTO=tcp", "MY_DB_NAME=/web/my-db", "MY_DB_ENV_A=1"]
    assert links.link_env("/web/db", "10.0.0.2", [], {}) == ["DB_NAME=/web/db"]
    # tcp first at the same number, then by number: the lowest port is the default
    assert links.link_env("/w/d", "ip", [], {"53/udp": {}, "53/tcp": {}, "80/tcp": {}})[0] == "D_PORT=tcp://ip:53"


@pytest.mark.parametrize("value, parsed", [
    ("db", ("db", "db")), ("db:alias", ("db", "alias")), ("/db:/web/alias", ("db", "alias")),
])
def test_parse_link(value, parsed):
    assert links.parse_link(value) == parsed


@pytest.mark.parametrize("value, message", [
    ("", "empty string specified for links"), ("a:b:c", "bad format for links: a:b:c"),
])
def test_parse_link_refusals(value, message):
    with pytest.raises(InvalidParameter, match=message):
        links.parse_link(value)


@pytest.mark.parametrize("spec, parsed", [
    ("c", ("c", "rw")), ("c:ro", ("c", "ro")), ("c:rw", ("c", "rw")), ("c:ro,z", ("c", "ro,z")),
])
def test_parse_volumes_from(spec, parsed):
    assert volumes_from.parse(spec) == parsed


@pytest.mark.parametrize("spec", ["c:rx", "c:shared", "c:rslave", "c:nocopy", "c:ro,rw"])
def test_volumes_from_modes_refused(spec):
    with pytest.raises(InvalidParameter, match=f"invalid mode: {spec[2:]}"):
        volumes_from.parse(spec)


def test_device_from_path(tmp_path):
    [node] = devices.from_path("/dev/null", "/dev/mynull")
    assert (node.path, node.type, node.major, node.minor) == ("/dev/mynull", "c", 1, 3)
    assert node.file_mode == os.stat("/dev/null").st_mode & 0o7777
    link = tmp_path / "link"
    link.symlink_to("/dev/zero")
    assert devices.from_path(str(link), "/dev/z")[0].minor == 5  # followed, as EvalSymlinks
    (tmp_path / "file").write_text("")
    for path, why in ((tmp_path / "file", "not a device node"), (tmp_path / "nope", "no such file or directory"),
                      (tmp_path / "dangling", "not a device node")):
        if path.name == "dangling":
            path.symlink_to(tmp_path / "gone")
        with pytest.raises(InvalidParameter) as err:
            devices.from_path(str(path), "/dev/x")
        assert str(err.value) == f'error gathering device information while adding custom device "{path}": {why}'
    (tmp_path / "dir" / "sub").mkdir(parents=True)
    os.symlink("/dev/null", tmp_path / "dir" / "sub" / "n")  # links inside a directory are not followed
    with pytest.raises(InvalidParameter, match="not a device node"):
        devices.from_path(str(tmp_path / "dir"), "/dev/d")


def test_gather_rules_and_privileged():
    host = {"Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/n", "CgroupPermissions": "r"}],
            "DeviceCgroupRules": ["b 7:* rw"]}
    nodes, rules = devices.gather(host)
    assert [n.path for n in nodes] == ["/dev/n"] and rules == ["c 1:3 r", "b 7:* rw"]
    nodes, rules = devices.gather(dict(host, Privileged=True))
    assert [n.path for n in nodes] == ["/dev/n"] and rules == []
    same = {"Privileged": True, "Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/null",
                                             "CgroupPermissions": "rwm"}]}
    assert devices.gather(same) == ([], [])  # already there in a privileged container


@pytest.mark.parametrize("host, message", [
    ({"DeviceCgroupRules": ["c 1:3 rwx"]}, "invalid device cgroup rule format: 'c 1:3 rwx'"),
    ({"DeviceCgroupRules": ["a *:* "]}, "invalid device cgroup rule format: 'a \\*:\\* '"),
    ({"Devices": [{"PathOnHost": "", "PathInContainer": "/x", "CgroupPermissions": "rwm"}]}, "PathOnHost must not be empty"),
    ({"Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/", "CgroupPermissions": "rwm"}]}, "invalid device mapping"),
    ({"Devices": [{"PathOnHost": "/dev/null\x00", "CgroupPermissions": "rwm"}]}, "invalid device mapping"),
    ({"Devices": [None]}, "PathOnHost must not be empty"),
])
def test_device_checks_at_create(host, message):
    with pytest.raises(InvalidParameter, match=message):
        devices.check_devices(host)
