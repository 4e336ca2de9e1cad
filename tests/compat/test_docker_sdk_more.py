"""The Docker SDK for Python on barge, beyond run: exec_run, put/get_archive, commit, volumes, events.
One daemon for the module; each test cleans up what it made."""

from __future__ import annotations

import io
import tarfile
import time

import pytest

from tests.compat.conftest import own_daemon

pytestmark = pytest.mark.compat


@pytest.fixture(scope="module")
def sdk():
    docker = pytest.importorskip("docker", reason="the docker SDK for Python is not installed")
    with own_daemon("barge-sm-") as d:
        client = docker.DockerClient(base_url=d.url, version="auto", timeout=60)
        try:
            yield client
        finally:
            client.close()


@pytest.fixture
def box(sdk):
    c = sdk.containers.run("busybox", ["sleep", "600"], detach=True, name="sdk-box")
    yield c
    c.remove(force=True)


def test_exec_run(sdk, box):
    assert box.exec_run(["sh", "-c", "echo out; exit 3"]) == (3, b"out\n")
    code, (out, err) = box.exec_run(["sh", "-c", "echo o; echo e >&2"], demux=True)
    assert code == 0 and out == b"o\n" and err == b"e\n"
    result = box.exec_run("sh -c 'echo $FOO $(id -u) $(pwd)'", environment={"FOO": "bar"}, user="nobody",
                          workdir="/tmp")
    assert result.output == b"bar 65534 /tmp\n"
    stream = box.exec_run(["sh", "-c", "echo a; sleep 0.2; echo b"], stream=True)
    assert b"".join(stream.output) == b"a\nb\n"
    assert box.exec_run(["true"], detach=True).output == ""  # docker-py gives the (empty) body as text
    tty = box.exec_run(["sh", "-c", "test -t 1 && echo tty"], tty=True)
    assert tty.output.strip() == b"tty"


def test_put_and_get_archive(sdk, box):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("greeting.txt")
        data = b"hello archive\n"
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    assert box.put_archive("/tmp", buf.getvalue()) is True
    chunks, stat = box.get_archive("/tmp/greeting.txt")
    assert stat["name"] == "greeting.txt" and stat["size"] == 14
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tf:
        assert tf.extractfile("greeting.txt").read() == b"hello archive\n"
    import docker.errors

    with pytest.raises(docker.errors.NotFound):
        box.get_archive("/no/such")


def test_commit_and_run(sdk):
    c = sdk.containers.run("busybox", ["sh", "-c", "echo sdk > /made"], detach=True)
    c.wait()
    try:
        image = c.commit(repository="sdk-committed", tag="v1", message="from sdk", changes=['CMD ["cat", "/made"]'])
        assert "sdk-committed:v1" in image.tags and image.attrs["Comment"] == "from sdk"
        assert sdk.containers.run("sdk-committed:v1", remove=True) == b"sdk\n"
    finally:
        c.remove()
        sdk.images.remove("sdk-committed:v1")


def test_volumes(sdk):
    vol = sdk.volumes.create("sdk-vol", labels={"a": "b"})
    assert vol.name == "sdk-vol" and vol.attrs["Labels"] == {"a": "b"}
    assert [v.name for v in sdk.volumes.list()] == ["sdk-vol"]
    assert sdk.volumes.get("sdk-vol").attrs["Driver"] == "local"
    sdk.containers.run("busybox", ["sh", "-c", "echo v > /v/f"], volumes={"sdk-vol": {"bind": "/v", "mode": "rw"}},
                       remove=True)
    assert sdk.containers.run("busybox", ["cat", "/v/f"], volumes=["sdk-vol:/v:ro"], remove=True) == b"v\n"
    vol.remove()
    assert sdk.volumes.list() == []
    import docker.errors

    with pytest.raises(docker.errors.NotFound):
        sdk.volumes.get("sdk-vol")


def test_events(sdk):
    since = time.time()
    sdk.containers.run("busybox", "true", name="sdk-ev", remove=True)
    until = time.time() + 0.01
    got = list(sdk.events(since=since, until=until, decode=True, filters={"container": "sdk-ev"}))
    assert [e["Action"] for e in got] == ["create", "start", "die", "destroy"]
