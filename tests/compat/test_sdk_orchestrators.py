"""What Kubernetes' cri-dockerd and Nomad's docker driver ask of the engine, replayed with the docker SDK.

The bodies are shaped as their Go clients send them (every field of Go's
``container.Config`` and ``HostConfig`` present, zero or null when unset)
with the values their sources set (Mirantis/cri-dockerd
``core/sandbox_helpers.go``, ``container_create.go``, ``security_context.go``,
``helpers_linux.go``; hashicorp/nomad ``drivers/docker/driver.go``,
``network_linux.go``), in the order they make the calls. Then each test
looks inside the containers: one hostname, one IPC namespace and /dev/shm,
one PID namespace, the pod's cgroup, oom_score_adj, sysctls, a seccomp
profile given as JSON, the log file cri-dockerd links to. With
``BARGE_COMPAT_REFERENCE=dockerd`` the same replay runs against dockerd 20.10
(it passes there too: the expectations are Docker's).
"""

from __future__ import annotations

import io
import json
import os
import signal
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from barge.containers import sysinfo
from barge.testing.wait import wait_for
from tests.compat.conftest import REFERENCE
from tests.integration.helpers import busybox_daemon

docker = pytest.importorskip("docker", reason="the docker SDK (pip install docker) replays the calls")

pytestmark = pytest.mark.compat

#: A pause image as both orchestrators use: its default command holds the sandbox's namespaces.
PAUSE = "registry.k8s.io/pause:3.10"
NOMAD_PAUSE = "registry.k8s.io/pause-amd64:3.3"
#: An application image that exposes a port (joiners of a sandbox's network still run it).
WEB = "example.test/web:1"
#: kubelet's defaults for an unprivileged container (runtime/default ProcMount).
MASKED = ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
          "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"]
READONLY = ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
#: A Localhost seccomp profile as cri-dockerd compacts it into ``seccomp=<json>``.
SI = sysinfo.detect()
#: cri-dockerd's sandbox score; without CAP_SYS_RESOURCE no engine can go below its own score (barge refuses
#: it at create, dockerd's runc at start), so the sandbox then gets the lowest this machine allows.
SANDBOX_OOM = -998 if SI.sys_resource else min(SI.oom_score_adj, 0)
NO_MKDIR = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}


def go_config(**fields) -> dict:
    """Go's ``container.Config`` as JSON: the fields without ``omitempty`` always there."""
    zero = {"Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False,
            "AttachStderr": False, "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": None, "Cmd": None,
            "Image": "", "Volumes": None, "WorkingDir": "", "Entrypoint": None, "OnBuild": None, "Labels": None}
    return {**zero, **fields}


def go_host(**fields) -> dict:
    """Go's ``container.HostConfig`` (with its embedded ``Resources``) as JSON."""
    zero = {
        "Binds": None, "ContainerIDFile": "", "LogConfig": {"Type": "", "Config": None}, "NetworkMode": "",
        "PortBindings": None, "RestartPolicy": {"Name": "", "MaximumRetryCount": 0}, "AutoRemove": False,
        "VolumeDriver": "", "VolumesFrom": None, "ConsoleSize": [0, 0], "CapAdd": None, "CapDrop": None,
        "CgroupnsMode": "", "Dns": None, "DnsOptions": None, "DnsSearch": None, "ExtraHosts": None,
        "GroupAdd": None, "IpcMode": "", "Cgroup": "", "Links": None, "OomScoreAdj": 0, "PidMode": "",
        "Privileged": False, "PublishAllPorts": False, "ReadonlyRootfs": False, "SecurityOpt": None,
        "UTSMode": "", "UsernsMode": "", "ShmSize": 0, "Isolation": "",
        "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "", "BlkioWeight": 0,
        "BlkioWeightDevice": None, "BlkioDeviceReadBps": None, "BlkioDeviceWriteBps": None,
        "BlkioDeviceReadIOps": None, "BlkioDeviceWriteIOps": None, "CpuPeriod": 0, "CpuQuota": 0,
        "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "", "Devices": None,
        "DeviceCgroupRules": None, "DeviceRequests": None, "KernelMemory": 0, "MemoryReservation": 0,
        "MemorySwap": 0, "MemorySwappiness": None, "OomKillDisable": None, "PidsLimit": None, "Ulimits": None,
        "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0,
    }
    return {**zero, **fields}


