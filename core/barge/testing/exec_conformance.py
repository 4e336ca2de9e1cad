"""The exec driver conformance suite, for barge's drivers and third parties.

A driver package runs it against itself::

    from barge.testing.exec_conformance import ExecDriverConformance

    class TestNative(ExecDriverConformance):
        driver_name = "native"

The driver is loaded by name through its entry point, registered alone in a
fresh plugin manager, and driven only through ``pm.hook.barge_exec_*`` with
keyword arguments, as the daemon drives it. Containers run on a busybox root
file system built from the host's static ``/bin/busybox``
(:mod:`barge.testing.rootfs`), bound read-only; what a container sees is
checked through its exit code, so the suite needs no attach protocol. Every
container a test makes is deleted afterwards, even when the test fails.

The tests skip, with the reason, when the machine lacks something: the
driver's own "not supported here" (root, namespaces, cgroups), or a static
busybox (``apt-get install busybox-static``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterator

import pytest

from barge.engine.hookspecs import ExecDriverHooks
from barge.engine.plugins import load_driver_plugin, make_plugin_manager, register_driver
from barge.errors import BargeError, Conflict, DriverNotSupported
from barge.execdriver import ContainerSpec, ExecState, MountSpec, ProcessSpec, Resources, User
from barge.testing.rootfs import build_busybox_rootfs, static_busybox
from barge.testing.wait import wait_for

CGROUP_ROOT = "/sys/fs/cgroup"
HOSTNAME = "conformance"


@dataclass
class Container:
    """One container of a test, driven through the ``barge_exec_*`` hooks."""

    pm: Any
    spec: ContainerSpec
    state_dir: str

    @property
    def id(self) -> str:
        return self.spec.id

    def _call(self, operation: str, **kw: Any) -> Any:
        hook = getattr(self.pm.hook, f"barge_exec_{operation}")
        return hook(container_id=self.id, state_dir=self.state_dir, **kw)

    def start(self) -> None:
        self._call("start")

    def state(self) -> ExecState:
        return self._call("state")

    def wait(self, timeout: float | None) -> ExecState | None:
        return self._call("wait", timeout=timeout)

    def kill(self, sig: int) -> None:
        self._call("kill", signal=sig)

    def pause(self) -> None:
        self._call("pause")

    def resume(self) -> None:
        self._call("resume")

    def delete(self) -> None:
        self._call("delete")

    def exec(self, exec_id: str, process: ProcessSpec) -> int:
        return self._call("exec", exec_id=exec_id, process=process)

    def exec_state(self, exec_id: str) -> ExecState:
        return self._call("exec_state", exec_id=exec_id)

    def processes(self) -> list[int]:
        return self._call("processes")

    def stats(self) -> dict:
        return self._call("stats")

    def update(self, resources: Resources) -> None:
        self._call("update", resources=resources)

    def exit_code(self, timeout: float = 10) -> int | None:
        final = self.wait(timeout)
        assert final is not None, f"container {self.id} did not exit within {timeout}s"
        assert final.status == "stopped", final
        return final.exit_code


@dataclass
class ExecUnderTest:
    """The registered driver of one test."""

    pm: Any
    plugin: Any
    #: every container's cgroup is below this one, removed after the test
    cgroup_parent: str


@dataclass
class Containers:
    """Makes the containers of one test, and deletes every one of them afterwards."""

    pm: Any
    rootfs: Path
    base: Path
    cgroup_parent: str
    made: list[Container] = field(default_factory=list)

    def spec(self, args: list[str], *, resources: Resources | None = None, mounts: list[MountSpec] | None = None,
             **process: Any) -> ContainerSpec:
        cid = secrets.token_hex(32)
        process.setdefault("env", ["PATH=/bin", "HOME=/root"])
        return ContainerSpec(
            id=cid,
            rootfs=[{"Type": "bind", "Source": str(self.rootfs), "Options": ["rbind", "ro"]}],
            process=ProcessSpec(args=list(args), **process),
            hostname=HOSTNAME,
            mounts=mounts or [],
            resources=resources or Resources(),
            cgroup_path=f"{self.cgroup_parent}/{cid}",
        )

    def create(self, args: list[str], **kw: Any) -> Container:
        """Create (not start) a container running ``args``; its init's pid is ``state().pid``."""
        spec = self.spec(args, **kw)
        c = Container(self.pm, spec, str(self.base / spec.id[:12]))
        self.made.append(c)
        pid = self.pm.hook.barge_exec_create(spec=spec, state_dir=c.state_dir)
        assert isinstance(pid, int) and pid > 0, f"barge_exec_create answered {pid!r}, not the init's pid"
        return c

    def run(self, args: list[str], **kw: Any) -> Container:
        c = self.create(args, **kw)
        c.start()
        return c

    def cleanup(self) -> None:
        for c in self.made:
            with contextlib.suppress(BargeError, OSError):
                c.delete()


