"""The request validator: Go's encoding/json rules (barge.gojson) and moby's bodies as data (barge.api.bodies).

The expected messages are dockerd 20.10's, word for word, as it answered the
same bodies on this machine (it says them with status 500; barge with 400).
"""

from __future__ import annotations

import json

import pytest

from barge import gojson
from barge.api import bodies
from barge.errors import InvalidParameter
from barge.gojson import (
    BOOL,
    INT64,
    STRING,
    STRSLICE,
    UINT16,
    Array,
    List,
    Map,
    Nullable,
    Obj,
    Path,
    decode,
    loads,
)


def error_of(schema, text: str) -> str:
    with pytest.raises(InvalidParameter) as caught:
        decode(schema, loads(text))
    return str(caught.value)


# ---------------------------------------------------------------------------
# the type language
# ---------------------------------------------------------------------------

THING = Obj("pkg.Thing", {"Name": STRING, "Size": INT64, "On": BOOL, "Tags": List(STRING),
                          "Opts": Map(STRING), "Inner": Obj("pkg.Inner", {"Weight": UINT16})})


def test_a_fitting_value_comes_back_with_fields_by_their_own_names():
    value = loads('{"name": "a", "SIZE": 5, "On": true, "tags": ["x", null], "Opts": {"k": "v"}, "inner": {"weight": 7}}')
    assert decode(THING, value) == {"Name": "a", "Size": 5, "On": True, "Tags": ["x", ""], "Opts": {"k": "v"},
                                    "Inner": {"Weight": 7}}


def test_unknown_fields_are_ignored_and_left_out():
    assert decode(THING, {"Name": "a", "Bogus": {"deep": [1, 2]}, "Size": None}) == {"Name": "a"}


def test_null_is_the_zero_value():
    assert decode(THING, None) == {}
    assert decode(List(INT64), [None, 3]) == [0, 3]
    assert decode(Map(BOOL), {"a": None}) == {"a": False}
    assert decode(Map(Nullable(STRING)), {"a": None, "b": "x"}) == {"a": None, "b": "x"}
    assert decode(Array(INT64, 2), None) == [0, 0]


def test_a_later_duplicate_wins_and_a_null_leaves_the_earlier_value():
    assert decode(THING, loads('{"Name": "a", "name": "b"}')) == {"Name": "b"}
    assert decode(THING, loads('{"On": true, "on": null}')) == {"On": True}


@pytest.mark.parametrize("text, message", [
    ('{"Name": 5}', "json: cannot unmarshal number into Go struct field Thing.Name of type string"),
    ('{"Size": "5"}', "json: cannot unmarshal string into Go struct field Thing.Size of type int64"),
    ('{"Size": 1.5}', "json: cannot unmarshal number 1.5 into Go struct field Thing.Size of type int64"),
    ('{"Size": 1E3}', "json: cannot unmarshal number 1E3 into Go struct field Thing.Size of type int64"),
    ('{"Size": 9223372036854775808}',
     "json: cannot unmarshal number 9223372036854775808 into Go struct field Thing.Size of type int64"),
    ('{"Size": true}', "json: cannot unmarshal bool into Go struct field Thing.Size of type int64"),
    ('{"On": 1}', "json: cannot unmarshal number into Go struct field Thing.On of type bool"),
    ('{"Tags": "x"}', "json: cannot unmarshal string into Go struct field Thing.Tags of type []string"),
    ('{"Tags": [{}]}', "json: cannot unmarshal object into Go struct field Thing.Tags of type string"),
    ('{"Opts": []}', "json: cannot unmarshal array into Go struct field Thing.Opts of type map[string]string"),
    ('{"Opts": {"k": false}}', "json: cannot unmarshal bool into Go struct field Thing.Opts of type string"),
    ('{"Inner": {"Weight": 65536}}', "json: cannot unmarshal number 65536 into Go struct field Inner.Inner.Weight of type uint16"),
    ('{"Inner": {"Weight": -1}}', "json: cannot unmarshal number -1 into Go struct field Inner.Inner.Weight of type uint16"),
    ("[]", "json: cannot unmarshal array into Go value of type pkg.Thing"),
    ('"x"', "json: cannot unmarshal string into Go value of type pkg.Thing"),
])
def test_a_misfit_is_named_in_gos_words(text, message):
    assert error_of(THING, text) == message


