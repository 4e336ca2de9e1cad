"""docker-compose 1.29 (Debian's package) runs multi-service apps on barge, end to end.

The apps are under compose_apps/ (one folder each): ``shop`` (build, the three
``depends_on`` conditions, a user network with aliases, a domain name, a named
volume across ``down``), ``cluster`` (a file of format 2.4: ``--scale`` up and
down, an ``internal`` network, a published port, ``env_file``, ``exec``,
``run --rm`` through the docker CLI, docker-py and a terminal), ``worker``
(attached ``up --exit-code-from``, ``logs -f``, ``restart``, ``stop``/``start``,
``ps``, a recreate), ``gate`` (conditions that never hold) and ``scratch``
(a tmpfs volume from ``driver_opts``, shared by two services). Two API checks
follow what compose reads (image inspect's ``ContainerConfig``, a failed
start's exit code). Images are built from barge's local busybox; every
``image: busybox`` says ``pull_policy: never``: nothing is pulled. Every
project is brought ``down -v`` and checked gone through the API. Traffic goes
only to 127.0.0.1 and to the containers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from barge.testing.wait import wait_for
from tests.compat.conftest import DOCKER, own_daemon, pty_run
from tests.conftest import Daemon, network_tag
from tests.net_helpers import free_subnet

pytestmark = pytest.mark.compat

COMPOSE = shutil.which("docker-compose")
APPS = Path(__file__).parent / "compose_apps"
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Compose:
    """``docker-compose -p <project> -f <app>/docker-compose.yml`` against one daemon."""

    def __init__(self, daemon: Daemon, app: str, config_dir: Path, env: dict[str, str] | None = None):
        self.daemon = daemon
        self.project = f"{app}{uuid.uuid4().hex[:6]}"
        self.file = APPS / app / "docker-compose.yml"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "COMPOSE_"))}
        # COLUMNS: compose wraps its tables to the terminal's width (80 without one), cells split mid-word
        self.env.update(DOCKER_HOST=daemon.url, DOCKER_CONFIG=str(config_dir), COLUMNS="250", **(env or {}))

    def __call__(self, *args: str, check: bool = True, timeout: float = 90,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        argv = [COMPOSE, "--ansi", "never", "-p", self.project, "-f", str(self.file), *args]
        proc = subprocess.run(argv, env={**self.env, **(env or {})}, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise AssertionError(f"docker-compose {' '.join(args)} exited {proc.returncode}\n"
                                 f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
        return proc

    def out(self, *args: str, **kw) -> str:
        return self(*args, **kw).stdout.strip()

    # -- the project as the API shows it ---------------------------------------

    def _filtered(self, kind: str, extra: str = "") -> list[dict]:
        label = {"label": [f"com.docker.compose.project={self.project}"]}
        query = urllib.parse.urlencode({"filters": json.dumps(label)})
        return self.daemon.json("GET", f"/{kind}?{query}{extra}")

    def containers(self) -> list[dict]:
        return self._filtered("containers/json", "&all=1")

    def networks(self) -> list[dict]:
        return self._filtered("networks")

    def volumes(self) -> list[dict]:
        return self._filtered("volumes")["Volumes"] or []

    def inspect(self, service: str, number: int = 1) -> dict:
        return self.daemon.json("GET", f"/containers/{self.project}_{service}_{number}/json")

    def down(self) -> None:
        self("down", "-v", "--remove-orphans", "-t", "1", check=False)


@pytest.fixture(scope="module")
def compose_daemon():
    """One barge daemon for the module, with busybox; each test's project is its own."""
    if COMPOSE is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    if DOCKER is None:  # compose runs `exec` and `run` through the docker CLI
        pytest.skip("the docker CLI is not installed (/usr/local/bin/docker on this machine kind)")
    with own_daemon("barge-dc-") as d:
        yield d


@pytest.fixture
def project(compose_daemon, tmp_path):
    """``project(app, **env)`` makes a Compose for ``compose_apps/<app>``; all are brought down after."""
    made: list[Compose] = []

    def make(app: str, **env: str) -> Compose:
        made.append(Compose(compose_daemon, app, tmp_path / "docker-config", env))
        return made[-1]

    yield make
    for c in made:
        c.down()


def assert_gone(c: Compose) -> None:
    assert c.containers() == []
    assert c.networks() == []
    assert c.volumes() == []


def parse_time(stamp: str) -> float:
    """An RFC 3339 time with nanoseconds as dockerd writes it, as epoch seconds (microsecond precision)."""
    from datetime import datetime

    head, _, frac = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(head + "+00:00").timestamp() + float("0." + (frac or "0"))


