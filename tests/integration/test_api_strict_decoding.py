"""Strict request decoding on a live daemon: the bodies of issue 9's audit.

Each was a 500 with Python's exception text, or a 201 that failed at start
(or never); each is now a 400 that names the field in the words dockerd
20.10 uses (dockerd says them with a 500). Decoding comes before anything
else, so no image, container or network is needed.
"""

from __future__ import annotations

import json
import socket

import pytest

pytestmark = [pytest.mark.daemon]

GO = "json: cannot unmarshal "


def refused(d, path: str, body) -> str:
    """POST ``body``; it must be a JSON 400: its message."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    status, headers, data = d.request("POST", path, raw, headers={"Content-Type": "application/json"})
    assert status == 400, (status, data[:300])
    assert headers["Content-Type"] == "application/json"
    return json.loads(data)["message"]


@pytest.mark.parametrize("fields, message", [
    # 500s with Python's text before
    ({"Image": 5}, "number into Go struct field ContainerConfigWrapper.Image of type string"),
    ({"HostConfig": {"Ulimits": [{"Name": "nofile", "Soft": "a", "Hard": 1}]}},
     "string into Go struct field Ulimit.HostConfig.Ulimits.Soft of type int64"),
    ({"HostConfig": {"Ulimits": [5]}}, "number into Go struct field HostConfig.HostConfig.Ulimits of type units.Ulimit"),
    ({"HostConfig": {"CapAdd": [1]}}, "array into Go struct field HostConfig.HostConfig.CapAdd of type string"),
    ({"ExposedPorts": ["80/tcp"]}, "array into Go struct field ContainerConfigWrapper.ExposedPorts of type nat.PortSet"),
    ({"NetworkingConfig": {"EndpointsConfig": ["bridge"]}},
     "array into Go struct field NetworkingConfig.NetworkingConfig.EndpointsConfig of type "
     "map[string]*network.EndpointSettings"),
    ({"NetworkingConfig": {"EndpointsConfig": {"bridge": {"Aliases": "x"}}}},
     "string into Go struct field EndpointSettings.NetworkingConfig.EndpointsConfig.Aliases of type []string"),
    ({"HostConfig": {"RestartPolicy": "always"}},
     "string into Go struct field HostConfig.HostConfig.RestartPolicy of type container.RestartPolicy"),
    ({"HostConfig": {"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": "3"}}},
     "string into Go struct field RestartPolicy.HostConfig.RestartPolicy.MaximumRetryCount of type int"),
    ({"HostConfig": {"LogConfig": {"Type": "json-file", "Config": {"max-file": 3}}}},
     "number into Go struct field LogConfig.HostConfig.LogConfig.Config of type string"),
    ({"HostConfig": {"LogConfig": "json-file"}},
     "string into Go struct field HostConfig.HostConfig.LogConfig of type container.LogConfig"),
    ({"HostConfig": {"ExtraHosts": [1]}}, "number into Go struct field HostConfig.HostConfig.ExtraHosts of type string"),
    ({"HostConfig": {"ConsoleSize": ["24", "80"]}},
     "string into Go struct field HostConfig.HostConfig.ConsoleSize of type uint"),
    ({"HostConfig": {"Tmpfs": ["/run"]}}, "array into Go struct field HostConfig.HostConfig.Tmpfs of type map[string]string"),
    ({"HostConfig": {"Tmpfs": {"/run": 1}}}, "number into Go struct field HostConfig.HostConfig.Tmpfs of type string"),
    # 201s that failed at start, or never
    ({"User": {}}, "object into Go struct field ContainerConfigWrapper.User of type string"),
    ({"HostConfig": {"Sysctls": ["a"]}}, "array into Go struct field HostConfig.HostConfig.Sysctls of type map[string]string"),
    ({"HostConfig": {"Memory": 1e300}}, "number 1e+300 into Go struct field HostConfig.HostConfig.Memory of type int64"),
    ({"Tty": "yes"}, "string into Go struct field ContainerConfigWrapper.Tty of type bool"),
    ({"StopTimeout": "x"}, "string into Go struct field ContainerConfigWrapper.StopTimeout of type int"),
    ({"HostConfig": {"Dns": "1.1.1.1"}}, "string into Go struct field HostConfig.HostConfig.Dns of type []string"),
    # and a few more of the same kind
    ({"Labels": {"a": 1}}, "number into Go struct field ContainerConfigWrapper.Labels of type string"),
    ({"Healthcheck": {"Test": ["CMD", "true"], "Interval": "1s"}},
     "string into Go struct field HealthConfig.Healthcheck.Interval of type time.Duration"),
    ({"HostConfig": {"Mounts": [{"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": "1m"}}]}},
     "string into Go struct field TmpfsOptions.HostConfig.Mounts.TmpfsOptions.SizeBytes of type int64"),
    ({"HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": 8080}]}}},
     "number into Go struct field PortBinding.HostConfig.PortBindings.HostPort of type string"),
    ({"HostConfig": {"BlkioWeight": 70000}}, "number 70000 into Go struct field HostConfig.HostConfig.BlkioWeight of type uint16"),
])
def test_create_refuses_a_misfit_naming_it(shared_daemon, fields, message):
    body = {"Image": "busybox", "Cmd": ["true"], **fields}
    assert refused(shared_daemon, "/v1.47/containers/create", body) == GO + message


def test_create_refuses_100k_deep_nesting(shared_daemon):
    body = b'{"Image": "busybox", "Labels": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert refused(shared_daemon, "/containers/create", body) == "invalid JSON: nested deeper than 100 levels"


@pytest.mark.parametrize("path, body, message", [
    ("/containers/nx/update", {"Memory": "1g"}, "string into Go struct field UpdateConfig.Memory of type int64"),
    ("/containers/nx/update", {"RestartPolicy": {"Name": 5}},
     "number into Go struct field RestartPolicy.RestartPolicy.Name of type string"),
    ("/containers/nx/exec", {"Cmd": "ls"}, "string into Go struct field ExecConfig.Cmd of type []string"),
    ("/containers/nx/exec", {"Cmd": ["ls"], "Tty": "x"}, "string into Go struct field ExecConfig.Tty of type bool"),
    ("/exec/nx/start", {"Detach": "x"}, "string into Go struct field ExecStartCheck.Detach of type bool"),
    ("/exec/nx/start", [], "array into Go value of type types.ExecStartCheck"),
    ("/networks/create", {"Name": "n", "Internal": "yes"},
     "string into Go struct field NetworkCreateRequest.Internal of type bool"),
    ("/networks/create", {"Name": "n", "IPAM": {"Config": [{"Subnet": 10}]}},
     "number into Go struct field IPAMConfig.IPAM.Config.Subnet of type string"),
    ("/networks/nx/connect", {"Container": "c", "EndpointConfig": {"Aliases": "a"}},
     "string into Go struct field EndpointSettings.EndpointConfig.Aliases of type []string"),
    ("/networks/nx/disconnect", {"Container": "c", "Force": "yes"},
     "string into Go struct field NetworkDisconnect.Force of type bool"),
    ("/volumes/create", {"Name": "v", "Labels": ["a"]},
     "array into Go struct field VolumeCreateBody.Labels of type map[string]string"),
    ("/commit?container=nx", {"Cmd": [1]}, "array into Go struct field ContainerConfigWrapper.Cmd of type string"),
    ("/auth", {"username": 5}, "number into Go struct field AuthConfig.username of type string"),
])
def test_other_bodies_refuse_a_misfit_naming_it(shared_daemon, path, body, message):
    assert refused(shared_daemon, path, body) == GO + message


def test_unknown_fields_are_ignored_as_dockerd_ignores_them(shared_daemon):
    status, _, data = shared_daemon.request(
        "POST", "/containers/create", {"Image": "barge-no-such-image", "Bogus": {"x": [1]}, "hostconfig": {"Nope": 1}})
    assert status == 404, data  # decoded, then the image is missing


def test_a_100kb_header_is_a_json_400(shared_daemon):
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(20)
        sock.connect(shared_daemon.socket)
        try:
            sock.sendall(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n")
        except BrokenPipeError:  # answered and closed before reading it all
            pass
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except ConnectionResetError:  # closed with the rest of the header unread: after the answer
            assert data
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.split()[1] == b"400"  # HTTP/1.0: the parser gave up before the version
    assert b"\r\nContent-Type: application/json\r\n" in head + b"\r\n" and b"\r\nApi-Version: " in head
    assert json.loads(body)["message"].startswith("bad request: request line or header too large")


@pytest.mark.parametrize("fields", [{"WorkingDir": "/a\0b"}, {"Hostname": "a\0b"}, {"Env": ["A=\0"]},
                                    {"Cmd": ["echo", "\0"]}, {"HostConfig": {"Binds": ["/tmp:/x\0"]}}])
def test_a_nul_byte_in_any_string_is_refused(shared_daemon, fields):
    """Each would reach the kernel as a C string (dockerd: a 500 at start)."""
    body = {"Image": "busybox", "Cmd": ["true"], **fields}
    assert "a NUL byte is not allowed" in refused(shared_daemon, "/containers/create", body)


@pytest.mark.parametrize("fields, message", [
    ({"StopSignal": "SIGFOO"}, "Invalid signal: SIGFOO"),
    ({"HostConfig": {"CpusetCpus": "0-99999999999"}}, "Invalid value 0-99999999999 for cpuset cpus"),
    ({"HostConfig": {"CpusetMems": "0-99999999999"}}, "Invalid value 0-99999999999 for cpuset mems"),
])
def test_values_that_would_fail_at_start_or_exhaust_the_daemon(box, fields, message):
    body = {"Image": "busybox", "Cmd": ["true"], **fields}
    assert message in refused(box, "/containers/create", body)
