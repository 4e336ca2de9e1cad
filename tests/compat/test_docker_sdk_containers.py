"""The Docker SDK for Python runs containers on barge."""

from __future__ import annotations

import pytest

from tests.conftest import make_busybox, require_exec_driver

pytestmark = pytest.mark.compat


@pytest.fixture
def sdk(docker_sdk, daemon):
    require_exec_driver()
    make_busybox(daemon)
    return docker_sdk


def test_containers_run_returns_output(sdk):
    assert sdk.containers.run("busybox", "echo hi") == b"hi\n"
    assert sdk.containers.run("busybox", ["sh", "-c", "echo out; echo err >&2"], stderr=True, remove=True) == \
        b"out\nerr\n"
    assert len(sdk.containers.list(all=True)) == 1  # the first one, not removed


def test_containers_run_failure_raises_container_error(sdk):
    import docker.errors

    with pytest.raises(docker.errors.ContainerError) as err:
        sdk.containers.run("busybox", ["sh", "-c", "echo bad >&2; exit 2"])
    assert err.value.exit_status == 2 and b"bad" in err.value.stderr
    with pytest.raises(docker.errors.APIError) as err:
        sdk.containers.run("busybox", "nosuchcommand")
    assert "executable file not found" in str(err.value)


def test_detached_container_lifecycle(sdk):
    c = sdk.containers.run("busybox", ["sh", "-c", "echo started; sleep 60"], detach=True, name="sdk-one",
                           labels={"k": "v"})
    c.reload()
    assert c.status == "running" and c.name == "sdk-one" and c.labels == {"k": "v"}
    assert [x.id for x in sdk.containers.list(filters={"label": "k=v"})] == [c.id]
    stream = c.logs(stream=True, follow=True)
    assert next(stream) == b"started\n"
    stream.close()
    assert c.top()["Processes"][0][-1] == "sleep 60"
    stats = c.stats(stream=False)
    assert stats["memory_stats"]["usage"] > 0
    c.pause()
    c.reload()
    assert c.status == "paused"
    c.unpause()
    c.stop(timeout=1)
    assert c.wait()["StatusCode"] == 137
    c.reload()
    assert c.status == "exited" and c.attrs["State"]["ExitCode"] == 137
    c.remove()
    assert sdk.containers.list(all=True) == []


def test_attach_socket_stdin_round_trip(sdk):
    # docker-py has no stdin_once argument: StdinOnce comes in the raw create body
    body = {"Image": "busybox", "Cmd": ["cat"], "OpenStdin": True, "StdinOnce": True, "AttachStdin": True}
    created = sdk.api._result(sdk.api._post_json(sdk.api._url("/containers/create"), data=body), True)
    c = sdk.containers.get(created["Id"])
    sock = sdk.api.attach_socket(c.id, params={"stdin": 1, "stdout": 1, "stream": 1})
    c.start()
    sock._sock.sendall(b"round trip\n")
    sock._sock.shutdown(__import__("socket").SHUT_WR)
    data = b""
    while True:
        chunk = sock._sock.recv(4096)
        if not chunk:
            break
        data += chunk
    assert data[8:] == b"round trip\n" and data[0] == 1
    assert c.wait()["StatusCode"] == 0
    c.remove()