def firewall(daemon: Daemon) -> str:
    """The test daemon's nft table (inet, or ip where the bridge driver keeps IPv4 only)."""
    for family in ("inet", "ip"):
        listed = subprocess.run(["nft", "list", "table", family, f"barge_test_{network_tag(daemon.root)}"],
                                capture_output=True, text=True)
        if listed.returncode == 0:
            return listed.stdout
    raise AssertionError(f"the daemon's nft table is missing: {listed.stderr}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def host_get(url: str) -> str:
    def get() -> str:
        with OPENER.open(url, timeout=2) as resp:
            return resp.read().decode()

    return wait_for(get, 20, ignore=(OSError,), what=url)


def fetch(c: Compose, service: str, url: str) -> str:
    """``wget -qO- url`` inside a service's first container, retried while the server starts."""
    script = f"for i in $(seq 50); do timeout 2 wget -qO- {url} && exit 0; sleep 0.1; done; exit 1"
    return c.out("exec", "-T", service, "sh", "-c", script)


# ---------------------------------------------------------------------------
# shop: build, depends_on conditions, aliases, named volumes
# ---------------------------------------------------------------------------


def test_shop_build_conditions_aliases_and_volumes(project):
    c = project("shop")
    built = c("build")
    assert "Successfully tagged shop-db:test" in built.stdout
    assert f"Successfully tagged {c.project}_web:latest" in built.stdout
    assert "migrate uses an image, skipping" in built.stdout + built.stderr

    c("up", "-d")
    migrate, db, web, client = (c.inspect(s) for s in ("migrate", "db", "web", "client"))
    # service_completed_successfully: web started after the one-shot exited 0
    assert migrate["State"]["Status"] == "exited" and migrate["State"]["ExitCode"] == 0
    assert parse_time(web["State"]["StartedAt"]) >= parse_time(migrate["State"]["FinishedAt"])
    # service_healthy: after the image's HEALTHCHECK had a passing probe
    passed = [p for p in db["State"]["Health"]["Log"] if p["ExitCode"] == 0]
    assert db["Config"]["Healthcheck"]["Test"] == ["CMD-SHELL", "test -f /tmp/ready"]
    assert passed and parse_time(web["State"]["StartedAt"]) >= parse_time(passed[0]["End"])
    # service_started
    assert parse_time(client["State"]["StartedAt"]) >= parse_time(web["State"]["StartedAt"])

    # the aliases, through barge's DNS on the project's network
    front = f"{c.project}_front"
    assert set(web["NetworkSettings"]["Networks"][front]["Aliases"]) >= {"shop", "www", "web"}
    address = web["NetworkSettings"]["Networks"][front]["IPAddress"]
    assert f"{address}\twww-1.shop.test www-1" in c.out("exec", "-T", "web", "cat", "/etc/hosts").splitlines()
    assert fetch(c, "client", "http://shop/") == "welcome to the shop"
    first = fetch(c, "client", "http://www/data/seed.txt")
    assert first.startswith("migrated ")
    assert "Up (healthy)" in c.out("ps")

    # down without -v keeps the named volume; a second up runs the migration again over the same data
    c("down", "-t", "1")
    assert c.containers() == [] and c.networks() == []
    assert [v["Name"] for v in c.volumes()] == [f"{c.project}_data"]
    c("up", "-d")
    lines = fetch(c, "client", "http://web/data/seed.txt").splitlines()
    assert len(lines) == 2 and lines[0] == first

    c("down", "-v", "-t", "1")
    assert_gone(c)
    assert shop_images_left(c) == {"shop-db:test", f"{c.project}_web:latest"}  # down keeps images unless --rmi
    c("down", "--rmi", "local")  # the built image without an image: name (all would take busybox too)
    assert shop_images_left(c) == {"shop-db:test"}
    c.daemon.json("DELETE", "/images/shop-db:test")


def shop_images_left(c: Compose) -> set[str]:
    tags = {t for i in c.daemon.json("GET", "/images/json") for t in i["RepoTags"] or []}
    return tags & {"shop-db:test", f"{c.project}_web:latest"}


# ---------------------------------------------------------------------------
# gate: conditions that fail
# ---------------------------------------------------------------------------


def test_gate_conditions_that_fail_stop_the_up(project):
    c = project("gate")
    failed = c("up", "-d", "after-setup", check=False)
    assert failed.returncode == 1
    setup = c.inspect("setup")
    assert f'Container "{setup["Id"][:12]}" exited with code 3.' in failed.stderr
    assert not any(x["Names"] == [f"/{c.project}_after-setup_1"] and x["State"] == "running"
                   for x in c.containers())

    sick = c("up", "-d", "after-sick", check=False, timeout=60)
    assert sick.returncode == 1
    state = c.inspect("sick")["State"]
    assert state["Health"]["Status"] == "unhealthy" and state["Health"]["FailingStreak"] >= 2
    assert f'Container "{c.inspect("sick")["Id"][:12]}" is unhealthy.' in sick.stderr
    c.down()
    assert_gone(c)


# ---------------------------------------------------------------------------
# cluster: --scale, internal network, ports, env_file, exec, run --rm
# ---------------------------------------------------------------------------


def test_cluster_scale_ports_internal_env_exec_run(project):
    port = free_port()
    c = project("cluster", PORT=str(port))
    c("up", "-d", "--scale", "web=3")
    names = sorted(x["Names"][0] for x in c.containers())
    assert names == sorted([f"/{c.project}_proxy_1"] + [f"/{c.project}_web_{i}" for i in (1, 2, 3)])

    # the published port, from the host's loopback
    assert host_get(f"http://127.0.0.1:{port}/") == "proxy up\n"
    assert f"127.0.0.1:{port}->8080/tcp" in c.out("ps")
    assert c.out("port", "proxy", "8080") == f"127.0.0.1:{port}"

    # every replica answers to "api" on the internal network; env_file and environment both apply
    hosts = {c.inspect("web", i)["Config"]["Hostname"] for i in (1, 2, 3)}
    answers = {fetch(c, "proxy", "http://api/") for _ in range(12)}
    assert answers <= {f"hello from {h}" for h in hosts} and answers
    env = c.out("exec", "-T", "--index=2", "web", "env").splitlines()
    assert {"GREETING=hello", "QUOTED=two words", "EMPTY=", "ROLE=replica"} <= set(env)

    # internal: no gateway and no route out; the proxy, also on the default network, has one
    back = c.daemon.json("GET", f"/networks/{c.project}_back")
    assert back["Internal"] is True
    web_routes = c.out("exec", "-T", "web", "ip", "route")
    assert "default" not in web_routes and web_routes
    assert "default via" in c.out("exec", "-T", "proxy", "ip", "route")
    # the proxy's address on the default network is out of reach: refused at once, no route
    far = c.inspect("proxy")["NetworkSettings"]["Networks"][f"{c.project}_default"]["IPAddress"]
    refused = c("exec", "-T", "web", "wget", "-qO-", f"http://{far}:8080/", check=False)
    assert refused.returncode != 0 and "unreachable" in (refused.stdout + refused.stderr).lower()
    # and barge's firewall keeps the bridge to itself, with no masquerade for its subnet
    bridge, subnet = f"bg-{back['Id'][:12]}", back["IPAM"]["Config"][0]["Subnet"]
    table = firewall(c.daemon)
    assert f'iifname "{bridge}" oifname != "{bridge}" drop' in table
    assert not [line for line in table.splitlines() if subnet in line and "masquerade" in line]

    # exec: exit codes, user, workdir
    assert c("exec", "-T", "web", "sh", "-c", "exit 5", check=False).returncode == 5
    assert c.out("exec", "-T", "-u", "nobody", "-w", "/tmp", "web", "sh", "-c", "echo $(id -u) $(pwd)") == "65534 /tmp"

    # run --rm, through the docker CLI (compose's default) and through docker-py's attach, which compose
    # (dockerpty) makes only after the start: the short sleeps keep the process alive for it, as with dockerd
    for no_cli in ("0", "1"):
        env_ = {"COMPOSE_INTERACTIVE_NO_CLI": no_cli}
        ran = c("run", "--rm", "-T", "web", "sh", "-c", "sleep 0.3; echo $GREETING-$ROLE", env=env_)
        assert ran.stdout.strip().splitlines()[-1] == "hello-replica"
        assert c("run", "--rm", "-T", "web", "sh", "-c", "sleep 0.3; exit 3", check=False, env=env_).returncode == 3
    assert not [x for x in c.containers() if x["Labels"].get("com.docker.compose.oneoff") == "True"]
    assert len(c.containers()) == 4

    # a run on a terminal goes through the docker CLI with a tty
    code, output = pty_run({**c.env, "TERM": "dumb"},
                           [COMPOSE, "--ansi", "never", "-p", c.project, "-f", str(c.file),
                            "run", "--rm", "web", "sh", "-c", "tty && echo on-tty"], [(b"on-tty", b"")])
    assert code == 0 and b"/dev/pts/0" in output

    # scaled down: the highest numbers go
    c("up", "-d", "--scale", "web=1")
    assert sorted(x["Names"][0] for x in c.containers()) == [f"/{c.project}_proxy_1", f"/{c.project}_web_1"]

    c.down()
    assert_gone(c)
    with pytest.raises(OSError):
        with OPENER.open(f"http://127.0.0.1:{port}/", timeout=2):
            pass


# ---------------------------------------------------------------------------
# worker: logs -f, restart, stop/start, ps
# ---------------------------------------------------------------------------


def test_worker_up_attached_logs_restart_stop_start_recreate(project):
    c = project("worker")
    # attached: both services' output, prefixed; the ticker's exit stops the rest and gives the exit code
    attached = c("up", "--exit-code-from", "ticker", "-t", "5", check=False, timeout=60)
    assert attached.returncode == 4, attached.stderr
    lines = [tuple(part.strip() for part in line.split("|", 1)) for line in attached.stdout.splitlines() if "|" in line]
    assert [what for who, what in lines if who == "ticker_1"] == [f"tick {i}" for i in (1, 2, 3, 4)]
    assert ("svc_1", "started") in lines
    assert f"{c.project}_ticker_1 exited with code 4" in attached.stdout
    assert c.inspect("svc")["State"]["Status"] == "exited" and "bye" in c.out("logs", "--no-color", "svc")

    c("up", "-d")
    # logs -f follows the ticker (running for about 2.4 s) until it exits
    assert c.inspect("ticker")["State"]["Running"]
    followed = c("logs", "-f", "--no-color", "ticker", timeout=30)
    ticks = [line.split("|", 1) for line in followed.stdout.splitlines() if "|" in line]
    assert [(who.strip(), what.strip()) for who, what in ticks] == [("ticker_1", f"tick {i}") for i in (1, 2, 3, 4)] * 2
    assert c.inspect("ticker")["State"]["Status"] == "exited"

    ps = c.out("ps")
    assert re.search(rf"{c.project}_svc_1 .* Up", ps) and re.search(rf"{c.project}_ticker_1 .* Exit 4", ps)
    assert c.out("ps", "-q", "svc") == c.inspect("svc")["Id"]
    assert set(c.out("ps", "--services").split()) == {"svc", "ticker"}

    started = c.inspect("svc")["State"]["StartedAt"]
    c("restart", "-t", "5", "svc")
    after = c.inspect("svc")["State"]
    assert after["Running"] and after["StartedAt"] != started
    assert c.out("logs", "--no-color", "svc").count("started") == 3

    c("stop", "-t", "5", "svc")
    stopped = c.inspect("svc")["State"]
    assert stopped["Status"] == "exited" and stopped["ExitCode"] == 0  # the TERM was handled: "bye", exit 0
    assert re.search(rf"{c.project}_svc_1 .* Exit 0", c.out("ps"))
    c("start", "svc")
    assert c.inspect("svc")["State"]["Running"]
    wait_for(lambda: c.out("logs", "--no-color", "svc").count("started") == 4, 10, what="the fourth start's line")
    assert re.search(rf"{c.project}_svc_1 .* Up", c.out("ps"))

    # a changed config recreates the container (compose reads the image's ContainerConfig for it),
    # carrying its anonymous volume over; the same config again leaves it be
    c("exec", "-T", "svc", "sh", "-c", "echo kept > /cache/f")
    old = c.inspect("svc")
    recreated = c("up", "-d", "svc", env={"MODE": "two"})
    assert f"Recreating {c.project}_svc_1" in recreated.stderr
    new = c.inspect("svc")
    assert new["Id"] != old["Id"] and "MODE=two" in new["Config"]["Env"]
    assert c.out("exec", "-T", "svc", "cat", "/cache/f") == "kept"
    assert f"{c.project}_svc_1 is up-to-date" in c("up", "-d", "svc", env={"MODE": "two"}).stderr
    anonymous = [m["Name"] for m in new["Mounts"] if m["Destination"] == "/cache"]

    c.down()
    assert_gone(c)
    # as with dockerd, the carried-over volume is named in the new container's Binds, so rm -v keeps it
    assert c.daemon.json("GET", f"/volumes/{anonymous[0]}")["Name"] == anonymous[0]
    c.daemon.json("DELETE", f"/volumes/{anonymous[0]}", expect=204)


# ---------------------------------------------------------------------------
# what compose reads
# ---------------------------------------------------------------------------


def test_image_inspect_keeps_container_config(compose_daemon):
    """docker-compose 1.29 negotiates barge's newest API version and reads ``ContainerConfig`` to recreate: it is
    there at every version, as dockerd 20.10 sends it (Go's zero config for an imported image);
    ``VirtualSize`` goes from API 1.44, as moby drops it."""
    d = compose_daemon
    keys = ["Id", "RepoTags", "RepoDigests", "Parent", "Comment", "Created", "Container", "ContainerConfig",
            "DockerVersion", "Author", "Config", "Architecture", "Os", "Size", "VirtualSize", "GraphDriver",
            "RootFS", "Metadata"]
    old = d.json("GET", "/v1.41/images/busybox/json")
    assert list(old) == keys
    assert old["Container"] == "" and old["ContainerConfig"] == {
        "Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False,
        "AttachStderr": False, "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": None, "Cmd": None,
        "Image": "", "Volumes": None, "WorkingDir": "", "Entrypoint": None, "OnBuild": None, "Labels": None}
    for version in ("/v1.44", "/v1.47", ""):
        new = d.json("GET", f"{version}/images/busybox/json")
        assert list(new) == [k for k in keys if k != "VirtualSize"]
        assert new["ContainerConfig"] == old["ContainerConfig"]
    # a commit records the container and its config there, as dockerd's image.ChildConfig
    cid = d.json("POST", "/containers/create", {"Image": "busybox", "Cmd": ["true"], "Labels": {"k": "v"}},
                 expect=201)["Id"]
    try:
        image = d.json("POST", f"/commit?container={cid}&repo=committed{uuid.uuid4().hex[:6]}", expect=201)["Id"]
        committed = d.json("GET", f"/images/{image}/json")
        assert committed["Container"] == cid
        assert committed["ContainerConfig"] == d.json("GET", f"/containers/{cid}/json")["Config"]
        d.json("DELETE", f"/images/{image}")
    finally:
        d.request("DELETE", f"/containers/{cid}?force=1")


def test_failed_start_records_exit_128(compose_daemon):
    """``docker-compose run`` of a service with a fixed address that is taken shows ``Exit 128``: a start that
    fails in the network set-up keeps the container with ExitCode 128 and the Error, as moby's start does."""
    d = compose_daemon
    net = free_subnet(d.json("GET", "/networks"), uuid.uuid4().hex[:3])
    network = d.json("POST", "/networks/create", {"Name": f"fixed{uuid.uuid4().hex[:6]}", "IPAM": {
        "Config": [{"Subnet": str(net)}]}}, expect=201)["Id"]
    address = str(net[10])
    made = []
    try:
        for _ in range(2):
            made.append(d.json("POST", "/containers/create", {
                "Image": "busybox", "Cmd": ["sleep", "60"], "HostConfig": {"NetworkMode": network},
                "NetworkingConfig": {"EndpointsConfig": {network: {"IPAMConfig": {"IPv4Address": address}}}}},
                expect=201)["Id"])
        d.json("POST", f"/containers/{made[0]}/start", expect=204)
        status, _, body = d.request("POST", f"/containers/{made[1]}/start")
        assert status >= 400 and address in json.loads(body)["message"]
        state = d.json("GET", f"/containers/{made[1]}/json")["State"]
        assert (state["Status"], state["ExitCode"], state["Error"]) == ("created", 128, json.loads(body)["message"])
    finally:
        for cid in made:
            d.request("DELETE", f"/containers/{cid}?force=1")
        d.request("DELETE", f"/networks/{network}")


def test_scratch_driver_opts_make_a_shared_tmpfs(project):
    c = project("scratch")
    c("up", "-d", "-t", "1")
    vol = c.volumes()[0]
    assert vol["Options"] == {"device": "tmpfs", "o": "size=1m,uid=1000", "type": "tmpfs"}
    wait_for(lambda: c("exec", "-T", "reader", "cat", "/scratch/f", check=False).stdout == "shared\n", 20,
             what="the writer's file in the reader's volume")
    info = c.out("exec", "-T", "reader", "grep", " /scratch ", "/proc/self/mountinfo")
    assert " - tmpfs tmpfs " in info and "size=1024k" in info and "uid=1000" in info
    c.down()
    assert_gone(c)
    assert not any(vol["Mountpoint"] in line for line in Path("/proc/self/mountinfo").read_text().splitlines())
