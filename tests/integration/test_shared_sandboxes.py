"""Containers that join another (``container:<id>`` modes) share what dockerd 20.10 shares.

A network joiner takes the donor's hostname, domain name and /etc files; a
``shareable`` container's /dev/shm is a tmpfs on the host that its IPC
joiners bind (one namespace, one /dev/shm), detached when the donor exits
and never left mounted after a removal; a PID joiner sees the donor's
processes. The refusals are dockerd's texts, checked against dockerd
20.10 by hand (their status codes are 400/409 where dockerd answers 500).
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from barge.testing.wait import wait_for
from tests.integration.helpers import create, inspect, rm, run

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def logs_of(d, cid: str) -> str:
    """The container's stdout and stderr, once it has ended."""
    d.request("POST", f"/containers/{cid}/wait")
    _, _, logs = d.request("GET", f"/containers/{cid}/logs?stdout=1&stderr=1")
    out = b""
    while logs:
        size = int.from_bytes(logs[4:8], "big")
        out, logs = out + logs[8:8 + size], logs[8 + size:]
    return out.decode()


def output_of(d, **body) -> str:
    """Run a container to its end; its stdout and stderr."""
    cid = create(d, **body)
    try:
        status, _, data = d.request("POST", f"/containers/{cid}/start")
        assert status == 204, data
        return logs_of(d, cid)
    finally:
        rm(d, cid)


def start_error(d, cid: str) -> tuple[int, str]:
    status, _, data = d.request("POST", f"/containers/{cid}/start")
    return status, json.loads(data)["message"] if data else ""


def shm_mounts(d) -> list[str]:
    """The host's mounts under the daemon's container directories (shareable /dev/shm tmpfs)."""
    top = str(d.data_root / "containers")
    return [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if line.split()[4].startswith(top)]


def test_a_network_joiner_has_the_donors_hostname_and_files(box):
    donor = run(box, ["sleep", "60"], Hostname="donorhost", Domainname="dom.example",
                HostConfig={"NetworkMode": "none"})
    try:
        name = inspect(box, donor)["Name"].lstrip("/")
        joiner = create(box, Cmd=["sh", "-c", "hostname; echo $HOSTNAME; cat /etc/hostname"],
                        HostConfig={"NetworkMode": f"container:{name}"})
        try:
            before = inspect(box, joiner)
            assert before["HostConfig"]["NetworkMode"] == f"container:{donor}"  # recorded by id, as dockerd
            assert before["Config"]["Hostname"] == joiner[:12]
            assert box.request("POST", f"/containers/{joiner}/start")[0] == 204
            assert logs_of(box, joiner) == "donorhost\n" * 3  # its UTS namespace is its own, named as the donor
            after = inspect(box, joiner)
            assert (after["Config"]["Hostname"], after["Config"]["Domainname"]) == ("donorhost", "dom.example")
            mine = inspect(box, donor)
            for key in ("HostnamePath", "HostsPath", "ResolvConfPath"):
                assert after[key] == mine[key]
        finally:
            rm(box, joiner)
        running = run(box, ["sleep", "60"], HostConfig={"NetworkMode": f"container:{donor}"})
        try:
            settings = inspect(box, running)["NetworkSettings"]
            assert settings["Networks"] == {} and settings["SandboxKey"] == ""  # no sandbox of its own, as dockerd
        finally:
            rm(box, running)
        hosts = output_of(box, Cmd=["cat", "/etc/hosts", "/etc/resolv.conf"],
                          HostConfig={"NetworkMode": f"container:{donor}"})
        assert hosts == Path(mine["HostsPath"]).read_text() + Path(mine["ResolvConfPath"]).read_text()
    finally:
        rm(box, donor)


def test_network_join_refusals_are_dockerds(box):
    stopped = create(box, Cmd=["true"])
    donor = run(box, ["sleep", "60"], HostConfig={"NetworkMode": "none"})
    try:
        mode = {"NetworkMode": f"container:{donor}"}
        assert create(box, expect=400, Hostname="h", ExposedPorts={"80/tcp": {}}, HostConfig=mode) == \
            "conflicting options: hostname and the network mode"
        assert create(box, expect=400, ExposedPorts={"80/tcp": {}},
                      HostConfig={**mode, "PortBindings": {"80/tcp": [{"HostPort": "8080"}]}}) == \
            "conflicting options: port publishing and the container type network mode"
        assert create(box, expect=400, ExposedPorts={"80/tcp": {}}, HostConfig=mode) == \
            "conflicting options: port exposing and the container type network mode"
        cases = [({"NetworkMode": f"container:{stopped}"}, 409,
                  f"cannot join network of a non running container: {stopped}"),
                 ({"NetworkMode": "container:nosuch"}, 404, "No such container: nosuch")]
        for host, status, message in cases:
            cid = create(box, Cmd=["true"], HostConfig=host)
            try:
                assert start_error(box, cid) == (status, message)
            finally:
                rm(box, cid)
        own = create(box, name="self-joiner", Cmd=["true"], HostConfig={"NetworkMode": "container:self-joiner"})
        try:
            assert start_error(box, own) == (400, "cannot join own network")
        finally:
            rm(box, own)
    finally:
        rm(box, donor)
        rm(box, stopped)