def test_integer_ranges_are_inclusive():
    assert decode(INT64, (1 << 63) - 1) == (1 << 63) - 1
    assert decode(INT64, -(1 << 63)) == -(1 << 63)
    assert decode(UINT16, 65535) == 65535
    assert decode(UINT16, 0) == 0


def test_a_huge_literal_is_quoted_not_converted():
    digits = "9" * 5000  # past Python's int() digit limit
    message = error_of(THING, '{"Size": %s}' % digits)
    assert message.startswith("json: cannot unmarshal number 99999") and message.endswith("of type int64")


def test_strslice_is_a_string_or_strings():
    assert decode(STRSLICE, "ls -l") == ["ls -l"]
    assert decode(STRSLICE, ["ls", None]) == ["ls", ""]
    path = Path().field("Config", "Cmd")
    with pytest.raises(InvalidParameter, match="cannot unmarshal array into Go struct field Config.Cmd of type string"):
        decode(STRSLICE, ["ls", 5], path)
    with pytest.raises(InvalidParameter, match="cannot unmarshal object into Go struct field Config.Cmd of type string"):
        decode(STRSLICE, {}, path)


def test_an_array_is_cut_or_padded_to_its_length():
    assert decode(Array(INT64, 2), [1, 2, 3]) == [1, 2]
    assert decode(Array(INT64, 2), [1]) == [1, 0]
    assert decode(Array(INT64, 2), ["x", 1, 2][1:]) == [1, 2]


def test_lone_surrogates_become_replacement_characters():
    value = loads('{"Name": "a\\ud800b", "Opts": {"\\udfff": "\\ud83d\\ude00"}}')
    assert decode(THING, value) == {"Name": "a\ufffdb", "Opts": {"\ufffd": "\U0001f600"}}


# ---------------------------------------------------------------------------
# the parser
# ---------------------------------------------------------------------------


def test_nesting_is_capped_before_the_parser_recurses():
    assert loads("[" * gojson.MAX_DEPTH + "]" * gojson.MAX_DEPTH) is not None
    for depth in (gojson.MAX_DEPTH + 1, 100_000):
        with pytest.raises(ValueError, match="nested deeper than"):
            loads("[" * depth + "]" * depth)
    with pytest.raises(ValueError, match="nested deeper than"):
        loads('{"a":' * 100_000 + "1" + "}" * 100_000)


def test_deep_malformed_json_is_refused_without_recursion_error():
    with pytest.raises(ValueError):
        loads("[" * 100_000 + "}")
    with pytest.raises(ValueError):
        loads("[" * 100_000)


def test_brackets_inside_strings_do_not_count():
    text = json.dumps({"a": "[" * 500 + "\\\"{" * 100, "b": [[["]"]]]})
    assert loads(text)["b"] == [[["]"]]]


def test_nan_and_infinity_are_not_json():
    for text in ("NaN", "[Infinity]", '{"a": -Infinity}'):
        with pytest.raises(ValueError):
            loads(text)


def test_numbers_keep_their_text():
    value = loads("[1, 1.0, 1e300, -0.5]")
    assert value[0] == 1 and type(value[0]) is int
    assert [v.literal for v in value[1:]] == ["1.0", "1e300", "-0.5"]


def test_bytes_must_be_utf8():
    with pytest.raises(ValueError):
        loads(b'{"a": "\xff"}')


# ---------------------------------------------------------------------------
# moby's bodies: dockerd 20.10's own messages
# ---------------------------------------------------------------------------