def create(api, name: str, config: dict, host: dict) -> str:
    """``POST /containers/create`` with a Go client's body (its ``NetworkingConfig`` nil)."""
    body = {**config, "HostConfig": host, "NetworkingConfig": None}
    return api.create_container_from_config(body, name=name)["Id"]


def exec_sync(api, cid: str, cmd: list[str]) -> tuple[int, str]:
    """cri-dockerd's ``ExecSync`` and Nomad's script checks: create, start attached, inspect the exit."""
    eid = api.exec_create(cid, cmd, stdout=True, stderr=True)["Id"]
    out = api.exec_start(eid).decode()
    return api.exec_inspect(eid)["ExitCode"], out


def cgroup_of(pid: int) -> str:
    """The process's cgroup (the pids hierarchy on v1, the unified one on v2), as the host sees it."""
    lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    found = [ln.split(":", 2)[2] for ln in lines if ln.split(":")[1] == "pids"]
    return (found or [ln.split(":", 2)[2] for ln in lines if ln.startswith("0::")])[0]


def drop_cgroups(top: str) -> None:
    """The pod's parent cgroups barge made (empty once its containers are gone), deepest first."""
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        root = hierarchy / top.strip("/").split("/")[0]
        if not root.is_dir():
            continue
        for d in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)) + [root]:
            try:
                d.rmdir()
            except OSError:
                pass


@contextmanager
def engine() -> Iterator[tuple[str, Path]]:
    """``(url, data root)`` of barge's test daemon, or with ``BARGE_COMPAT_REFERENCE=dockerd`` of a private
    dockerd 20.10 (tests/reference_dockerd.py): the same replay checks every expectation against Docker."""
    if REFERENCE:
        from tests.reference_dockerd import reference_dockerd

        with reference_dockerd() as ref:
            yield ref.url, ref.root / "data"
    else:
        with busybox_daemon("barge-orch-") as d:
            yield d.url, d.data_root


@pytest.fixture(scope="module")
def api():
    with engine() as (url, data_root):
        client = docker.APIClient(base_url=url, version="auto", timeout=60)
        dockerfile = b'FROM busybox\nCMD ["sleep", "2147483647"]\n'
        for _ in client.build(fileobj=io.BytesIO(dockerfile), tag=PAUSE, rm=True, decode=True):
            pass
        client.tag(PAUSE, NOMAD_PAUSE)
        for _ in client.build(fileobj=io.BytesIO(b"FROM busybox\nEXPOSE 80\n"), tag=WEB, rm=True, decode=True):
            pass
        client.data_root = data_root
        try:
            yield client
        finally:
            client.close()


# ---------------------------------------------------------------------------
# Kubernetes (cri-dockerd)
# ---------------------------------------------------------------------------


