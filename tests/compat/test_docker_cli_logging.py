"""The real docker CLI on barge's log drivers: ``--log-driver local`` then ``docker logs`` (all, ``--tail``,
``--timestamps``), ``none`` and syslog's answers, option errors, and the daemon's default driver
(``log_driver`` in daemon.toml) as ``docker info`` and a container without ``--log-driver`` see it."""

from __future__ import annotations

import re
import socket
from contextlib import contextmanager

import pytest

from tests.compat.conftest import DOCKER, DockerCLI
from tests.integration.helpers import busybox_daemon

pytestmark = pytest.mark.compat


@contextmanager
def cli(tmp_path, config: str | None = None):
    if DOCKER is None:
        pytest.skip("the docker CLI is not installed (/usr/local/bin/docker on this machine kind)")
    with busybox_daemon("barge-lg-", config=config) as d:
        yield d, DockerCLI(d, tmp_path)


def test_local_driver_then_docker_logs(tmp_path):
    script = "i=0; while [ $i -lt 100 ]; do echo line-$i; i=$((i+1)); done; echo oops >&2"
    with cli(tmp_path) as (d, docker):
        docker("run", "--pull", "never", "--name", "lg", "--log-driver", "local", "--log-opt", "max-size=1k",
               "--log-opt", "max-file=3", "busybox", "sh", "-c", script)
        out = docker("logs", "lg")
        lines = out.stdout.decode().splitlines()
        assert lines[-1] == "line-99" and out.stderr == b"oops\n"
        first = int(lines[0].split("-")[1])
        assert first > 0 and lines == [f"line-{i}" for i in range(first, 100)]  # older ones rotated away
        tail = docker("logs", "--tail", "3", "lg")  # the last three records, of both streams
        assert (tail.stdout, tail.stderr) == (b"line-98\nline-99\n", b"oops\n")
        stamped = docker.out("logs", "--timestamps", "--tail", "2", "lg")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z line-99", stamped), stamped
        assert docker.out("inspect", "-f", "{{.HostConfig.LogConfig.Type}} {{json .LogPath}}", "lg") == 'local ""'
        local = d.data_root / "containers" / docker.out("inspect", "-f", "{{.Id}}", "lg") / "local-logs"
        assert (local / "container.log.1.gz").exists()

        docker("run", "--pull", "never", "--name", "quiet", "--log-driver", "none", "busybox", "echo", "hi")
        res = docker("logs", "quiet", check=False)
        assert res.returncode != 0
        assert b"configured logging driver does not support reading" in res.stderr

        res = docker("create", "--pull", "never", "--log-opt", "foo=bar", "busybox", check=False)
        assert b"unknown log opt 'foo' for json-file log driver" in res.stderr
        info = docker.out("info", "--format", "{{.LoggingDriver}} {{json .Plugins.Log}}")
        assert info.startswith("json-file [") and '"local"' in info and '"syslog"' in info


def test_syslog_to_a_unix_socket_and_the_daemons_default_driver(tmp_path):
    with cli(tmp_path, config='log_driver = "local"\nlog_opts = {max-file = "2"}\n') as (d, docker):
        path = d.root / "syslog.sock"
        server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        server.bind(str(path))
        server.settimeout(10)
        try:
            docker("run", "--pull", "never", "--name", "sl", "--log-driver", "syslog", "--log-opt",
                   f"syslog-address=unixgram://{path}", "busybox", "echo", "to-syslog")
            got = server.recv(4096)
            short = docker.out("inspect", "-f", "{{.Id}}", "sl")[:12]
            assert got.startswith(b"<30>") and got.endswith(f" {short}[".encode() + got.split(b"[")[1].split(b"]")[0]
                                                             + b"]: to-syslog\n")
            assert docker("logs", "sl").stdout == b"to-syslog\n"  # dockerd 20.10's dual-logging cache
        finally:
            server.close()
        assert docker.out("info", "--format", "{{.LoggingDriver}}") == "local"
        docker("run", "--pull", "never", "--name", "dflt", "busybox", "echo", "default")
        assert docker.out("inspect", "-f", "{{json .HostConfig.LogConfig}}", "dflt") == \
            '{"Type":"local","Config":{"max-file":"2"}}'
        assert docker("logs", "dflt").stdout == b"default\n"