CREATE_MISFITS = [
    ('{"Image": 5}', "number into Go struct field ContainerConfigWrapper.Image of type string"),
    ('{"Tty": "yes"}', "string into Go struct field ContainerConfigWrapper.Tty of type bool"),
    ('{"User": {}}', "object into Go struct field ContainerConfigWrapper.User of type string"),
    ('{"StopTimeout": "x"}', "string into Go struct field ContainerConfigWrapper.StopTimeout of type int"),
    ('{"ExposedPorts": ["80/tcp"]}', "array into Go struct field ContainerConfigWrapper.ExposedPorts of type nat.PortSet"),
    ('{"ExposedPorts": {"80/tcp": 5}}', "number into Go struct field ContainerConfigWrapper.ExposedPorts of type struct {}"),
    ('{"Labels": {"a": 1}}', "number into Go struct field ContainerConfigWrapper.Labels of type string"),
    ('{"Env": "A=1"}', "string into Go struct field ContainerConfigWrapper.Env of type []string"),
    ('{"Cmd": [5]}', "array into Go struct field ContainerConfigWrapper.Cmd of type string"),
    ('{"Volumes": ["/x"]}', "array into Go struct field ContainerConfigWrapper.Volumes of type map[string]struct {}"),
    ('{"Healthcheck": {"Interval": "1s"}}', "string into Go struct field HealthConfig.Healthcheck.Interval of type time.Duration"),
    ('{"HostConfig": 5}', "number into Go struct field ContainerConfigWrapper.HostConfig of type container.HostConfig"),
    ('{"HostConfig": {"Dns": "1.1.1.1"}}', "string into Go struct field HostConfig.HostConfig.Dns of type []string"),
    ('{"HostConfig": {"Memory": 1e300}}', "number 1e300 into Go struct field HostConfig.HostConfig.Memory of type int64"),
    ('{"HostConfig": {"Sysctls": ["a"]}}', "array into Go struct field HostConfig.HostConfig.Sysctls of type map[string]string"),
    ('{"HostConfig": {"Ulimits": [{"Name": "nofile", "Soft": "a"}]}}',
     "string into Go struct field Ulimit.HostConfig.Ulimits.Soft of type int64"),
    ('{"HostConfig": {"Ulimits": ["x"]}}', "string into Go struct field HostConfig.HostConfig.Ulimits of type units.Ulimit"),
    ('{"HostConfig": {"CapAdd": [1]}}', "array into Go struct field HostConfig.HostConfig.CapAdd of type string"),
    ('{"HostConfig": {"RestartPolicy": "always"}}',
     "string into Go struct field HostConfig.HostConfig.RestartPolicy of type container.RestartPolicy"),
    ('{"HostConfig": {"RestartPolicy": {"MaximumRetryCount": "3"}}}',
     "string into Go struct field RestartPolicy.HostConfig.RestartPolicy.MaximumRetryCount of type int"),
    ('{"HostConfig": {"LogConfig": {"Config": {"a": 1}}}}',
     "number into Go struct field LogConfig.HostConfig.LogConfig.Config of type string"),
    ('{"HostConfig": {"ExtraHosts": [1]}}', "number into Go struct field HostConfig.HostConfig.ExtraHosts of type string"),
    ('{"HostConfig": {"ConsoleSize": ["1", "2"]}}', "string into Go struct field HostConfig.HostConfig.ConsoleSize of type uint"),
    ('{"HostConfig": {"ConsoleSize": [-1, 2]}}', "number -1 into Go struct field HostConfig.HostConfig.ConsoleSize of type uint"),
    ('{"HostConfig": {"ConsoleSize": {}}}', "object into Go struct field HostConfig.HostConfig.ConsoleSize of type [2]uint"),
    ('{"HostConfig": {"Tmpfs": ["/x"]}}', "array into Go struct field HostConfig.HostConfig.Tmpfs of type map[string]string"),
    ('{"HostConfig": {"Tmpfs": {"/x": 5}}}', "number into Go struct field HostConfig.HostConfig.Tmpfs of type string"),
    ('{"HostConfig": {"Mounts": [5]}}', "number into Go struct field HostConfig.HostConfig.Mounts of type mount.Mount"),
    ('{"HostConfig": {"Mounts": [{"Type": 5}]}}', "number into Go struct field Mount.HostConfig.Mounts.Type of type mount.Type"),
    ('{"HostConfig": {"Mounts": [{"TmpfsOptions": {"Mode": -1}}]}}',
     "number -1 into Go struct field TmpfsOptions.HostConfig.Mounts.TmpfsOptions.Mode of type fs.FileMode"),
    ('{"HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": 80}]}}}',
     "number into Go struct field PortBinding.HostConfig.PortBindings.HostPort of type string"),
    ('{"HostConfig": {"PortBindings": {"80/tcp": {"HostPort": "80"}}}}',
     "object into Go struct field HostConfig.HostConfig.PortBindings of type []nat.PortBinding"),
    ('{"HostConfig": {"BlkioWeight": 70000}}', "number 70000 into Go struct field HostConfig.HostConfig.BlkioWeight of type uint16"),
    ('{"HostConfig": {"BlkioDeviceReadBps": [{"Rate": -1}]}}',
     "number -1 into Go struct field ThrottleDevice.HostConfig.BlkioDeviceReadBps.Rate of type uint64"),
    ('{"HostConfig": {"DeviceRequests": [{"Capabilities": [1]}]}}',
     "number into Go struct field DeviceRequest.HostConfig.DeviceRequests.Capabilities of type []string"),
    ('{"HostConfig": {"NetworkMode": 5}}', "number into Go struct field HostConfig.HostConfig.NetworkMode of type container.NetworkMode"),
    ('{"NetworkingConfig": 5}', "number into Go struct field ContainerConfigWrapper.NetworkingConfig of type network.NetworkingConfig"),
    ('{"NetworkingConfig": {"EndpointsConfig": []}}',
     "array into Go struct field NetworkingConfig.NetworkingConfig.EndpointsConfig of type map[string]*network.EndpointSettings"),
    ('{"NetworkingConfig": {"EndpointsConfig": {"bridge": {"Aliases": "x"}}}}',
     "string into Go struct field EndpointSettings.NetworkingConfig.EndpointsConfig.Aliases of type []string"),
    ('{"NetworkingConfig": {"EndpointsConfig": {"bridge": {"IPAMConfig": {"IPv4Address": 5}}}}}',
     "number into Go struct field EndpointIPAMConfig.NetworkingConfig.EndpointsConfig.IPAMConfig.IPv4Address of type string"),
    ("[]", "array into Go value of type runconfig.ContainerConfigWrapper"),
]