class Pod:
    """One pod's names and labels as cri-dockerd makes them (``naming.go``, ``sandbox_helpers.go``)."""

    def __init__(self, tmp: Path):
        self.uid = str(uuid.uuid4())
        self.name, self.namespace = "web", "default"
        self.cgroup_top = f"/kubepods-barge-{self.uid[:8]}"
        self.cgroup_parent = f"{self.cgroup_top}/besteffort/pod{self.uid}"
        self.log_dir = tmp / "pods" / f"{self.namespace}_{self.name}_{self.uid}"
        self.log_dir.mkdir(parents=True)
        self.labels = {"io.kubernetes.pod.name": self.name, "io.kubernetes.pod.namespace": self.namespace,
                       "io.kubernetes.pod.uid": self.uid, "app": "web",
                       "annotation.kubernetes.io/config.source": "api"}

    def sandbox_body(self) -> tuple[str, dict, dict]:
        labels = {**self.labels, "io.kubernetes.docker.type": "podsandbox", "io.kubernetes.container.name": "POD"}
        config = go_config(Hostname="web-0", Image=PAUSE, Labels=labels, ExposedPorts={"80/tcp": {}})
        host = go_host(IpcMode="shareable", NetworkMode="none", PortBindings={"80/tcp": [{"HostIp": "", "HostPort":
                                                                                          "30080"}]}, OomScoreAdj=SANDBOX_OOM, CpuShares=2, MemorySwap=0,
                       CgroupParent=self.cgroup_parent, SecurityOpt=["no-new-privileges"], ShmSize=64 << 20,
                       Sysctls={"kernel.shm_rmid_forced": "1", "net.ipv4.ip_unprivileged_port_start": "0"})
        return f"k8s_POD_{self.name}_{self.namespace}_{self.uid}_0", config, host

    def container_body(self, sandbox: str, runtime: str, name: str, cmd: list[str], mounts: list[dict],
                       seccomp: str = "seccomp=unconfined") -> tuple[str, dict, dict]:
        labels = {**self.labels, "io.kubernetes.docker.type": "container", "io.kubernetes.container.name": name,
                  "io.kubernetes.sandbox.id": sandbox,
                  "io.kubernetes.container.logpath": str(self.log_dir / name / "0.log"),
                  "annotation.io.kubernetes.container.terminationMessagePath": "/dev/termination-log"}
        join = f"container:{sandbox}"
        config = go_config(Image=WEB, Entrypoint=cmd[:1], Cmd=cmd[1:], Labels=labels,
                           Env=["KUBERNETES_SERVICE_HOST=10.96.0.1", "KUBERNETES_SERVICE_PORT=443"],
                           Healthcheck={"Test": ["NONE"]})
        host = go_host(Mounts=mounts, RestartPolicy={"Name": "no", "MaximumRetryCount": 0}, Runtime=runtime,
                       NetworkMode=join, IpcMode=join, PidMode=join, UTSMode="", CpuShares=2, CpuPeriod=100000,
                       OomScoreAdj=1000, CgroupParent=self.cgroup_parent, ShmSize=64 << 20, MaskedPaths=MASKED,
                       ReadonlyPaths=READONLY, SecurityOpt=[seccomp, "no-new-privileges"], Devices=[])
        return f"k8s_{name}_{self.name}_{self.namespace}_{self.uid}_0", config, host


