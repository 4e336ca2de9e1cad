"""Container commands of the CLI: flags -> Docker's request shapes, the run
flow's call order and exit codes, and docker's output (tables, ids, errors),
against the scripted fake daemon of test_client_stream.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest
from typer.testing import CliRunner

from barge.cli.dockerflags import normalize
from barge.cli.main import app
from barge.client import stdcopy
from barge.client.errors import ClientError
from barge.client.runconfig import (
    ContainerOptions,
    OptionError,
    build_create_body,
    build_update_body,
    parse_port_specs,
    parse_size,
    read_kv_file,
)
from tests.unit.test_client_stream import UPGRADED, ScriptedDaemon

runner = CliRunner()
CID = "c0ffee" + "0" * 58


@pytest.fixture
def fake(tmp_path):
    d = ScriptedDaemon(str(tmp_path / "fake.sock"))
    yield d
    d.close()


def run(fake, *args, input=None):
    return runner.invoke(app, ["-H", "unix://" + fake.path, *args], input=input)


# ------------------------------------------------------------------ flags -> body

def test_flags_become_dockers_host_config():
    opts = ContainerOptions(
        image="busybox", args=["sh", "-c", "echo hi"], memory="64m", memory_swap="-1", cpus="1.5",
        env=["A=1", "FROM_ENV", "UNSET"], ulimits=["nofile=100:200", "nproc=50"], volumes=["/a:/b:ro", "/anon"],
        cap_drop=["ALL"], cap_add=["NET_ADMIN"], pids_limit=100, cpuset_cpus="0", cpu_shares=512,
        shm_size="128m", tmpfs=["/run:rw,size=64m"], labels=["a=1", "b"], hostname="h", user="1000:1000",
        workdir="/tmp", read_only=True, restart="on-failure:3", stop_signal="SIGUSR1", stop_timeout=3,
        log_opt=["max-size=10m", "max-file=3"], log_driver="json-file", network=["none"], init=True,
        publish=["127.0.0.1:8080:80/tcp", "53/udp"],
    )
    body = build_create_body(opts, environ={"FROM_ENV": "yes"})
    hc = body["HostConfig"]
    assert hc["Memory"] == 64 << 20 and hc["MemorySwap"] == -1 and hc["NanoCpus"] == 1_500_000_000
    assert hc["Ulimits"] == [{"Name": "nofile", "Hard": 200, "Soft": 100}, {"Name": "nproc", "Hard": 50, "Soft": 50}]
    assert hc["Binds"] == ["/a:/b:ro"] and body["Volumes"] == {"/anon": {}}
    assert hc["CapDrop"] == ["ALL"] and hc["CapAdd"] == ["NET_ADMIN"]
    assert hc["PidsLimit"] == 100 and hc["CpusetCpus"] == "0" and hc["CpuShares"] == 512
    assert hc["ShmSize"] == 128 << 20 and hc["Tmpfs"] == {"/run": "rw,size=64m"}
    assert hc["ReadonlyRootfs"] is True and hc["Init"] is True and hc["NetworkMode"] == "none"
    assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert hc["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}}
    assert hc["PortBindings"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}], "53/udp": [{"HostIp": "", "HostPort": ""}]}
    assert body["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert body["Env"] == ["A=1", "FROM_ENV=yes", "UNSET"]
    assert body["Cmd"] == ["sh", "-c", "echo hi"] and body["Entrypoint"] is None
    assert body["Labels"] == {"a": "1", "b": ""} and body["Hostname"] == "h" and body["User"] == "1000:1000"
    assert body["WorkingDir"] == "/tmp" and body["StopSignal"] == "SIGUSR1" and body["StopTimeout"] == 3
    assert body["NetworkingConfig"] == {"EndpointsConfig": {}}
    # Not interactive: stdout and stderr attached, stdin not.
    assert (body["AttachStdin"], body["AttachStdout"], body["AttachStderr"], body["OpenStdin"]) == (False, True, True, False)


def test_defaults_match_the_docker_client():
    body = build_create_body(ContainerOptions(image="busybox", interactive=True, tty=True), environ={})
    hc = body["HostConfig"]
    assert body["Tty"] and body["OpenStdin"] and body["StdinOnce"] and body["AttachStdin"]
    assert body["Cmd"] is None and body["Env"] is None and body["Labels"] == {}
    assert hc["NetworkMode"] == "default" and body["NetworkingConfig"] == {"EndpointsConfig": {"default": {}}}
    assert hc["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}
    assert hc["MemorySwappiness"] == -1 and hc["PidsLimit"] == 0 and hc["ShmSize"] == 0
    assert "Init" not in hc and "StopTimeout" not in body and hc["LogConfig"] == {"Type": "", "Config": {}}
    only_err = build_create_body(ContainerOptions(image="x", attach=["STDERR"]), environ={})
    assert (only_err["AttachStdin"], only_err["AttachStdout"], only_err["AttachStderr"]) == (False, False, True)
    assert build_create_body(ContainerOptions(image="x", entrypoint=""), environ={})["Entrypoint"] == [""]


def test_sizes_ports_and_files(tmp_path):
    assert parse_size("64m") == 64 << 20 and parse_size("1.5g") == 3 << 29 and parse_size("100") == 100
    assert parse_size("2KiB") == 2048 and parse_size("10 MB") == 10 << 20
    for bad in ("x", "12q", "-1m", "1mbb"):
        with pytest.raises(ValueError):
            parse_size(bad)
    exposed, bindings = parse_port_specs(["8000-8001:80-81", "[::1]:9000:90"])
    assert bindings == {"80/tcp": [{"HostIp": "", "HostPort": "8000"}], "81/tcp": [{"HostIp": "", "HostPort": "8001"}],
                        "90/tcp": [{"HostIp": "::1", "HostPort": "9000"}]}
    env = tmp_path / "env"
    env.write_text("# comment\n\nA=1\n  B=two words \nPASS\nMISSING\n")
    assert read_kv_file(str(env), {"PASS": "p"}) == ["A=1", "B=two words ", "PASS=p"]
    (tmp_path / "bad").write_text("A B=1\n")
    with pytest.raises(ClientError, match="variable 'A B' contains whitespaces"):
        read_kv_file(str(tmp_path / "bad"), {})


@pytest.mark.parametrize("flags, message", [
    (["-m", "lots"], 'invalid argument "lots" for "-m, --memory" flag: invalid size: \'lots\''),
    (["--cpus", "0.0000000001"], 'invalid argument "0.0000000001" for "--cpus" flag: value is too precise'),
    (["--ulimit", "nofile=200:100"], "ulimit soft limit must be less than or equal to hard limit: 200 > 100"),
    (["--ulimit", "bogus=1"], "invalid ulimit type: bogus"),
    (["--rm", "--restart", "always"], "conflicting options: cannot specify both --restart and --rm"),
    (["--restart", ":3"], "invalid restart policy format: no policy provided before colon"),
    (["--log-driver", "none", "--log-opt", "a=b"], "invalid logging opts for driver none"),
])
def test_bad_flags_exit_125_before_any_request(fake, flags, message):
    result = run(fake, "run", *flags, "busybox")
    assert result.exit_code == 125, result.output
    assert message in result.stderr
    assert result.stderr.startswith("barge: ") and "Run 'barge run --help' for more information" in result.stderr
    assert fake.calls() == []


def test_update_body():
    body = build_update_body(memory="32m", cpus="0.5", pids_limit=50, restart="always")
    assert body["Memory"] == 32 << 20 and body["NanoCpus"] == 500_000_000 and body["PidsLimit"] == 50
    assert body["RestartPolicy"] == {"Name": "always", "MaximumRetryCount": 0}
    assert "PidsLimit" not in build_update_body(memory="1m")


def test_docker_style_boolean_values_are_accepted():
    from barge.cli.lazy import command

    run_cmd = command(app).commands["run"]
    args = ["--rm=true", "--sig-proxy=false", "-it", "--name", "--rm=true", "-e", "X=1", "busybox", "echo", "--rm=false"]
    assert normalize(run_cmd, args, interspersed=False) == [
        "--rm", "--no-sig-proxy", "-it", "--name", "--rm=true", "-e", "X=1", "busybox", "echo", "--rm=false"]
    assert normalize(run_cmd, ["-dm", "1g", "x"], interspersed=False) == ["-dm", "1g", "x"]


# ------------------------------------------------------------------ run flow

class RunScript:
    """create -> attach -> wait -> start, with output after start and the exit after the output."""

    def __init__(self, fake, status=0, frames=(), tty=False, start_error=None, create_error=None):
        self.started = threading.Event()
        self.attaching = False
        self.attach_done = threading.Event()  # the output is all sent
        self.exited = threading.Event()  # the exit status is sent
        self.stdin = b""
        fake.on("POST", "/containers/create", self.create)
        fake.on("POST", f"/containers/{CID}/attach", self.attach)
        fake.on("POST", f"/containers/{CID}/wait", self.wait)
        fake.on("POST", f"/containers/{CID}/start", self.start)
        fake.on("POST", f"/containers/{CID}/resize", lambda req: req.reply(200))
        fake.on("POST", f"/containers/{CID}/kill", lambda req: req.reply(204))
        self.status, self.frames, self.tty = status, frames, tty
        self.start_error, self.create_error = start_error, create_error
        self.body = None

    def create(self, req):
        self.body = req.json()
        if self.create_error:
            req.error(*self.create_error)
        else:
            req.reply(201, {"Id": CID, "Warnings": ["careful"]})

    def attach(self, req):
        self.attaching = True  # before the 101: the client asks for the wait only after it
        req.sock.sendall(UPGRADED)
        if req.query.get("stdin"):
            self.stdin = req.recv_all()
        self.started.wait(10)
        for stream, payload in self.frames:
            req.sock.sendall(payload if self.tty else stdcopy.frame(stream, payload))
        req.sock.close()
        self.attach_done.set()

    def wait(self, req):
        req.sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
        if self.started.wait(10) and (not self.attaching or self.attach_done.wait(10)):
            req.sock.sendall(json.dumps({"StatusCode": self.status, "Error": None}).encode())
        req.sock.close()
        self.exited.set()

    def start(self, req):
        if self.start_error:
            req.error(*self.start_error)
            return
        self.started.set()
        req.reply(204)


def test_run_attached_streams_and_exits_with_the_containers_code(fake):
    script = RunScript(fake, status=3, frames=[(1, b"to stdout\n"), (2, b"to stderr\n")])
    result = run(fake, "run", "--name", "web", "busybox", "sh", "-c", "exit 3")
    assert result.exit_code == 3, result.output
    assert result.stdout == "to stdout\n"
    assert result.stderr == "WARNING: careful\nto stderr\n"
    assert fake.calls() == ["POST /containers/create", f"POST /containers/{CID}/attach",
                            f"POST /containers/{CID}/wait", f"POST /containers/{CID}/start"]
    create, attach, wait = fake.requests[1], fake.requests[2], fake.requests[3]
    assert create.query == {"name": "web"} and script.body["Cmd"] == ["sh", "-c", "exit 3"]
    assert attach.query == {"stream": "1", "stdout": "1", "stderr": "1"}
    assert wait.query == {"condition": "next-exit"}


def test_run_interactive_sends_stdin_and_half_closes(fake):
    script = RunScript(fake, status=0, frames=[(1, b"ok\n")])
    result = run(fake, "run", "-i", "--rm", "busybox", "cat", input=b"piped data\n")
    assert result.exit_code == 0, result.output
    assert script.stdin == b"piped data\n" and result.stdout == "ok\n"
    assert script.body["OpenStdin"] and script.body["StdinOnce"] and script.body["HostConfig"]["AutoRemove"]
    attach = next(r for r in fake.requests if r.route.endswith("/attach"))
    wait = next(r for r in fake.requests if r.route.endswith("/wait"))
    assert attach.query["stdin"] == "1" and wait.query == {"condition": "removed"}


def test_run_detached_prints_the_id(fake):
    script = RunScript(fake)
    result = run(fake, "run", "-d", "busybox", "top")
    assert result.exit_code == 0, result.output
    assert result.stdout == CID + "\n"
    assert fake.calls() == ["POST /containers/create", f"POST /containers/{CID}/wait", f"POST /containers/{CID}/start"]
    assert not script.body["AttachStdout"] and not script.body["AttachStderr"]


def test_run_tty_without_terminal_is_refused(fake):
    result = run(fake, "run", "-it", "busybox", "sh")
    assert result.exit_code == 1 and result.stderr == "the input device is not a TTY\n"
    assert fake.calls() == []


@pytest.mark.parametrize("message, code", [
    ('failed to create task: exec: "nosuch": executable file not found in $PATH', 127),
    ("exec /etc/passwd: permission denied", 126),
    ("cgroup: something else went wrong", 125),
])
def test_run_start_failure_exit_codes(fake, message, code):
    RunScript(fake, start_error=(400, message))
    result = run(fake, "run", "busybox", "nosuch")
    assert result.exit_code == code, result.output
    assert f"barge: Error response from daemon: {message}" in result.stderr


def test_run_missing_image_tries_to_pull(fake):
    RunScript(fake, create_error=(404, "No such image: nosuch:latest"))
    fake.on("POST", "/images/create", lambda req: req.error(404, "pull access denied for nosuch"))
    result = run(fake, "run", "nosuch")
    assert result.exit_code == 125
    assert result.stderr.startswith("Unable to find image 'nosuch:latest' locally\n")
    assert "barge: Error response from daemon: pull access denied for nosuch" in result.stderr
    pull = next(r for r in fake.requests if r.route == "/images/create")
    assert pull.query == {"fromImage": "docker.io/library/nosuch", "tag": "latest"}


def test_create_prints_id_and_daemon_errors_exit_1(fake):
    RunScript(fake)
    result = run(fake, "create", "--name", "x", "-h", "myhost", "busybox")
    assert result.exit_code == 0 and result.stdout == CID + "\n"
    assert fake.requests[-1].json()["Hostname"] == "myhost"
    fake.on("POST", "/containers/create", lambda req: req.error(409, 'Conflict. The container name "/x" is already in use'))
    result = run(fake, "create", "--name", "x", "busybox")
    assert result.exit_code == 1
    assert result.stderr == 'Error response from daemon: Conflict. The container name "/x" is already in use\n'


def test_start_attach_runs_the_start_flow(fake):
    RunScript(fake, status=7, frames=[(1, b"hello\n")])
    fake.on("GET", "/containers/web/json", lambda req: req.reply(200, {
        "Id": CID, "Config": {"Tty": False, "OpenStdin": False}, "HostConfig": {"AutoRemove": False}}))
    result = run(fake, "start", "-a", "web")
    assert result.exit_code == 7 and result.stdout == "hello\n"
    assert fake.calls()[-3:] == [f"POST /containers/{CID}/attach", f"POST /containers/{CID}/wait",
                                 f"POST /containers/{CID}/start"]


def test_attach_refuses_a_stopped_container(fake):
    fake.on("POST", "/containers/web/wait", lambda req: req.reply(200, {"StatusCode": 0}))
    fake.on("GET", "/containers/web/json", lambda req: req.reply(200, {"Id": CID, "State": {"Running": False}, "Config": {}}))
    result = run(fake, "attach", "web")
    assert result.exit_code == 1 and result.stderr == "You cannot attach to a stopped container, start it first\n"


# ------------------------------------------------------------------ ps

SUMMARY = {
    "Id": CID, "Names": ["/web"], "Image": "busybox", "ImageID": "sha256:" + "b" * 64,
    "Command": "sh -c 'while true; do sleep 1; done'", "Created": int(time.time()) - 125, "State": "running",
    "Status": "Up 2 minutes", "Ports": [{"PrivatePort": 80, "Type": "tcp"}, {"PrivatePort": 81, "Type": "tcp"},
                                        {"IP": "0.0.0.0", "PrivatePort": 53, "PublicPort": 5353, "Type": "udp"}],
    "Labels": {"b": "2", "a": "1"}, "SizeRw": 12, "SizeRootFs": 4_400_000,
}


def test_ps_table(fake):
    fake.on("GET", "/containers/json", lambda req: req.reply(200, [SUMMARY]))
    result = run(fake, "ps")
    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()
    assert header.split("   ") == ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"] or \
        [h.strip() for h in header.split("  ") if h.strip()] == ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    assert row.startswith("c0ffee000000   busybox   \"sh -c 'while true; …\"   2 minutes ago   Up 2 minutes   ")
    assert "80-81/tcp, 0.0.0.0:5353->53/udp" in row and row.endswith("web")
    assert fake.requests[-1].query == {}


def test_ps_flags_and_formats(fake):
    fake.on("GET", "/containers/json", lambda req: req.reply(200, [SUMMARY]))
    assert run(fake, "ps", "-q").stdout == "c0ffee000000\n"
    assert run(fake, "ps", "-aq", "--no-trunc").stdout == CID + "\n"
    assert fake.requests[-1].query == {"all": "1"}
    result = run(fake, "ps", "-n", "2", "-f", "status=running", "-f", "label=a=1", "--format", "{{.Names}} {{.Label \"b\"}} {{.Labels}}")
    assert result.stdout == "web 2 a=1,b=2\n"
    assert fake.requests[-1].query["limit"] == "2"
    assert json.loads(fake.requests[-1].query["filters"]) == {"status": {"running": True}, "label": {"a=1": True}}
    assert run(fake, "ps", "-l").exit_code == 0 and fake.requests[-1].query == {"limit": "1"}
    result = run(fake, "ps", "--format", "table {{.ID}}\\t{{.Size}}")
    assert fake.requests[-1].query == {"size": "1"}  # .Size in the template asks for sizes
    assert result.stdout.splitlines()[1].split(None, 1)[1] == "12B (virtual 4.4MB)"
    assert json.loads(run(fake, "ps", "--format", "json").stdout)["Names"] == "web"
    warned = run(fake, "ps", "-q", "--format", "{{.Names}}")
    assert warned.stdout == "c0ffee000000\n" and "Ignoring custom format" in warned.stderr
    bad = run(fake, "ps", "--format", "{{.Nope}}")
    assert bad.exit_code == 1 and "can't evaluate field Nope" in bad.stderr


# ------------------------------------------------------------------ simple commands

def test_stop_kill_rm_echo_names_and_collect_errors(fake):
    for route in ("stop", "kill", "pause", "unpause", "restart"):
        fake.on("POST", f"/containers/a/{route}", status=204)
    fake.on("POST", "/containers/b/stop", lambda req: req.error(404, "No such container: b"))
    fake.on("DELETE", "/containers/a", status=204)
    fake.on("DELETE", "/containers/b", lambda req: req.error(404, "No such container: b"))
    result = run(fake, "stop", "-t", "3", "-s", "USR1", "a", "b")
    assert result.exit_code == 1 and result.stdout == "a\n"
    assert result.stderr == "Error response from daemon: No such container: b\n"
    stop_a = next(r for r in fake.requests if r.route == "/containers/a/stop")
    assert stop_a.query == {"t": "3", "signal": "USR1"}
    assert run(fake, "kill", "-s", "HUP", "a").stdout == "a\n"
    assert run(fake, "container", "pause", "a").stdout == "a\n"
    assert run(fake, "unpause", "a").stdout == "a\n"
    assert run(fake, "restart", "a").stdout == "a\n"
    forced = run(fake, "rm", "-f", "a", "b")  # a missing container is only reported with -f
    assert forced.exit_code == 0 and forced.stdout == "a\n" and "No such container: b" in forced.stderr
    assert run(fake, "container", "rm", "b").exit_code == 1


def test_wait_prints_codes(fake):
    fake.on("POST", "/containers/a/wait", lambda req: req.reply(200, {"StatusCode": 0, "Error": None}))
    fake.on("POST", "/containers/b/wait", lambda req: req.reply(200, {"StatusCode": 137, "Error": None}))
    result = run(fake, "wait", "a", "b")
    assert result.exit_code == 0 and result.stdout == "0\n137\n"


def test_logs_keeps_stdout_and_stderr_apart(fake):
    fake.on("GET", "/containers/web/json", lambda req: req.reply(200, {"Id": CID, "Config": {"Tty": False}}))
    fake.on("GET", f"/containers/{CID}/logs", lambda req: req.reply(
        200, stdcopy.frame(1, b"out\n") + stdcopy.frame(2, b"err\n"), {"Content-Type": "application/vnd.docker.multiplexed-stream"}))
    result = run(fake, "logs", "-t", "--tail", "5", "--since", "2013-01-02T13:23:37Z", "web")
    assert result.exit_code == 0 and result.stdout == "out\n" and result.stderr == "err\n"
    assert fake.requests[-1].query == {"stdout": "1", "stderr": "1", "since": "1357133017.000000000",
                                       "timestamps": "1", "tail": "5"}
    assert run(fake, "logs", "--since", "yesterday-ish", "web").exit_code == 1


def test_top_stats_rename_update(fake):
    fake.on("GET", "/containers/web/top", lambda req: req.reply(200, {
        "Titles": ["UID", "PID", "CMD"], "Processes": [["root", "4242", "sleep 60"]]}))
    top = run(fake, "top", "web", "-ef")
    assert top.stdout == "UID                 PID                 CMD\nroot                4242                sleep 60\n"
    assert fake.requests[-1].query == {"ps_args": "-ef"}

    sample = {"name": "/web", "id": CID, "pids_stats": {"current": 3},
              "cpu_stats": {"cpu_usage": {"total_usage": 2_000_000}, "system_cpu_usage": 20_000_000, "online_cpus": 2},
              "precpu_stats": {"cpu_usage": {"total_usage": 1_000_000}, "system_cpu_usage": 10_000_000},
              "memory_stats": {"usage": 3 << 20, "limit": 64 << 20, "stats": {"inactive_file": 1 << 20}},
              "networks": {"eth0": {"rx_bytes": 1000, "tx_bytes": 2000}},
              "blkio_stats": {"io_service_bytes_recursive": [{"op": "read", "value": 4096}, {"op": "Write", "value": 0}]}}
    fake.on("GET", "/containers/web/stats", lambda req: req.reply(200, sample))
    stats = run(fake, "stats", "--no-stream", "web")
    assert stats.exit_code == 0, stats.output
    header, row = stats.stdout.splitlines()
    assert header.split() == ["CONTAINER", "ID", "NAME", "CPU", "%", "MEM", "USAGE", "/", "LIMIT", "MEM", "%",
                              "NET", "I/O", "BLOCK", "I/O", "PIDS"]
    assert row.split() == ["c0ffee000000", "web", "20.00%", "2MiB", "/", "64MiB", "3.12%", "1kB", "/", "2kB",
                           "4.1kB", "/", "0B", "3"]
    assert fake.requests[-1].query == {"stream": "0"}
    assert run(fake, "stats", "--no-stream", "--format", "{{.Name}}: {{.MemPerc}}", "web").stdout == "web: 3.12%\n"

    fake.on("POST", "/containers/web/rename", lambda req: req.error(409, "name in use"))
    renamed = run(fake, "rename", "web", "db")
    assert renamed.exit_code == 1
    assert renamed.stderr == "Error response from daemon: name in use\nError: failed to rename container named web\n"

    assert run(fake, "update", "web").stderr == "you must provide one or more flags when using this command\n"
    fake.on("POST", "/containers/web/update", lambda req: req.reply(200, {"Warnings": []}))
    assert run(fake, "update", "-m", "32m", "--pids-limit", "9", "web").stdout == "web\n"
    sent = fake.requests[-1].json()
    assert sent["Memory"] == 32 << 20 and sent["PidsLimit"] == 9


def test_container_group_and_help():
    result = runner.invoke(app, ["container", "--help"])
    for name in ("ls", "run", "create", "start", "stop", "rm", "logs", "inspect", "top", "stats", "update", "wait"):
        assert f"  {name} " in result.output
    help_ = runner.invoke(app, ["run", "--help"])
    assert help_.exit_code == 0 and "-h, --hostname" in help_.output and "--sig-proxy" in help_.output


def test_container_modules_do_not_load_server_or_drivers():
    code = (
        "import sys, barge.cli.main\n"
        "from barge.cli import containers, run, streams, stats, dockerflags, lazy\n"
        "from barge.client import attach, hijack, stdcopy, term, signals, runconfig, container_format\n"
        "from barge import timefmt\n"
        "from barge.cli.lazy import command\n"
        "group = command(barge.cli.main.app)\n"
        "for name in ('run', 'create', 'ps', 'logs', 'start', 'attach', 'stats', 'container'):\n"
        "    group.commands[name]\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'pluggy', 'stevedore', 'rich') "
        "or m.startswith(('barge.api', 'barge.daemon', 'barge.graph', 'barge.engine', 'barge.containers', "
        "'barge.execdriver', 'barge_graph', 'barge_exec'))]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_events_keep_what_arrives_out_of_order():
    from barge.cli.streams import Events

    events = Events()
    events.put(("status", 6))
    events.put(("stream", None))
    assert events.next("stream") == ("stream", None)
    assert events.next("status") == ("status", 6)  # arrived first, kept for later
    assert events.next("status", timeout=0.05) == ("status", None)


def test_start_attach_when_the_exit_comes_before_the_output_ends(fake):
    script = RunScript(fake, status=6)

    def slow_attach(req):  # the wait answers before the stream closes
        req.sock.sendall(UPGRADED)
        script.exited.wait(10)
        req.sock.sendall(stdcopy.frame(1, b"started\n"))
        req.sock.close()

    fake.on("POST", f"/containers/{CID}/attach", slow_attach)
    fake.on("GET", "/containers/sa/json", lambda req: req.reply(200, {
        "Id": CID, "Config": {"Tty": False, "OpenStdin": False}, "HostConfig": {}}))
    result = run(fake, "start", "-a", "sa")
    assert result.exit_code == 6 and result.stdout == "started\n"


def test_stats_streams_until_interrupted(fake):
    import signal

    sample = {"name": "/web", "id": CID, "pids_stats": {"current": 2}, "memory_stats": {"usage": 1 << 20, "limit": 2 << 20}}

    def stream(req):
        req.sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
        for _ in range(20):
            req.sock.sendall(json.dumps(sample).encode() + b"\n")
            time.sleep(0.1)  # not a wait: a sample every 0.1 s, so the interrupt lands mid-stream
        req.sock.close()

    fake.on("GET", "/containers/web/stats", stream)

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 1.3)
    try:
        result = run(fake, "stats", "web")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert result.exit_code == 130
    frames = result.stdout.split("\033[H")[1:]
    assert len(frames) >= 2  # redrawn in place, about twice a second
    assert "web" in frames[-1] and "50.00%" in frames[-1] and frames[-1].endswith("\033[J")
    assert fake.requests[-1].query == {"stream": "1"}


def test_exec_creates_starts_hijacked_and_reports_the_exit_code(fake):
    fake.on("GET", "/containers/web/json", lambda req: req.reply(200, {"Id": CID, "State": {"Running": True}}))
    fake.on("POST", "/containers/web/exec", lambda req: req.reply(201, {"Id": "e" * 64}))
    got = {}

    def start(req):
        got["body"], got["headers"] = req.json(), req.headers
        req.sock.sendall(UPGRADED)
        got["stdin"] = req.recv_all()
        req.sock.sendall(stdcopy.frame(1, got["stdin"][::-1]) + stdcopy.frame(2, b"warn\n"))
        req.sock.close()

    fake.on("POST", f"/exec/{'e' * 64}/start", start)
    fake.on("GET", f"/exec/{'e' * 64}/json", lambda req: req.reply(200, {"ExitCode": 4, "Running": False}))
    result = run(fake, "exec", "-i", "-e", "A=1", "-u", "nobody", "-w", "/tmp", "web", "rev", "-x", input=b"abc")
    assert result.exit_code == 4, result.output
    assert result.stdout == "cba" and result.stderr == "warn\n"
    create = next(r for r in fake.requests if r.route == "/containers/web/exec").json()
    assert create["Cmd"] == ["rev", "-x"] and create["Env"] == ["A=1"] and create["User"] == "nobody"
    assert create["AttachStdin"] and create["AttachStdout"] and create["AttachStderr"] and not create["Tty"]
    assert got["body"] == {"Detach": False, "Tty": False}
    assert got["headers"]["upgrade"] == "tcp" and got["headers"]["content-type"] == "application/json"
    assert fake.calls() == ["GET /containers/web/json", "POST /containers/web/exec",
                            f"POST /exec/{'e' * 64}/start", f"GET /exec/{'e' * 64}/json"]


def test_exec_detached_and_missing_container(fake):
    fake.on("GET", "/containers/web/json", lambda req: req.reply(200, {"Id": CID}))
    fake.on("POST", "/containers/web/exec", lambda req: req.reply(201, {"Id": "e" * 64}))
    fake.on("POST", f"/exec/{'e' * 64}/start", lambda req: req.reply(200))
    result = run(fake, "exec", "-d", "web", "sleep", "5")
    assert result.exit_code == 0 and result.stdout == ""
    assert fake.requests[-1].json() == {"Detach": True, "Tty": False}
    fake.on("GET", "/containers/gone/json", lambda req: req.error(404, "No such container: gone"))
    missing = run(fake, "exec", "gone", "true")
    assert missing.exit_code == 1 and missing.stderr == "Error response from daemon: No such container: gone\n"
    assert run(fake, "exec", "-it", "web", "sh").stderr == "the input device is not a TTY\n"


def test_cpus_are_exact_rationals():
    from barge.client.runconfig import parse_cpus

    assert [parse_cpus(v) for v in ("1.5", "2", ".5", "1e-9", "3/2", "0.000000001")] == [
        1_500_000_000, 2_000_000_000, 500_000_000, 1, 1_500_000_000, 1]
    for bad, message in (("0.0000000001", "too precise"), ("abc", "rational"), ("1/0", "rational")):
        with pytest.raises(ValueError, match=message):
            parse_cpus(bad)


def test_health_flags_make_the_docker_clis_healthcheck():
    """The create body's Healthcheck as the docker CLI builds it from --health-* and --no-healthcheck."""
    opts = ContainerOptions(image="busybox", health_cmd="curl -f localhost", health_interval="1m30s",
                            health_timeout="3s", health_retries=4, health_start_period="500ms")
    assert build_create_body(opts, environ={})["Healthcheck"] == {
        "Test": ["CMD-SHELL", "curl -f localhost"], "Interval": 90_000_000_000, "Timeout": 3_000_000_000,
        "StartPeriod": 500_000_000, "StartInterval": 0, "Retries": 4}
    assert build_create_body(ContainerOptions(image="busybox", no_healthcheck=True), environ={})["Healthcheck"] == \
        {"Test": ["NONE"]}
    assert "Healthcheck" not in build_create_body(ContainerOptions(image="busybox"), environ={})
    with pytest.raises(OptionError, match="--no-healthcheck conflicts with --health-\\* options"):
        build_create_body(ContainerOptions(image="busybox", no_healthcheck=True, health_cmd="x"), environ={})
    with pytest.raises(OptionError, match='invalid argument "5x" for "--health-interval" flag'):
        build_create_body(ContainerOptions(image="busybox", health_interval="5x"), environ={})