def test_shareable_dev_shm_is_one_for_donor_and_joiners(box):
    donor = run(box, ["sleep", "60"], HostConfig={"IpcMode": "shareable", "ShmSize": 10 << 20,
                                                  "NetworkMode": "none"})
    joiner = None
    try:
        shm = box.data_root / "containers" / donor / "mounts" / "shm"
        assert shm_mounts(box) == [str(shm)] and os.stat(shm).st_mode & 0o7777 == 0o1777
        joiner = run(box, ["sleep", "60"], HostConfig={"IpcMode": f"container:{donor}", "NetworkMode": "none"})
        assert inspect(box, joiner)["HostConfig"]["IpcMode"] == f"container:{donor}"
        pids = {c: inspect(box, c)["State"]["Pid"] for c in (donor, joiner)}
        assert os.readlink(f"/proc/{pids[donor]}/ns/ipc") == os.readlink(f"/proc/{pids[joiner]}/ns/ipc")
        Path(f"/proc/{pids[joiner]}/root/dev/shm/from-joiner").write_text("x")
        assert Path(f"/proc/{pids[donor]}/root/dev/shm/from-joiner").read_text() == "x"
        seen = output_of(box, Cmd=["sh", "-c", "ls /dev/shm; grep ' /dev/shm ' /proc/self/mountinfo"],
                         HostConfig={"IpcMode": f"container:{donor}", "NetworkMode": "none"})
        listing, _, line = seen.partition("\n")
        assert listing == "from-joiner" and "size=10240k" in line
        assert {"nosuid", "nodev", "noexec"} <= set(line.split()[5].split(","))
        assert str(box.root) not in line and "containers" not in line  # no host path shown inside
        # the donor stops: its tmpfs is detached on the host, the joiner keeps it
        assert box.request("POST", f"/containers/{donor}/stop?t=0")[0] == 204
        assert shm_mounts(box) == []
        Path(f"/proc/{pids[joiner]}/root/dev/shm/after-stop").write_text("y")
        assert sorted(os.listdir(f"/proc/{pids[joiner]}/root/dev/shm")) == ["after-stop", "from-joiner"]
        assert box.request("POST", f"/containers/{donor}/start")[0] == 204  # a fresh, empty one
        assert os.listdir(f"/proc/{inspect(box, donor)['State']['Pid']}/root/dev/shm") == []
        assert shm_mounts(box) == [str(shm)]
        rm(box, donor)  # removed while its joiner runs, as dockerd allows: the joiner keeps what it has
        assert shm_mounts(box) == [] and not shm.exists()
        assert sorted(os.listdir(f"/proc/{pids[joiner]}/root/dev/shm")) == ["after-stop", "from-joiner"]
    finally:
        if joiner:
            rm(box, joiner)
        rm(box, donor)
    assert shm_mounts(box) == [] and not (box.data_root / "containers" / donor).exists()


def test_ipc_join_refusals_and_a_host_ipc_donor(box):
    private = run(box, ["sleep", "60"], HostConfig={"NetworkMode": "none"})
    stopped = create(box, Cmd=["true"], HostConfig={"IpcMode": "shareable"})
    host_ipc = run(box, ["sleep", "60"], HostConfig={"IpcMode": "host", "NetworkMode": "none"})
    try:
        assert create(box, expect=400, HostConfig={"IpcMode": "container:nosuch"}) == "No such container: nosuch"
        assert create(box, expect=400, HostConfig={"PidMode": "container:nosuch"}) == "No such container: nosuch"
        cases = [({"IpcMode": f"container:{private}"}, 400, f"can't join IPC of container {private}: non-shareable "
                  "IPC (hint: use IpcMode:shareable for the donor container)"),
                 ({"IpcMode": f"container:{stopped}"}, 409,
                  f"can't join IPC of container {stopped}: container {stopped} is not running"),
                 ({"PidMode": f"container:{stopped}"}, 409, f"container {stopped} is not running")]
        for host, status, message in cases:
            cid = create(box, Cmd=["true"], HostConfig={**host, "NetworkMode": "none"})
            try:
                assert start_error(box, cid) == (status, message)
            finally:
                rm(box, cid)
        # a donor on the host's IPC namespace gives its joiners the host's /dev/shm, as dockerd does
        joiner = run(box, ["sleep", "60"], HostConfig={"IpcMode": f"container:{host_ipc}", "NetworkMode": "none"})
        try:
            pid = inspect(box, joiner)["State"]["Pid"]
            assert os.stat(f"/proc/{pid}/root/dev/shm").st_dev == os.stat("/dev/shm").st_dev
        finally:
            rm(box, joiner)
    finally:
        for cid in (private, stopped, host_ipc):
            rm(box, cid)


def test_a_pid_joiner_sees_the_donors_processes(box):
    donor = run(box, ["sleep", "61"], HostConfig={"NetworkMode": "none"})
    try:
        seen = output_of(box, Cmd=["ps", "-o", "pid,args"], HostConfig={"PidMode": f"container:{donor}",
                                                                      "NetworkMode": "none"})
        assert "    1 sleep 61" in seen.splitlines()
    finally:
        rm(box, donor)


def test_a_daemon_killed_while_a_donor_ran_detaches_its_dev_shm_at_restart(box):
    """The donor dies while no daemon runs: the next daemon finds it exited and detaches its tmpfs;
    a donor still running keeps its /dev/shm and can still be joined."""
    gone = run(box, ["sleep", "60"], HostConfig={"IpcMode": "shareable", "NetworkMode": "none"})
    kept = run(box, ["sleep", "60"], HostConfig={"IpcMode": "shareable", "NetworkMode": "none"})
    try:
        pid = inspect(box, gone)["State"]["Pid"]
        box.kill()
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 10, what="the donor's end")
        box.start()
        paths = {c: str(box.data_root / "containers" / c / "mounts" / "shm") for c in (gone, kept)}
        assert shm_mounts(box) == [paths[kept]]
        assert inspect(box, gone)["State"]["Running"] is False
        assert output_of(box, Cmd=["ls", "/dev/shm"], HostConfig={"IpcMode": f"container:{kept}",
                                                                 "NetworkMode": "none"}) == ""
    finally:
        rm(box, gone)
        rm(box, kept)
    assert shm_mounts(box) == []