def test_a_kubernetes_pod_as_cri_dockerd_runs_it(api, tmp_path):
    pod = Pod(tmp_path)
    created: list[str] = []
    try:
        # RunPodSandbox: the pause image looked up, the sandbox created, started, its resolv.conf rewritten
        assert api.inspect_image(PAUSE)["Config"]["Cmd"] == ["sleep", "2147483647"]
        sandbox = create(api, *pod.sandbox_body())
        created.append(sandbox)
        api.start(sandbox)
        info = api.inspect_container(sandbox)
        runtime = info["HostConfig"]["Runtime"]
        assert runtime in api.info()["Runtimes"] and info["State"]["Pid"] > 0
        assert os.path.exists(f"/proc/{info['State']['Pid']}/ns/net")  # where CNI would set the pod up
        resolv = Path(info["ResolvConfPath"])
        with open(resolv, "r+") as fh:  # rewriteResolvFile: O_TRUNC in place, not a new file
            fh.truncate()
            fh.write("nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local\noptions ndots:5\n")

        # CreateContainer x2 (the second under a Localhost seccomp profile), StartContainer, log symlinks
        hosts = tmp_path / "etc-hosts"
        hosts.write_text("127.0.0.1\tlocalhost\n10.244.0.7\tweb-0\n")
        token = tmp_path / "serviceaccount"
        token.mkdir()
        (token / "token").write_text("t0ken")
        termination = {c: tmp_path / f"termination-{c}" for c in ("app", "sidecar")}
        apps = {}
        for name, seccomp in (("app", "seccomp=unconfined"), ("sidecar", "seccomp=" + json.dumps(NO_MKDIR))):
            termination[name].touch()
            mounts = [{"Type": "bind", "Source": str(hosts), "Target": "/etc/hosts"},
                      {"Type": "bind", "Source": str(token), "Target": "/var/run/secrets/kubernetes.io/serviceaccount",
                       "ReadOnly": True},
                      {"Type": "bind", "Source": str(termination[name]), "Target": "/dev/termination-log"}]
            assert api.inspect_container(sandbox)["HostConfig"]["Runtime"] == runtime  # the pod's runtime handler
            cmd = ["sh", "-c", f"echo {name} started; echo {name} says hi >&2; exec sleep 300"]
            cid = create(api, *pod.container_body(sandbox, runtime, name, cmd, mounts, seccomp))
            created.append(cid)
            api.start(cid)
            log_path = api.inspect_container(cid)["LogPath"]
            link = Path(pod.log_dir / name / "0.log")
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(log_path, link)  # createContainerLogSymlink
            apps[name] = cid

        # ListContainers / ListPodSandbox with cri-dockerd's label filters
        listed = api.containers(all=True, filters={"label": ["io.kubernetes.docker.type=container",
                                                             f"io.kubernetes.sandbox.id={sandbox}"]})
        assert sorted(c["Id"] for c in listed) == sorted(apps.values())
        boxes = api.containers(filters={"label": ["io.kubernetes.docker.type=podsandbox",
                                                  f"io.kubernetes.pod.uid={pod.uid}"], "status": ["running"]})
        assert [c["Id"] for c in boxes] == [sandbox]
        assert boxes[0]["Names"] == [f"/k8s_POD_web_default_{pod.uid}_0"]

        # ContainerStatus: the fields cri-dockerd converts
        app = api.inspect_container(apps["app"])
        state = app["State"]
        assert state["Status"] == "running" and state["Pid"] > 0 and state["ExitCode"] == 0
        assert state["StartedAt"].endswith("Z") and state["FinishedAt"] == "0001-01-01T00:00:00Z"
        assert app["Image"].startswith("sha256:") and app["Config"]["Image"] == WEB
        assert app["Config"]["Labels"]["io.kubernetes.container.name"] == "app"
        assert app["Config"]["Healthcheck"] == {"Test": ["NONE"]} and "Health" not in state
        # ContainerStats: one sample, and the writable layer's size (InspectContainerWithSize)
        sample = api.stats(apps["app"], stream=False)
        assert sample["memory_stats"]["usage"] > 0 and sample["cpu_stats"]["cpu_usage"]["total_usage"] > 0
        sized = api.get(f"{api.base_url}/v{api.api_version}/containers/{apps['app']}/json", params={"size": 1})
        assert sized.status_code == 200 and sized.json()["SizeRw"] >= 0 and sized.json()["SizeRootFs"] > 0

        # Inside: one hostname, one IPC namespace and /dev/shm, one PID namespace, the pod's files
        wait_for(lambda: link_lines(pod, "app") >= 2, 10, what="the app's two log lines")
        lines = [json.loads(ln) for ln in (pod.log_dir / "app" / "0.log").read_text().splitlines()]
        assert {(ln["stream"], ln["log"]) for ln in lines} == {("stdout", "app started\n"), ("stderr", "app says hi\n")}
        assert Path(app["LogPath"]).is_file() and not Path(app["LogPath"]).is_symlink()
        code, out = exec_sync(api, apps["app"], ["sh", "-c", "hostname; cat /etc/hosts /etc/resolv.conf "
                                                 "/var/run/secrets/kubernetes.io/serviceaccount/token"])
        assert code == 0 and out.startswith("web-0\n127.0.0.1\tlocalhost\n10.244.0.7\tweb-0\nnameserver 10.96.0.10\n")
        assert out.endswith("options ndots:5\nt0ken")
        assert exec_sync(api, apps["app"], ["sh", "-c", "echo x > /var/run/secrets/kubernetes.io/serviceaccount/t"]
                         )[0] != 0  # mounted read-only
        assert exec_sync(api, apps["app"], ["sh", "-c", "echo from-app > /dev/shm/pod-shm"])[0] == 0
        assert exec_sync(api, apps["sidecar"], ["cat", "/dev/shm/pod-shm"]) == (0, "from-app\n")
        assert "65536k" in exec_sync(api, apps["sidecar"], ["grep", " /dev/shm ", "/proc/self/mountinfo"])[1]
        code, ps = exec_sync(api, apps["sidecar"], ["ps", "-o", "pid,args"])
        assert code == 0 and "    1 sleep 2147483647" in ps.splitlines()  # shareProcessNamespace: pause is PID 1
        assert "sleep 300" in ps and ps.count("sleep 300") == 2
        pids = {n: api.inspect_container(c)["State"]["Pid"] for n, c in {"pod": sandbox, **apps}.items()}
        for kind in ("net", "ipc", "pid"):
            assert len({os.readlink(f"/proc/{p}/ns/{kind}") for p in pids.values()}) == 1, kind
        assert len({os.readlink(f"/proc/{p}/ns/uts") for p in pids.values()}) == 3  # own UTS, the pod's name
        assert exec_sync(api, apps["app"], ["cat", "/proc/sys/kernel/shm_rmid_forced",
                                            "/proc/sys/net/ipv4/ip_unprivileged_port_start"]) == (0, "1\n0\n")

        # The pod's cgroup, oom_score_adj, masked and read-only paths, the seccomp profile
        for n, p in pids.items():
            assert cgroup_of(p).startswith(pod.cgroup_parent + "/"), n
        assert Path(f"/proc/{pids['pod']}/oom_score_adj").read_text().strip() == str(SANDBOX_OOM)
        assert Path(f"/proc/{pids['app']}/oom_score_adj").read_text().strip() == "1000"
        assert exec_sync(api, apps["app"], ["sh", "-c", "echo 1 > /proc/sys/kernel/shm_rmid_forced"])[0] != 0
        assert exec_sync(api, apps["app"], ["cat", "/proc/timer_list"]) == (0, "")  # masked: /dev/null
        assert exec_sync(api, apps["app"], ["mkdir", "/made"])[0] == 0
        code, out = exec_sync(api, apps["sidecar"], ["mkdir", "/made"])
        assert code != 0 and "Operation not permitted" in out

        # StopPodSandbox: the containers with their grace period, then the sandbox; statuses; removal
        api.stop(apps["app"], timeout=2)
        stopped = api.inspect_container(apps["app"])["State"]  # its sleep is not PID 1: SIGTERM ends it
        assert stopped["Status"] == "exited" and stopped["ExitCode"] == 128 + signal.SIGTERM and stopped["Pid"] == 0
        assert stopped["FinishedAt"] > stopped["StartedAt"]
        for cid in (apps["sidecar"], sandbox):
            api.stop(cid, timeout=10)
        exited = api.containers(all=True, filters={"label": [f"io.kubernetes.pod.uid={pod.uid}"],
                                                   "status": ["exited"]})
        assert len(exited) == 3
        for cid in (*apps.values(), sandbox):
            api.remove_container(cid, v=True, force=True)
            created.remove(cid)
        assert not (api.data_root / "containers" / sandbox).exists()
        table = Path("/proc/self/mountinfo").read_text()
        assert not [cid for cid in (sandbox, *apps.values()) if cid in table]  # no /dev/shm left mounted
    finally:
        for cid in created:
            api.remove_container(cid, v=True, force=True)
        drop_cgroups(pod.cgroup_top)