def cgroup_dirs(cgroup_path: str) -> list[str]:
    """The directories of ``cgroup_path`` in every hierarchy (v2: one, v1: one per controller)."""
    if not os.path.isdir(CGROUP_ROOT):
        return []
    candidates = [os.path.join(CGROUP_ROOT, cgroup_path)]
    candidates += [os.path.join(CGROUP_ROOT, name, cgroup_path) for name in os.listdir(CGROUP_ROOT)]
    return [c for c in candidates if os.path.isdir(c)]


def process_gone(pid: int) -> bool:
    """Whether ``pid`` no longer runs (gone, or a zombie its parent has not reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(") ")[2][:1] in ("Z", "X")
    except FileNotFoundError:
        return True


class ExecDriverConformance:
    """Subclass with ``driver_name`` (and ``driver_options``) to test an exec driver."""

    driver_name: ClassVar[str]
    driver_options: ClassVar[dict[str, Any]] = {}

    def release_driver(self, driver: Any) -> None:
        """Override to release what the driver holds apart from containers, after each test."""

    # -- fixtures ------------------------------------------------------------

    @pytest.fixture(scope="class")
    @classmethod
    def exec_rootfs(cls, tmp_path_factory: pytest.TempPathFactory) -> Path:
        if static_busybox() is None:
            pytest.skip("needs a static /bin/busybox (apt-get install busybox-static)")
        return build_busybox_rootfs(tmp_path_factory.mktemp("exec-rootfs") / "rootfs")

    @pytest.fixture
    def exec_driver(self, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExecUnderTest]:
        home = tmp_path_factory.mktemp("exec-home") / self.driver_name
        try:
            plugin = load_driver_plugin("exec", self.driver_name, home, dict(self.driver_options))
        except DriverNotSupported as exc:
            pytest.skip(f"{self.driver_name}: not supported here: {exc.reason}")
        pm = make_plugin_manager(load_extensions=False)
        register_driver(pm, plugin, "exec", self.driver_name)
        under_test = ExecUnderTest(pm, plugin, f"barge-conformance-{secrets.token_hex(4)}")
        try:
            yield under_test
        finally:
            self.release_driver(plugin.driver)
            for d in cgroup_dirs(under_test.cgroup_parent):
                with contextlib.suppress(OSError):
                    os.rmdir(d)

    @pytest.fixture
    def containers(self, exec_driver: ExecUnderTest, exec_rootfs: Path, tmp_path: Path) -> Iterator[Containers]:
        box = Containers(exec_driver.pm, exec_rootfs, tmp_path, exec_driver.cgroup_parent)
        try:
            yield box
        finally:
            box.cleanup()

    # -- the contract exists ---------------------------------------------------

    def test_every_exec_hook_is_implemented(self, exec_driver):
        names = [n for n in dir(ExecDriverHooks) if n.startswith("barge_exec_")]
        assert names
        for name in names:
            impls = getattr(exec_driver.pm.hook, name).get_hookimpls()
            assert any(i.plugin is exec_driver.plugin for i in impls), f"driver does not implement {name}"
        assert exec_driver.plugin.driver.name == self.driver_name
        assert exec_driver.plugin.driver.api_version == 1

    # -- life cycle --------------------------------------------------------------

    def test_created_then_started_runs_to_its_exit_code(self, containers):
        c = containers.create(["sh", "-c", "exit 3"])
        created = c.state()
        assert created.status == "created" and created.pid > 0
        c.start()
        final = c.wait(10)
        assert final is not None and final.status == "stopped"
        assert final.exit_code == 3 and not final.oom_killed
        assert final.started_at and final.finished_at >= final.started_at
        again = c.state()
        assert (again.status, again.exit_code) == ("stopped", 3)

    def test_the_spec_is_what_the_process_sees(self, containers):
        checks = [
            ("the spec's hostname", f'test "$(hostname)" = {HOSTNAME}'),
            ("the spec's environment", 'test "$GREETING" = hello'),
            ("the spec's working directory", 'test "$(pwd)" = /home/app'),
            ("the spec's user", 'test "$(id -u):$(id -g)" = 1000:1000'),
            ("its own pid namespace, the process as pid 1", "test $$ = 1"),
            ("the image's files", "test -x /bin/busybox"),
            ("the spec's mounts (a tmpfs on the read-only /tmp)", "echo x > /tmp/file"),
        ]
        script = "; ".join(f"{check} || exit {10 + i}" for i, (_, check) in enumerate(checks))
        tmpfs = MountSpec("/tmp", "tmpfs", "tmpfs", ["nosuid", "nodev", "mode=1777"])
        c = containers.run(["sh", "-c", script + "; exit 0"], env=["PATH=/bin", "GREETING=hello"],
                           cwd="/home/app", mounts=[tmpfs], user=User(uid=1000, gid=1000))
        code = c.exit_code()
        failed = checks[code - 10][0] if code is not None and 10 <= code < 10 + len(checks) else None
        assert code == 0, f"the container did not see {failed}" if failed else f"exit code {code}"

    def test_a_missing_command_fails_start_as_docker_says(self, containers):
        c = containers.create(["nosuch-command"])
        with pytest.raises(BargeError) as info:
            c.start()
        assert "executable file not found" in str(info.value)
        final = c.wait(10)
        assert final is not None and final.status == "stopped" and final.exit_code == 127

    def test_wait_with_a_timeout_while_running(self, containers):
        c = containers.run(["sleep", "100"])
        assert c.wait(0.2) is None
        running = c.state()
        assert running.status == "running" and running.pid > 0 and running.started_at

    def test_kill_only_a_running_container(self, containers):
        c = containers.create(["sleep", "100"])
        with pytest.raises(Conflict):
            c.kill(signal.SIGKILL)
        c.start()
        c.kill(signal.SIGKILL)
        assert c.exit_code() == 128 + signal.SIGKILL
        with pytest.raises(Conflict):
            c.kill(signal.SIGKILL)

    def test_pause_and_resume(self, containers):
        c = containers.run(["sleep", "100"])
        c.pause()
        assert c.state().status == "paused"
        c.resume()
        assert c.state().status == "running"
        c.kill(signal.SIGKILL)
        assert c.exit_code() == 128 + signal.SIGKILL

    # -- exec ----------------------------------------------------------------------

    def test_exec_runs_in_the_container_with_its_exit_code(self, containers):
        c = containers.run(["sleep", "100"])
        script = f'test "$(hostname)" = {HOSTNAME} || exit 9; test -x /bin/busybox || exit 8; exit 5'
        pid = c.exec("e1", ProcessSpec(args=["sh", "-c", script], env=["PATH=/bin"]))
        assert isinstance(pid, int) and pid > 0
        wait_for(lambda: c.exec_state("e1").status == "stopped", what="the exec to end")
        assert c.exec_state("e1").exit_code == 5
        assert c.state().status == "running"

    # -- cgroup ----------------------------------------------------------------------

    def test_processes_are_the_containers(self, containers):
        c = containers.run(["sh", "-c", "sleep 100 & wait"])
        wait_for(lambda: len(c.processes()) >= 2, what="two processes in the container")
        pids = c.processes()
        assert all(isinstance(p, int) and p > 0 for p in pids)
        assert c.state().pid in pids

    def test_stats_have_dockers_shape(self, containers):
        c = containers.run(["sleep", "100"])
        stats = c.stats()
        assert isinstance(stats["memory_stats"]["usage"], int)
        assert isinstance(stats["cpu_stats"]["cpu_usage"]["total_usage"], int)
        assert stats["pids_stats"]["current"] >= 1

    def test_update_changes_the_limits(self, containers):
        c = containers.create(["sleep", "100"], resources=Resources(pids_limit=50))
        c.update(Resources(pids_limit=20))
        assert c.stats()["pids_stats"]["limit"] == 20
        c.start()
        c.update(Resources(pids_limit=30))
        assert c.stats()["pids_stats"]["limit"] == 30

    # -- delete --------------------------------------------------------------------

    def test_delete_releases_everything(self, containers):
        never_started = containers.create(["sleep", "100"])
        exited = containers.run(["true"])
        assert exited.exit_code() == 0
        for c in (never_started, exited):
            pid = c.state().pid
            c.delete()
            assert not os.path.exists(c.state_dir), "delete left the state dir"
            assert cgroup_dirs(c.spec.cgroup_path) == [], "delete left the cgroup"
            assert c.state().status == "unknown"
            if pid:
                assert wait_for(lambda pid=pid: process_gone(pid), what=f"process {pid} to end")
            c.delete()  # idempotent