@pytest.mark.parametrize("text, message", CREATE_MISFITS)
def test_create_misfits_read_as_dockerd_says_them(text, message):
    assert error_of(bodies.CONTAINER_CREATE, text) == "json: cannot unmarshal " + message


@pytest.mark.parametrize("schema, text, message", [
    (bodies.CONTAINER_UPDATE, '{"Memory": "x"}', "string into Go struct field UpdateConfig.Memory of type int64"),
    (bodies.CONTAINER_UPDATE, '{"RestartPolicy": {"Name": 5}}',
     "number into Go struct field RestartPolicy.RestartPolicy.Name of type string"),
    (bodies.CONTAINER_UPDATE, '{"Ulimits": [{"Name": 5}]}', "number into Go struct field Ulimit.Ulimits.Name of type string"),
    (bodies.EXEC_CREATE, '{"Cmd": "ls"}', "string into Go struct field ExecConfig.Cmd of type []string"),
    (bodies.EXEC_CREATE, "[]", "array into Go value of type types.ExecConfig"),
    (bodies.EXEC_START, '{"Detach": "x"}', "string into Go struct field ExecStartCheck.Detach of type bool"),
    (bodies.NETWORK_CREATE, '{"IPAM": {"Config": {"Subnet": "x"}}}',
     "object into Go struct field IPAM.IPAM.Config of type []network.IPAMConfig"),
    (bodies.NETWORK_CREATE, '{"IPAM": {"Config": [{"AuxiliaryAddresses": []}]}}',
     "array into Go struct field IPAMConfig.IPAM.Config.AuxiliaryAddresses of type map[string]string"),
    (bodies.NETWORK_CREATE, '{"ConfigFrom": {"Network": 5}}',
     "number into Go struct field ConfigReference.ConfigFrom.Network of type string"),
    (bodies.NETWORK_CONNECT, '{"EndpointConfig": {"Aliases": "x"}}',
     "string into Go struct field EndpointSettings.EndpointConfig.Aliases of type []string"),
    (bodies.NETWORK_DISCONNECT, '{"Force": "x"}', "string into Go struct field NetworkDisconnect.Force of type bool"),
    (bodies.VOLUME_CREATE, '{"DriverOpts": {"a": 5}}', "number into Go struct field VolumeCreateBody.DriverOpts of type string"),
    (bodies.VOLUME_CREATE, "[]", "array into Go value of type volume.VolumeCreateBody"),
    (bodies.COMMIT, '{"Cmd": [5]}', "array into Go struct field ContainerConfigWrapper.Cmd of type string"),
    (bodies.AUTH_CONFIG, '{"username": 5}', "number into Go struct field AuthConfig.username of type string"),
])
def test_other_bodies_read_as_dockerd_says_them(schema, text, message):
    assert error_of(schema, text) == "json: cannot unmarshal " + message