def link_lines(pod: Pod, name: str) -> int:
    try:
        return len((pod.log_dir / name / "0.log").read_text().splitlines())
    except OSError:
        return 0


# ---------------------------------------------------------------------------
# Nomad (the docker driver)
# ---------------------------------------------------------------------------


def test_a_nomad_task_group_as_the_docker_driver_runs_it(api, tmp_path):
    alloc = str(uuid.uuid4())
    label = "com.hashicorp.nomad.alloc_id"
    alloc_dir = tmp_path / alloc
    created: list[str] = []
    try:
        # CreateNetwork: the pause container, found again by its label and name prefix
        pause = create(api, f"nomad_init_{alloc}", go_config(Image=NOMAD_PAUSE, Hostname="group-host",
                                                             Labels={label: alloc}),
                       go_host(NetworkMode="none", RestartPolicy={"Name": "unless-stopped", "MaximumRetryCount": 0}))
        created.append(pause)
        api.start(pause)
        running = api.containers(filters={"label": [label]})
        assert [c["Id"] for c in running if f"/nomad_init_{alloc}" in c["Names"]] == [pause]

        # Two tasks joining the group's network, with the alloc and task directories bound
        tasks = {}
        for task in ("server", "worker"):
            task_dir = alloc_dir / task
            for sub in ("local", "secrets"):
                (task_dir / sub).mkdir(parents=True)
            (alloc_dir / "alloc").mkdir(exist_ok=True)
            (task_dir / "local" / "config.txt").write_text(f"{task} config\n")
            script = ("trap 'echo bye from $NOMAD_TASK_NAME > /alloc/bye-$NOMAD_TASK_NAME; exit 0' INT; "
                      "echo $NOMAD_TASK_NAME up; while true; do sleep 0.1; done")
            env = [f"NOMAD_ALLOC_ID={alloc}", f"NOMAD_TASK_NAME={task}", "NOMAD_ALLOC_DIR=/alloc",
                   "NOMAD_TASK_DIR=/local", "NOMAD_SECRETS_DIR=/secrets"]
            config = go_config(Image="busybox", Entrypoint=["sh"], Cmd=["-c", script], Env=env,
                               Labels={label: alloc, "com.hashicorp.nomad.task_name": task})
            host = go_host(
                Binds=[f"{alloc_dir / 'alloc'}:/alloc", f"{task_dir / 'local'}:/local",
                       f"{task_dir / 'secrets'}:/secrets"],
                Memory=64 << 20, MemoryReservation=32 << 20, CpuShares=100, PidsLimit=64,
                LogConfig={"Type": "json-file", "Config": {"max-file": "2", "max-size": "2m"}},
                NetworkMode=f"container:{pause}", CapDrop=["NET_RAW"], OomScoreAdj=0)
            cid = create(api, f"{task}-{alloc}", config, host)
            created.append(cid)
            api.start(cid)
            tasks[task] = cid

        # Logs followed (the driver's docklog), stats streamed, an exec (script checks)
        stream = api.logs(tasks["server"], stdout=True, stderr=True, stream=True, follow=True)
        assert next(stream) == b"server up\n"
        stream.close()
        samples = api.stats(tasks["server"], stream=True, decode=True)
        first, second = next(samples), next(samples)
        samples.close()
        assert second["memory_stats"]["limit"] == 64 << 20 and second["pids_stats"]["limit"] == 64
        assert second["cpu_stats"]["cpu_usage"]["total_usage"] >= first["cpu_stats"]["cpu_usage"]["total_usage"]
        code, out = exec_sync(api, tasks["server"], ["sh", "-c", "hostname; cat /local/config.txt; "
                                                     "echo shared > /alloc/from-server"])
        assert (code, out) == (0, "group-host\nserver config\n")
        assert exec_sync(api, tasks["worker"], ["cat", "/alloc/from-server"]) == (0, "shared\n")
        assert (alloc_dir / "alloc" / "from-server").read_text() == "shared\n"
        pids = [api.inspect_container(c)["State"]["Pid"] for c in (pause, *tasks.values())]
        assert len({os.readlink(f"/proc/{p}/ns/net") for p in pids}) == 1
        assert "net_raw" not in exec_sync(api, tasks["server"], ["sh", "-c", "grep CapEff /proc/self/status"])[1]
        cap_eff = int(exec_sync(api, tasks["server"], ["sh", "-c", "grep CapEff /proc/self/status"])[1].split()[1], 16)
        assert not cap_eff >> 13 & 1  # CAP_NET_RAW dropped

        # Stop with the task's kill_signal (SIGINT), then StopContainer; remove with force
        api.kill(tasks["server"], signal="SIGINT")
        assert api.wait(tasks["server"], timeout=10)["StatusCode"] == 0
        assert (alloc_dir / "alloc" / "bye-server").read_text() == "bye from server\n"
        api.stop(tasks["worker"], timeout=1)
        assert api.inspect_container(tasks["worker"])["State"]["ExitCode"] == 128 + signal.SIGKILL
        for cid in tasks.values():
            api.remove_container(cid, v=True, force=True)
            created.remove(cid)
        # DestroyNetwork: the pause container removed with force while it runs
        api.remove_container(pause, force=True)
        created.remove(pause)
        assert api.containers(all=True, filters={"label": [f"{label}={alloc}"]}) == []
        table = Path("/proc/self/mountinfo").read_text()
        assert not [cid for cid in (pause, *tasks.values()) if cid in table]
    finally:
        for cid in created:
            api.remove_container(cid, v=True, force=True)
