"""Reading logs back (``docker logs``): rotations (plain and gzipped), tail, since/until, follow; syslog's bytes."""

from __future__ import annotations

import json
import os
import re
import socket
import time

import pytest

from barge.contracts.containers import LogOptions
from barge.logdriver import driver_class
from barge.logdriver.base import LogDriverError, LogInfo, Message
from barge.logdriver.copier import open_logger
from barge.logdriver.jsonfile import JsonFormat
from barge.logdriver.local import LocalFormat
from barge.logdriver.logfile import compress_file, rotations
from barge.logdriver.reader import FileLogReader
from barge.timefmt import rfc3339_nano


def line(text: str, stream: str = "stdout", t: float = 1_700_000_000.0) -> bytes:
    return json.dumps({"log": text, "stream": stream, "time": rfc3339_nano(int(t * 1e9))}).encode() + b"\n"


def read(path, fmt, **kw):
    r = FileLogReader(path, fmt, LogOptions(**kw))
    try:
        return [e.data.decode() for e in r.initial()]
    finally:
        r.close()


def test_tail_since_until_streams_over_plain_and_gzipped_rotations(tmp_path):
    path = tmp_path / "c-json.log"
    (tmp_path / "c-json.log.2").write_bytes(line("one\n", t=1) + line("two\n", "stderr", t=2))
    compress_file(str(tmp_path / "c-json.log.2"), 2_000_000_000)
    (tmp_path / "c-json.log.1").write_bytes(line("three\n", t=3))
    path.write_bytes(line("four\n", t=4) + line("five\n", "stderr", t=5) + b'{"log":"partial')
    assert [p.name for p in rotations(path)] == ["c-json.log.2.gz", "c-json.log.1"]
    fmt = JsonFormat()
    assert read(path, fmt) == ["one\n", "two\n", "three\n", "four\n", "five\n"]
    assert read(path, fmt, tail=2) == ["four\n", "five\n"]
    assert read(path, fmt, tail=4) == ["two\n", "three\n", "four\n", "five\n"]
    assert read(path, fmt, tail=0) == []
    assert read(path, fmt, stderr=False) == ["one\n", "three\n", "four\n"]
    assert read(path, fmt, stdout=False, tail=3) == ["five\n"]  # tail counts records before the stream filter
    assert read(path, fmt, since=3) == ["three\n", "four\n", "five\n"]
    assert read(path, fmt, until=2.5) == ["one\n", "two\n"]


def test_follower_sees_appends_and_a_rotation(tmp_path):
    path = tmp_path / "c-json.log"
    path.write_bytes(line("a\n"))
    r = FileLogReader(path, JsonFormat(), LogOptions())
    assert [e.data for e in r.initial()] == [b"a\n"]
    assert r.poll() == []
    with open(path, "ab") as fh:
        fh.write(line("b\n") + b'{"log":"c\\n","stream":"stdout",')
    assert [e.data for e in r.poll()] == [b"b\n"]
    with open(path, "ab") as fh:
        fh.write(b'"time":"2023-11-14T22:13:20Z"}\n')
    os.rename(path, tmp_path / "c-json.log.1")  # the monitor rotates
    path.write_bytes(line("d\n"))
    assert [e.data for e in r.poll()] == [b"c\n", b"d\n"]
    r.close()


def test_local_log_read_back_through_rotation_and_compression_with_follow(tmp_path):
    path = tmp_path / "local-logs" / "container.log"
    log = open_logger({"driver": "local", "path": str(path), "options": {"max-size": "1k", "max-file": "4"}})
    for i in range(60):
        log.write("stdout" if i % 2 else "stderr", f"line-{i}\n".encode())
    r = FileLogReader(path, LocalFormat(), LogOptions())
    got = [e.data for e in r.initial()]
    assert any(p.name.endswith(".gz") for p in rotations(path))
    assert got[-1] == b"line-59\n" and got == [f"line-{i}\n".encode() for i in range(60 - len(got), 60)]
    assert read(path, LocalFormat(), tail=3) == ["line-57\n", "line-58\n", "line-59\n"]
    assert read(path, LocalFormat(), tail=3, stderr=False) == ["line-57\n", "line-59\n"]
    more = []
    for i in range(60, 120):  # more rotations while following (a follower polls between them)
        log.write("stdout", f"line-{i}\n".encode())
        more += [e.data for e in r.poll()]
    log.write("stdout", b"tail")
    log.close()
    more += [e.data for e in r.poll()]
    r.close()
    assert more == [f"line-{i}\n".encode() for i in range(60, 120)] + [b"tail"]


