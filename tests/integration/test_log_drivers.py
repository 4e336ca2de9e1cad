"""Log drivers through the API with real containers: json-file, local, syslog (to a unix socket), none.

What each driver writes (local's rotated and gzipped files included), what
``logs`` reads back (tail, since, follow; dual logging's cache for syslog;
501 for none), and which option errors come at create (400) and which at
start (500 "failed to initialize logging driver: ..."), in dockerd 20.10's words.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import struct
import threading
from pathlib import Path

import pytest

from barge.testing.wait import wait_for
from tests.integration.helpers import Raw, create, frames, inspect, rm, run

pytestmark = [pytest.mark.root, pytest.mark.daemon]


def exited(d, cid):
    wait_for(lambda: inspect(d, cid)["State"]["Status"] == "exited", what="the container to exit")


def logs(d, cid, query="stdout=1&stderr=1"):
    status, _, data = d.request("GET", f"/v1.47/containers/{cid}/logs?{query}")
    assert status == 200, data
    return frames(data)


def log_config(kind, **opts):
    return {"HostConfig": {"LogConfig": {"Type": kind, "Config": opts}}}


def container_dir(d, cid) -> Path:
    return d.data_root / "containers" / cid


def test_json_file_writes_dockerds_lines_and_reads_them_back(box):
    cid = run(box, ["sh", "-c", "printf 'a\\tb<c>&\\n'; echo err >&2; printf partial"])
    try:
        exited(box, cid)
        info = inspect(box, cid)
        assert info["LogPath"] == str(container_dir(box, cid) / f"{cid}-json.log")
        lines = Path(info["LogPath"]).read_bytes().splitlines()
        assert lines[0].startswith(b'{"log":"a\\u0009b\\u003cc\\u003e\\u0026\\n","stream":"stdout","time":"')
        assert lines[-1].startswith(b'{"log":"partial","stream":"stdout","time":"')
        assert logs(box, cid) == [(1, b"a\tb<c>&\n"), (2, b"err\n"), (1, b"partial")]
    finally:
        rm(box, cid)


def test_local_rotates_compresses_and_logs_reads_all_of_it(box):
    script = "i=0; while [ $i -lt 200 ]; do echo line-$i; i=$((i+1)); done; echo err >&2; printf partial"
    cid = run(box, ["sh", "-c", script], **log_config("local", **{"max-size": "1k", "max-file": "3"}))
    try:
        exited(box, cid)
        info = inspect(box, cid)
        assert info["LogPath"] == "" and info["HostConfig"]["LogConfig"] == {
            "Type": "local", "Config": {"max-size": "1k", "max-file": "3"}}
        d = container_dir(box, cid) / "local-logs"
        assert sorted(p.name for p in d.iterdir()) == ["container.log", "container.log.1.gz", "container.log.2.gz"]
        older = gzip.decompress((d / "container.log.1.gz").read_bytes())
        (size,) = struct.unpack(">I", older[:4])
        assert older[4 + size:8 + size] == older[:4] and b"stdout" in older[4:4 + size]  # size, protobuf, size
        got = logs(box, cid)
        assert got[-2:] == [(2, b"err\n"), (1, b"partial")]
        numbers = [int(p.decode().split("-")[1]) for s, p in got[:-2]]
        assert numbers == list(range(numbers[0], 200)) and numbers[0] > 0
        assert logs(box, cid, "stdout=1&tail=3") == [(1, b"line-199\n"), (1, b"partial")]
        stamped = logs(box, cid, "stdout=1&timestamps=1&tail=1")[0][1].decode()
        assert stamped.endswith("Z partial") and len(stamped.split()[0]) == 30
    finally:
        rm(box, cid)


def test_local_follow_reads_across_rotations(box):
    script = "trap 'exit 0' TERM; i=0; while true; do echo line-$i; i=$((i+1)); sleep 0.01; done"
    cid = run(box, ["sh", "-c", script], **log_config("local", **{"max-size": "1k", "max-file": "2"}))
    try:
        follower = Raw(box, "GET", f"/v1.47/containers/{cid}/logs?stdout=1&follow=1&tail=0")
        seen = follower.read_until(b"line-150\n", timeout=20)
        assert box.request("POST", f"/containers/{cid}/stop?t=5")[0] == 204
        follower.close()
        assert (container_dir(box, cid) / "local-logs" / "container.log.1.gz").exists()
        body = seen.decode("latin-1")
        numbers = [int(x.split("\n")[0]) for x in body.split("line-")[1:] if x.split("\n")[0].isdigit()]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # none lost over the rotations
    finally:
        rm(box, cid)


class SyslogServer:
    """A unix datagram socket the test listens on, as a local syslogd would."""

    def __init__(self, path: Path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.got: list[bytes] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                self.got.append(self.sock.recv(65536))
            except OSError:
                return

    def close(self):
        self.sock.close()
        self.path.unlink(missing_ok=True)


@pytest.fixture
def syslogd(box):
    server = SyslogServer(box.root / "syslog.sock")
    yield server
    server.close()


def test_syslog_sends_to_a_unix_socket_and_logs_reads_the_cache(box, syslogd):
    cid = run(box, ["sh", "-c", "echo hello; echo err >&2"], name="sl",
              **log_config("syslog", **{"syslog-address": f"unixgram://{syslogd.path}", "tag": "{{.Name}}"}))
    try:
        exited(box, cid)
        wait_for(lambda: len(syslogd.got) == 2, what="two syslog messages")
        assert sorted(syslogd.got, key=lambda m: m[:4]) == sorted(syslogd.got)
        texts = {m[:4]: m for m in syslogd.got}
        assert texts[b"<30>"].endswith(b"]: hello\n") and b" sl[" in texts[b"<30>"]
        assert texts[b"<27>"].endswith(b"]: err\n")
        assert (container_dir(box, cid) / "container-cached.log").exists()
        assert sorted(logs(box, cid)) == [(1, b"hello\n"), (2, b"err\n")]  # dockerd 20.10's dual logging
        assert inspect(box, cid)["LogPath"] == ""
    finally:
        rm(box, cid)


def test_syslog_with_cache_disabled_and_none_cannot_be_read(box, syslogd):
    a = run(box, ["echo", "x"], **log_config("syslog", **{"syslog-address": f"unixgram://{syslogd.path}",
                                                          "cache-disabled": "true"}))
    b = run(box, ["echo", "y"], **log_config("none", foo="bar"))  # dockerd ignores none's options
    try:
        for cid in (a, b):
            exited(box, cid)
            status, _, data = box.request("GET", f"/containers/{cid}/logs?stdout=1")
            assert (status, json.loads(data)) == (501, {"message": "configured logging driver does not support reading"})
        assert not (container_dir(box, a) / "container-cached.log").exists()
        assert sorted(p.name for p in container_dir(box, b).iterdir() if "log" in p.name) == []
    finally:
        rm(box, a)
        rm(box, b)


@pytest.mark.parametrize("kind, opts, message", [
    ("bogus", {}, 'error looking up logging plugin bogus: plugin "bogus" not found'),
    ("json-file", {"foo": "bar"}, "unknown log opt 'foo' for json-file log driver"),
    ("local", {"foo": "bar"}, "unknown log opt 'foo' for log driver local"),
    ("syslog", {"syslog-format": "bad"}, "Invalid syslog format"),
    ("syslog", {"syslog-address": "unix:///nonexistent/sock"}, "stat /nonexistent/sock: no such file or directory"),
    ("json-file", {"mode": "bad"}, "logger: logging mode not supported: bad"),
])
def test_create_refuses_what_dockerd_refuses_at_create(box, kind, opts, message):
    assert create(box, expect=400, Cmd=["true"], **log_config(kind, **opts)) == message


@pytest.mark.parametrize("kind, opts, message", [
    ("json-file", {"max-size": "abc"}, "invalid size: 'abc'"),
    ("local", {"max-file": "0"}, "compression cannot be enabled when max file count is 1"),
    ("json-file", {"tag": "{{.Bogus}}"},
     'template: log-tag:1:2: executing "log-tag" at <.Bogus>: can\'t evaluate field Bogus in type *logger.Info'),
])
def test_start_fails_with_dockerds_logging_error(box, kind, opts, message):
    cid = create(box, Cmd=["true"], **log_config(kind, **opts))
    try:
        status, _, data = box.request("POST", f"/containers/{cid}/start")
        assert (status, json.loads(data)["message"]) == (500, f"failed to initialize logging driver: {message}")
        assert not inspect(box, cid)["State"]["Running"]
    finally:
        rm(box, cid)


def test_syslog_dial_error_fails_the_start(box, tmp_path):
    path = box.root / "stream-only.sock"
    dgram = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dgram.bind(str(path))
    cid = create(box, Cmd=["true"], **log_config("syslog", **{"syslog-address": f"unix://{path}"}))
    try:
        status, _, data = box.request("POST", f"/containers/{cid}/start")
        assert (status, json.loads(data)["message"]) == (
            500, f"failed to initialize logging driver: dial unix {path}: connect: protocol wrong type for socket")
    finally:
        rm(box, cid)
        dgram.close()
        os.unlink(path)


def test_info_lists_the_log_drivers(box):
    info = box.json("GET", "/info")
    assert info["LoggingDriver"] == "json-file"
    assert {"json-file", "local", "syslog"} <= set(info["Plugins"]["Log"]) and "none" not in info["Plugins"]["Log"]