def test_the_barge_cli_create_body_decodes_unchanged():
    from barge.client.runconfig import ContainerOptions, build_create_body

    opts = ContainerOptions(
        image="busybox", args=["sh", "-c", "true"], env=["A=1"], labels=["l=v"], tty=True, interactive=True,
        restart="on-failure:3", ulimits=["nofile=10:20"], cap_add=["NET_ADMIN"], publish=["8080:80"],
        expose=["90"], dns=["1.1.1.1"], add_host=["h:1.2.3.4"], tmpfs=["/t:size=1m"], memory="64m", cpus="0.5",
        pids_limit=10, mounts=["type=tmpfs,target=/m"], stop_timeout=3, init=True, log_opt=["max-size=1m"],
    )
    body = json.loads(json.dumps(build_create_body(opts, environ={})))

    def without_nulls(value):
        if isinstance(value, dict):
            return {k: without_nulls(v) for k, v in value.items() if v is not None}
        return [without_nulls(v) for v in value] if isinstance(value, list) else value

    assert decode(bodies.CONTAINER_CREATE, body) == without_nulls(body)


def test_docker_py_create_body_decodes_unchanged():
    docker = pytest.importorskip("docker", reason="the docker SDK for Python is not installed (pip install '.[test]')")
    client = docker.APIClient(base_url="unix:///nonexistent", version="1.47")
    config = client.create_container_config(
        "busybox", ["true"], environment={"A": "1"}, labels={"a": "b"}, ports=[80], volumes=["/v"],
        host_config=client.create_host_config(
            binds=["/tmp:/t:ro"], port_bindings={80: 8080}, mem_limit="64m", ulimits=[docker.types.Ulimit(
                name="nofile", soft=1, hard=2)], mounts=[docker.types.Mount("/m", None, type="tmpfs")],
            restart_policy={"Name": "on-failure", "MaximumRetryCount": 2}, cap_add=["NET_ADMIN"], sysctls={"a": "1"},
            device_read_bps=[{"Path": "/dev/sda", "Rate": 1024}], log_config={"type": "json-file", "config": {}},
        ),
        networking_config=client.create_networking_config({"n": client.create_endpoint_config(aliases=["x"])}),
    )
    body = json.loads(json.dumps(config))
    decoded = decode(bodies.CONTAINER_CREATE, body)
    assert decoded["HostConfig"]["Memory"] == 64 << 20
    assert decoded["HostConfig"]["Ulimits"] == [{"Name": "nofile", "Soft": 1, "Hard": 2}]
    assert decoded["NetworkingConfig"]["EndpointsConfig"]["n"]["Aliases"] == ["x"]


def test_build_parameters_are_declared_for_the_builder():
    assert decode(bodies.BUILD_ARGS, loads('{"A": null, "B": "1"}')) == {"A": None, "B": "1"}
    assert "of type string" in error_of(bodies.BUILD_ARGS, '{"A": 1}')
    assert decode(bodies.REGISTRY_CONFIG, loads('{"r.io": {"Username": "u"}}')) == {"r.io": {"username": "u"}}