def test_syslog_sends_dockerds_formats_to_a_unix_socket(tmp_path):
    path = str(tmp_path / "log.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(5)
    try:
        cid = "d6a9b4aaa5f378e62956079c81a4286d6c76b15cf1d94280f08c336f4ed7d9c1"
        for fmt, pattern in [
            ("", rb"<30>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d d6a9b4aaa5f3\[%d\]: hi\n"),
            ("rfc3164", rb"<30>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d myhost d6a9b4aaa5f3\[%d\]: hi\n"),
            ("rfc5424", rb"<30>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d) myhost d6a9b4aaa5f3 %d d6a9b4aaa5f3 - hi\n"),
            ("rfc5424micro", rb"<30>1 \S+\.\d{6}\S* myhost d6a9b4aaa5f3 %d d6a9b4aaa5f3 - hi\n"),
        ]:
            opts = {"syslog-address": f"unixgram://{path}"} | ({"syslog-format": fmt} if fmt else {})
            drv = driver_class("syslog")(LogInfo(cid, config=opts, hostname="myhost"))
            drv.log(Message("stdout", b"hi", time.time_ns()))
            drv.close()
            got = server.recv(4096)
            assert re.fullmatch(pattern % os.getpid(), got), (fmt, got)
        drv = driver_class("syslog")(LogInfo(cid, config={"syslog-address": f"unixgram://{path}",
                                                          "syslog-facility": "local7", "tag": "{{.Name}}"},
                                             container_name="/web"))
        drv.log(Message("stderr", b"bad", time.time_ns()))
        drv.close()
        assert server.recv(4096).startswith(b"<187>")  # local7 (23 << 3) | err (3)
    finally:
        server.close()


def test_syslog_start_fails_with_dockerds_dial_error(tmp_path):
    path = str(tmp_path / "stream.sock")
    dgram = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dgram.bind(path)
    try:
        with pytest.raises(LogDriverError) as info:
            driver_class("syslog")(LogInfo("c" * 64, config={"syslog-address": f"unix://{path}"}))
        assert str(info.value) == f"dial unix {path}: connect: protocol wrong type for socket"
    finally:
        dgram.close()


def test_daemon_default_log_config_fills_a_create_as_dockerd_merges_it(tmp_path):
    from barge.config import load_config
    from barge.containers.logs import with_default_log

    (tmp_path / "daemon.toml").write_text('log_driver = "local"\nlog_opts = {max-size = "1m"}\n')
    cfg = load_config(tmp_path / "daemon.toml", env={})
    default = {"Type": cfg.log_driver, "Config": cfg.log_opts}
    assert default == {"Type": "local", "Config": {"max-size": "1m"}}

    def merged(log):
        body = {"Image": "busybox", "HostConfig": {"LogConfig": log} if log is not None else None}
        return with_default_log(body, default)["HostConfig"]["LogConfig"]

    assert merged(None) == {"Type": "local", "Config": {"max-size": "1m"}}
    assert merged({"Type": "local", "Config": {"max-file": "2"}}) == {"Type": "local",
                                                                      "Config": {"max-size": "1m", "max-file": "2"}}
    assert merged({"Type": "json-file", "Config": {}}) == {"Type": "json-file", "Config": {}}
    (tmp_path / "daemon.toml").write_text('log_opts = {max-size = 1}\n')
    with pytest.raises(Exception, match="log_opts must be a table of strings"):
        load_config(tmp_path / "daemon.toml", env={})
