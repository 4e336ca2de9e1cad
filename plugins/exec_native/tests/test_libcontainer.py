"""Real containers through barge's libcontainer: spawn_init + start with pipes.

Every test runs busybox commands in new namespaces and a real cgroup, reads
their output, and leaves no process, mount or cgroup directory behind (the
``box`` fixture checks). Root only.
"""

from __future__ import annotations

import contextlib
import glob
import os
import select
import signal
import socket
import time
import uuid
from pathlib import Path

import pytest

from barge import libc
from barge.errors import BargeError, InvalidParameter
from barge.execdriver import (
    DEFAULT_CAPABILITIES,
    ContainerSpec,
    DeviceNode,
    MountSpec,
    ProcessSpec,
    Resources,
    Rlimit,
    User,
)
from barge.testing.wait import wait_for
from barge_exec_native.libcontainer import Cgroup, ContainerError, ExecFailed, Stdio, caps, spawn_exec, spawn_init
from barge_exec_native.libcontainer.seccomp import compile_filter

PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _mounts_under(path: str) -> list[str]:
    with open("/proc/self/mountinfo") as fh:
        return [line.split()[4] for line in fh if line.split()[4].startswith(path)]


class Box:
    """Runs containers for one test and cleans up whatever they leave."""

    def __init__(self, rootfs: Path, tmp: Path):
        self.rootfs = rootfs
        self.tmp = tmp
        self.cgroups: list[Cgroup] = []
        self.pids: list[int] = []

    def spec(self, *args: str, **kw) -> ContainerSpec:
        cid = uuid.uuid4().hex
        process = kw.pop("process", None) or ProcessSpec(args=list(args), env=[PATH, "HOME=/root"])
        for key in ("user", "capabilities", "rlimits", "cwd", "no_new_privileges"):
            if key in kw:
                setattr(process, key, kw.pop(key))
        rootfs = kw.pop("rootfs", None) or [{"Type": "bind", "Source": str(self.rootfs), "Options": ["rbind"]}]
        return ContainerSpec(id=cid, rootfs=rootfs, process=process, hostname=cid[:12],
                             cgroup_path=f"barge/{cid}", **kw)

    def overlay(self) -> list[dict]:
        """A writable layer over the busybox tree (what the overlay graph driver describes)."""
        layer = self.tmp / uuid.uuid4().hex[:8]
        (layer / "upper").mkdir(parents=True)
        (layer / "work").mkdir()
        opts = [f"lowerdir={self.rootfs}", f"upperdir={layer / 'upper'}", f"workdir={layer / 'work'}"]
        return [{"Type": "overlay", "Source": "overlay", "Options": opts}]

    def cgroup(self, spec: ContainerSpec) -> Cgroup:
        cg = Cgroup(spec.cgroup_path)
        self.cgroups.append(cg)
        return cg

    def create(self, spec: ContainerSpec, stdio: Stdio):
        program = compile_filter(spec.seccomp) if spec.seccomp else None  # the driver's job
        init = spawn_init(spec, stdio, self.cgroup(spec), str(self.tmp / spec.id), program)
        self.pids.append(init.pid)
        return init

    def run(self, spec: ContainerSpec, stdin: bytes = b"", timeout: float = 20) -> tuple[int, str, str]:
        """Start, feed stdin, collect stdout/stderr until the init exits; (exit code, out, err)."""
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            init = self.create(spec, Stdio(in_r, out_w, err_w))
        except BaseException:
            for fd in (in_w, out_r, err_r):
                os.close(fd)
            raise
        finally:
            for fd in (in_r, out_w, err_w):
                os.close(fd)
        try:
            try:
                init.start()
            except ExecFailed:
                os.waitpid(init.pid, 0)
                self.pids.remove(init.pid)
                raise
            os.write(in_w, stdin)
            os.close(in_w)
            in_w = -1
            out, err = _drain(out_r, err_r, timeout)
            code = self.wait(init.pid, timeout)
            return code, out.decode(), err.decode()
        finally:
            for fd in (in_w, out_r, err_r):
                if fd >= 0:
                    os.close(fd)

    @contextlib.contextmanager
    def running(self, spec: ContainerSpec):
        """Start ``spec``, a command that prints a line and then reads its stdin: yields
        ``(init, that line, the write end of its stdin)``; the pipes are closed after."""
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        try:
            init = self.create(spec, Stdio(in_r, out_w, out_w))
        finally:
            os.close(in_r)
            os.close(out_w)
        try:
            init.start()
            yield init, os.read(out_r, 100), in_w
        finally:
            os.close(in_w)
            os.close(out_r)

    def exec_output(self, init, spec: ContainerSpec, process: ProcessSpec) -> tuple[int, bytes]:
        """Exec ``process`` into the running ``init`` and wait for it: (exit code, its output)."""
        er, ew = os.pipe()
        try:
            pid = spawn_exec(init.pid, spec, process, Stdio(0, ew, ew), Cgroup(spec.cgroup_path))
        finally:
            os.close(ew)
        with open(os.devnull, "rb") as null:
            out, _ = _drain(er, null.fileno(), 10)
        os.close(er)
        return self.wait(pid), out

    def wait(self, pid: int, timeout: float = 20) -> int:
        def reaped() -> tuple[int, int] | None:
            got, status = os.waitpid(pid, os.WNOHANG)
            return (got, status) if got else None

        _, status = wait_for(reaped, timeout, interval=0.005, what=f"container init {pid} to exit")
        if pid in self.pids:
            self.pids.remove(pid)
        return os.waitstatus_to_exitcode(status)

    def cleanup(self) -> None:
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        for cg in self.cgroups:
            cg.destroy()


def _drain(out_r: int, err_r: int, timeout: float) -> tuple[bytes, bytes]:
    bufs = {out_r: b"", err_r: b""}
    open_fds = [out_r, err_r]
    deadline = time.monotonic() + timeout
    while open_fds:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"output not closed in {timeout} s: {bufs}")
        ready, _, _ = select.select(open_fds, [], [], left)
        for fd in ready:
            chunk = os.read(fd, 65536)
            if chunk:
                bufs[fd] += chunk
            else:
                open_fds.remove(fd)
    return bufs[out_r], bufs[err_r]


@pytest.fixture
def box(busybox_rootfs, subreaper, barge_disk_tmp):
    b = Box(busybox_rootfs, barge_disk_tmp)
    try:
        yield b
    finally:
        b.cleanup()
        leaked = [d for cg in b.cgroups for d in cg.unique if os.path.exists(d)]
        assert not leaked, f"cgroup dirs left: {leaked}"
        assert not _mounts_under(str(barge_disk_tmp)), "mounts leaked to the host"


def _status_field(out: str, name: str) -> str:
    for line in out.splitlines():
        if line.startswith(name + ":"):
            return line.split()[1]
    raise AssertionError(f"{name} not in {out!r}")


# -- namespaces and the root file system ---------------------------------------------------------


def test_pid1_hostname_and_output(box):
    spec = box.spec("sh", "-c", "echo pid=$$; hostname; cat; echo err >&2; exit 3")
    code, out, err = box.run(spec, stdin=b"from-stdin\n")
    assert code == 3
    assert out.splitlines() == ["pid=1", spec.id[:12], "from-stdin"]
    assert err == "err\n"


def test_new_network_namespace_has_only_loopback_up(box):
    code, out, _ = box.run(box.spec("sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1; cat /sys/class/net/lo/flags"))
    assert code == 0
    names = [line.strip() for line in out.splitlines()[:-1]]
    assert names == ["lo"]
    assert int(out.splitlines()[-1], 16) & 0x1  # IFF_UP


def test_host_network_shares_interfaces_and_a_fresh_read_only_sys(box):
    """The host's network, so the host's devices in /sys; but a fresh sysfs: none
    of the host's sub-mounts under /sys (but the container's cgroups and the masks), read-only."""
    spec = box.spec("sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; echo --; "
                                "ls /sys/class/net; echo --; grep ' /sys' /proc/mounts")
    spec.namespaces["net"] = "host"
    code, out, _ = box.run(spec)
    assert code == 0, out
    devs, listed, mounts = (part.split() if i < 2 else part.strip().splitlines()
                            for i, part in enumerate(out.split("--\n")))
    with open("/proc/net/dev") as fh:
        host = sorted(line.split(":")[0].strip() for line in fh.readlines()[2:])
    assert sorted(devs) == host and sorted(listed) == sorted(os.listdir("/sys/class/net"))
    assert mounts[0].split()[:4] == ["sysfs", "/sys", "sysfs", mounts[0].split()[3]]
    assert mounts[0].split()[3].startswith("ro,")
    ours = [m.split()[1] for m in mounts[1:]]
    assert all(m.startswith("/sys/fs/cgroup") or m in spec.masked_paths for m in ours), ours


def test_a_joined_network_namespace_gets_its_own_sys(box, tmp_path):
    """The bridge case: the sandbox's namespace is joined by path; /sys must show
    its devices, not the host's (a bind of the host's /sys would)."""
    import threading

    ns_file = tmp_path / "netns"
    ns_file.touch()
    made = {}

    def make():  # a namespace bound on a file, as core's sandboxes are
        try:
            libc.unshare(libc.CLONE_NEWNET)
            libc.mount("/proc/thread-self/ns/net", str(ns_file), None, libc.MS_BIND)
        except Exception as exc:  # noqa: BLE001
            made["error"] = exc

    t = threading.Thread(target=make)
    t.start()
    t.join()
    assert "error" not in made, made
    try:
        spec = box.spec("sh", "-c", "ls /sys/class/net; grep -c ' /sys/' /proc/mounts || true",
                        sysctls={"net.ipv4.ip_unprivileged_port_start": "77"})
        spec.namespaces["net"] = str(ns_file)
        code, out, err = box.run(spec)
        assert code == 0, err
        assert out.split()[0] == "lo", out
    finally:
        libc.umount2(str(ns_file), libc.MNT_DETACH)


def test_net_sysctls_in_the_hosts_namespace_are_refused(box):
    spec = box.spec("true", sysctls={"net.ipv4.ip_forward": "1"})
    spec.namespaces["net"] = "host"
    with pytest.raises(InvalidParameter, match="not allowed in host net namespace"):
        box.run(spec)


def test_seccomp_filter_from_the_spec(box):
    from barge.security.default_seccomp import default_profile
    from barge.security.seccomp import resolve

    spec = box.spec("sh", "-c", "grep Seccomp: /proc/self/status; unshare -U true; echo rc=$?",
                    seccomp=resolve(default_profile(), DEFAULT_CAPABILITIES))
    code, out, err = box.run(spec)
    assert code == 0 and out.split()[:2] == ["Seccomp:", "2"] and "rc=1" in out, (out, err)
    assert "Operation not permitted" in err
    spec = box.spec("grep", "Seccomp:", "/proc/self/status", seccomp=spec.seccomp, no_new_privileges=True)
    assert box.run(spec)[1].split()[1] == "2"


def test_seccomp_without_its_program_never_runs_unconfined(box):
    from barge.execdriver import Seccomp

    spec = box.spec("true", seccomp=Seccomp(default_action="SCMP_ACT_ALLOW"))
    with pytest.raises(ContainerError, match="compiled program is missing"):
        spawn_init(spec, Stdio(0, 1, 2), box.cgroup(spec), str(box.tmp / spec.id))


def test_docker_mounts_and_readonly_places(box):
    script = (
        "grep -E ' /(proc|sys|dev|dev/pts|dev/shm|dev/mqueue|sys/fs/cgroup) ' /proc/mounts | cut -d' ' -f2-4;"
        "touch /sys/x 2>/dev/null && echo sys-writable;"
        "echo 1 > /proc/sys/kernel/panic 2>/dev/null && echo procsys-writable;"
        "ls -l /dev/ptmx /dev/fd; ls /dev; stat -c '%t:%T %a' /dev/null"
    )
    code, out, _ = box.run(box.spec("sh", "-c", script))
    assert code == 0, out
    mounts = {line.split()[0]: (line.split()[1], line.split()[2].split(",")) for line in out.splitlines()
              if line.startswith("/") and len(line.split()) == 3 and line.split()[1].isalpha()}
    assert mounts["/proc"][0] == "proc"
    assert mounts["/sys"][0] == "sysfs" and "ro" in mounts["/sys"][1]
    assert mounts["/dev"][0] == "tmpfs" and "nosuid" in mounts["/dev"][1]
    assert mounts["/dev/pts"][0] == "devpts"
    assert mounts["/dev/shm"][0] == "tmpfs" and "noexec" in mounts["/dev/shm"][1]
    assert mounts["/dev/mqueue"][0] == "mqueue"
    assert "ro" in mounts["/sys/fs/cgroup"][1]
    assert "sys-writable" not in out and "procsys-writable" not in out
    assert "/dev/ptmx -> pts/ptmx" in out and "/dev/fd -> /proc/self/fd" in out
    for node in ("null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue"):
        assert node in out.split()
    assert "1:3 666" in out


def test_masked_paths(box):
    spec = box.spec("sh", "-c", "wc -c < /proc/interrupts; ls /proc/kcore 2>&1; ls /proc/acpi | wc -l")
    code, out, _ = box.run(spec)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].strip() == "0"  # /dev/null bound over it
    if os.path.exists("/proc/kcore"):
        assert "/proc/kcore" in lines[1]
        assert os.stat("/proc/kcore").st_size != 0
    assert lines[-1].strip() == "0"  # an empty tmpfs over a directory


def test_readonly_rootfs_refuses_writes(box):
    script = "touch /newfile; echo rc=$?; touch /tmp/x; echo tmp=$?; echo ok > /dev/shm/x && echo shm-ok"
    spec = box.spec("sh", "-c", script,
                    readonly_rootfs=True)
    code, out, err = box.run(spec)
    assert "rc=1" in out and "tmp=1" in out and "shm-ok" in out
    assert "Read-only file system" in err


def test_overlay_rootfs_writes_land_in_the_upper_dir(box):
    rootfs = box.overlay()
    upper = rootfs[0]["Options"][1].split("=", 1)[1]
    code, out, _ = box.run(box.spec("sh", "-c", "echo data > /etc/new; mkdir -p /work/dir; cat /etc/new", rootfs=rootfs,
                                    cwd="/work/dir"))
    assert code == 0 and out == "data\n"
    assert Path(upper, "etc/new").read_text() == "data\n"
    assert Path(upper, "work/dir").is_dir()  # the missing cwd was created
    assert not (box.rootfs / "etc/new").exists()


def test_bind_mounts_ro_and_rw_and_symlink_cannot_escape(box, tmp_path):
    host_dir = tmp_path / "vol"
    host_dir.mkdir()
    (host_dir / "f").write_text("host\n")
    rootfs = box.overlay()
    upper = Path(rootfs[0]["Options"][1].split("=", 1)[1])
    (upper / "evil").symlink_to("/etc")  # absolute link: must resolve inside the container
    spec = box.spec("sh", "-c", "cat /ro/f; echo x > /ro/g 2>/dev/null || echo ro-refused; echo rw > /rw/h; "
                                "cat /evil/sub/f", rootfs=rootfs,
                    mounts=[MountSpec("/ro", "bind", str(host_dir), ["rbind", "ro"]),
                            MountSpec("/rw", "bind", str(host_dir), ["rbind"]),
                            MountSpec("/evil/sub", "bind", str(host_dir), ["rbind", "ro"])])
    code, out, _ = box.run(spec)
    assert code == 0, out
    assert out.splitlines() == ["host", "ro-refused", "host"]
    assert (host_dir / "h").read_text() == "rw\n"
    assert not Path("/etc/sub").exists()
    assert (upper / "etc/sub").is_dir()  # the mount point was made inside the root


def test_bad_bind_source_is_invalid_parameter(box):
    spec = box.spec("true", mounts=[MountSpec("/x", "bind", "/nonexistent/src", ["rbind"])])
    message = "invalid mount config: bind source path does not exist: /nonexistent/src"
    with pytest.raises(InvalidParameter, match=message):
        box.run(spec)


def test_tmpfs_mount_and_shm_size(box):
    spec = box.spec("sh", "-c", "grep -E ' /(scratch|dev/shm) ' /proc/mounts", shm_size=8 << 20,
                    mounts=[MountSpec("/scratch", "tmpfs", "tmpfs", ["size=1m", "noexec"])])
    code, out, _ = box.run(spec)
    assert code == 0
    assert "/dev/shm tmpfs" in out and "size=8192k" in out
    assert "/scratch tmpfs" in out and "size=1024k" in out


def test_sysctl_namespaced_only(box):
    code, out, _ = box.run(box.spec("cat", "/proc/sys/kernel/shmmni", sysctls={"kernel.shmmni": "1234"}))
    assert (code, out) == (0, "1234\n")
    with pytest.raises(InvalidParameter, match="not namespaced"):
        box.run(box.spec("true", sysctls={"vm.swappiness": "1"}))


def _console_socket() -> tuple[socket.socket, int]:
    """(our end, the child's end as a raw fd) of a console socket."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    return ours, theirs.detach()


def _take_master(sock: socket.socket) -> int:
    """The pty master the container process sent over the console socket."""
    sock.settimeout(10)
    try:
        fds = socket.recv_fds(sock, 16, 4)[1]
    finally:
        sock.close()
    assert len(fds) == 1
    return fds[0]


def _read_pty(master: int) -> str:
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO once the last slave holder exits
            break
        if not chunk:
            break
        out += chunk
    return out.decode().replace("\r", "")


@pytest.mark.parametrize("variant", [{}, {"privileged": True}, {"readonly_rootfs": True}],
                         ids=["default", "privileged", "ro"])
def test_terminal_is_a_pty_of_the_containers_devpts(box, variant):
    script = ("[ -t 0 ] && echo is-a-tty; tty; stty size; t=$(tty); [ -c \"$t\" ] && echo tty-exists; "
              "echo reopened > \"$t\"; ls -l /dev/console | cut -c1; readlink /proc/self/fd/1")
    spec = box.spec("sh", "-c", script, **variant)
    spec.process.terminal = True
    spec.process.console_height, spec.process.console_width = 33, 101
    ours, theirs = _console_socket()
    try:
        init = box.create(spec, Stdio(terminal=True, console_socket=theirs))
    finally:
        os.close(theirs)
    master = _take_master(ours)
    try:
        init.start()
        text = _read_pty(master)
        assert box.wait(init.pid) == 0
    finally:
        os.close(master)
    lines = text.splitlines()
    assert lines[:7] == ["is-a-tty", "/dev/pts/0", "33 101", "tty-exists", "reopened", "c", "/dev/pts/0"], text


def test_terminal_needs_a_console_socket(box):
    with pytest.raises(ContainerError, match="console socket"):
        box.create(box.spec("true"), Stdio(terminal=True))


# -- security: capabilities, users, rlimits -------------------------------------------------------


def test_default_capabilities_match_docker(box):
    code, out, _ = box.run(box.spec("cat", "/proc/self/status"))
    assert code == 0
    want = caps.mask(DEFAULT_CAPABILITIES)
    assert int(_status_field(out, "CapEff"), 16) == want
    assert int(_status_field(out, "CapPrm"), 16) == want
    assert int(_status_field(out, "CapBnd"), 16) == want
    assert int(_status_field(out, "CapInh"), 16) == 0
    assert _status_field(out, "NoNewPrivs") == "0"


def test_cap_drop_takes_effect(box):
    keep = [c for c in DEFAULT_CAPABILITIES if c != "CAP_CHOWN"]
    spec = box.spec("sh", "-c", "chown 1000 /tmp/f 2>&1; echo rc=$?", rootfs=box.overlay(), capabilities=keep)
    spec.process.args[2] = "touch /tmp/f; " + spec.process.args[2]
    code, out, _ = box.run(spec)
    assert "rc=1" in out and "Operation not permitted" in out


def test_user_1000_runs_as_1000_without_capabilities(box):
    spec = box.spec("sh", "-c", "id -u; id -g; id -G; grep CapEff /proc/self/status; pwd; touch /x",
                    user=User(1000, 1000, [5]), cwd="/home/app", rootfs=box.overlay())
    code, out, err = box.run(spec)
    lines = out.splitlines()
    assert lines[:3] == ["1000", "1000", "1000 5"]
    assert int(lines[3].split()[1], 16) == 0  # as in Docker: no ambient set, so none after execve
    assert lines[4] == "/home/app"
    assert code == 1 and "Permission denied" in err


def test_no_new_privileges(box):
    code, out, _ = box.run(box.spec("grep", "NoNewPrivs", "/proc/self/status", no_new_privileges=True))
    assert out.split() == ["NoNewPrivs:", "1"]


def test_rlimit_nofile_set_and_clamped_to_hard(box):
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    spec = box.spec("sh", "-c", "ulimit -n; ulimit -Hn", rlimits=[Rlimit("RLIMIT_NOFILE", 1024, 2048)])
    code, out, _ = box.run(spec)
    assert out.split() == ["1024", str(min(2048, hard))]
    # above the hard limit: clamped instead of failing (no CAP_SYS_RESOURCE here)
    spec = box.spec("sh", "-c", "ulimit -n; ulimit -Hn", rlimits=[Rlimit("nofile", hard * 4, hard * 4)])
    code, out, _ = box.run(spec)
    assert code == 0 and out.split() == [str(hard), str(hard)]


def test_privileged_has_all_caps_rw_sys_and_no_masks(box):
    spec = box.spec("sh", "-c", "grep CapEff /proc/self/status; grep ' /sys ' /proc/mounts; wc -c < /proc/interrupts; "
                                "ls /dev | wc -l", privileged=True)
    code, out, _ = box.run(spec)
    assert code == 0
    lines = out.splitlines()
    assert int(lines[0].split()[1], 16) == libc.capget()[1]  # all we hold ourselves
    assert " rw," in lines[1]
    assert int(lines[2]) > 0
    assert int(lines[3]) > 15  # the host's devices


# -- exec failures -----------------------------------------------------------------------------


def test_command_not_found_is_127_with_dockers_message(box):
    with pytest.raises(ExecFailed) as info:
        box.run(box.spec("nosuch"))
    assert info.value.code == 127
    assert str(info.value) == 'exec: "nosuch": executable file not found in $PATH'


def test_not_executable_is_126(box):
    with pytest.raises(ExecFailed) as info:
        box.run(box.spec("/etc/passwd"))
    assert info.value.code == 126 and "permission denied" in str(info.value)
    with pytest.raises(ExecFailed) as info:
        box.run(box.spec("/no/such/file"))
    assert info.value.code == 127 and "no such file or directory" in str(info.value)


def test_minimum_memory_is_refused_before_anything_runs(box):
    spec = box.spec("true", resources=Resources(memory=4 << 20))
    with pytest.raises(InvalidParameter, match="Minimum memory limit allowed is 6MB"):
        box.run(spec)
    assert not os.path.exists(f"/sys/fs/cgroup/memory/{spec.cgroup_path}")


# -- cgroups ----------------------------------------------------------------------------------


def test_cgroup_layout_detected():
    assert Cgroup.layout() in ("v1", "hybrid", "v2")


def test_container_is_in_its_cgroup_with_limits(box):
    spec = box.spec("cat", "/proc/self/cgroup", resources=Resources(memory=64 << 20, pids_limit=50, cpu_shares=512,
                                                                   cpu_quota=50000, cpu_period=100000, cpuset_cpus="0"))
    cg = Cgroup(spec.cgroup_path)
    code, out, _ = box.run(spec)
    assert code == 0
    if cg.kind != "v2":
        assert f"memory:/{spec.cgroup_path}" in out and f"pids:/{spec.cgroup_path}" in out
        # read back while it still exists: a new container with the same limits
    spec2 = box.spec("sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max "
                                 "/sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu/cpu.cfs_quota_us "
                                 "/sys/fs/cgroup/cpuset/cpuset.cpus",
                     resources=spec.resources)
    if cg.kind == "v2":
        pytest.skip("v1 file names")
    code, out, _ = box.run(spec2)
    assert out.split() == [str(64 << 20), "50", "512", "50000", "0"]


def test_memory_limit_oom_kill_is_reported(box):
    spec = box.spec("sh", "-c", "x=a; while true; do x=$x$x; done", resources=Resources(memory=16 << 20))
    cg = box.cgroup(spec)
    code, _out, _err = box.run(spec, timeout=30)
    assert code == -signal.SIGKILL
    assert cg.oom_killed()
    stats = cg.stats()
    assert stats["memory_stats"]["limit"] == 16 << 20


def test_pids_limit_contains_a_fork_storm(box):
    spec = box.spec("sh", "-c", "(for i in $(seq 1000); do sleep 30 >/dev/null & done) 2>/dev/null; echo done; read x",
                    resources=Resources(pids_limit=100))
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    cg = box.cgroup(spec)
    try:
        init = box.create(spec, Stdio(in_r, out_w, out_w))
        os.close(in_r), os.close(out_w)
        init.start()
        buf = b""
        deadline = time.monotonic() + 20
        while b"done" not in buf and time.monotonic() < deadline:
            if select.select([out_r], [], [], 1)[0]:
                buf += os.read(out_r, 4096)
        assert b"done" in buf
        assert 90 <= len(cg.pids()) <= 100  # the storm reached the limit and stopped there
        assert cg.stats()["pids_stats"] == {"current": len(cg.pids()), "limit": 100}
        pid = os.fork()  # the host still forks
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        cg.destroy()  # kills all of them (stdin still open: sh is still waiting)
        assert box.wait(init.pid) == -signal.SIGKILL
    finally:
        os.close(in_w)
        os.close(out_r)


def test_exec_joins_the_running_container(box):
    spec = box.spec("sh", "-c", "echo up; read x")
    cg = box.cgroup(spec)
    with box.running(spec) as (init, first, stdin):
        assert first == b"up\n"
        er, ew = os.pipe()
        proc = ProcessSpec(args=["sh", "-c", "echo $$; cat /proc/1/cmdline | tr '\\0' ' '; echo; hostname; pwd; id -u; "
                                             "readlink /proc/self/ns/net"],
                           env=[PATH], cwd="/tmp", user=User(1000, 1000))
        pid = spawn_exec(init.pid, spec, proc, Stdio(0, ew, ew), cg)
        os.close(ew)
        assert pid in cg.pids()
        with open(os.devnull, "rb") as null:
            out, _ = _drain(er, null.fileno(), 10)
        os.close(er)
        assert box.wait(pid) == 0
        lines = out.decode().splitlines()
        assert int(lines[0]) > 1
        assert lines[1].strip() == "sh -c echo up; read x"
        assert lines[2:5] == [spec.id[:12], "/tmp", "1000"]
        assert lines[5] == os.readlink(f"/proc/{init.pid}/ns/net")
        with pytest.raises(ExecFailed) as info:
            spawn_exec(init.pid, spec, ProcessSpec(args=["nosuch"], env=[PATH]), Stdio(0, 1, 2), cg)
        assert info.value.code == 127 and "executable file not found in $PATH" in str(info.value)
        os.write(stdin, b"\n")
        assert box.wait(init.pid) == 0


def test_pause_and_thaw(box):
    spec = box.spec("sh", "-c", "while true; do echo tick; sleep 0.02; done")
    r, w = os.pipe()
    cg = box.cgroup(spec)
    init = box.create(spec, Stdio(0, w, w))
    os.close(w)
    try:
        init.start()
        os.read(r, 100)
        cg.freeze()
        assert cg.frozen()  # all frozen: what was written before is in the pipe
        while select.select([r], [], [], 0.05)[0]:  # drain what was written before the freeze
            os.read(r, 4096)
        assert not select.select([r], [], [], 0.2)[0]  # nothing while frozen
        cg.thaw()
        assert not cg.frozen()
        assert select.select([r], [], [], 2)[0]
    finally:
        os.close(r)
    cg.kill_all(signal.SIGKILL)
    assert box.wait(init.pid) == -signal.SIGKILL


def test_stats_shape(box):
    spec = box.spec("sh", "-c", "read x", resources=Resources(memory=32 << 20))
    r, w = os.pipe()
    cg = box.cgroup(spec)
    init = box.create(spec, Stdio(r, 1, 2))
    os.close(r)
    try:
        init.start()
        s = cg.stats()
        os.write(w, b"\n")
    finally:
        os.close(w)
    assert box.wait(init.pid) == 0
    assert s["memory_stats"]["limit"] == 32 << 20 and s["memory_stats"]["usage"] > 0
    assert isinstance(s["memory_stats"]["stats"], dict)
    cpu = s["cpu_stats"]
    assert cpu["cpu_usage"]["total_usage"] > 0 and cpu["system_cpu_usage"] > 0 and cpu["online_cpus"] >= 1
    assert set(cpu["throttling_data"]) == {"periods", "throttled_periods", "throttled_time"}
    assert s["pids_stats"]["current"] >= 1
    assert set(s["blkio_stats"]) >= {"io_service_bytes_recursive", "io_serviced_recursive"}


def test_failed_setup_leaves_nothing(box):
    rootfs = [{"Type": "overlay", "Source": "overlay", "Options": ["lowerdir=/nonexistent/lower"]}]
    spec = box.spec("true", rootfs=rootfs)
    with pytest.raises(ContainerError, match="mount"):
        box.run(spec)
    assert not glob.glob(f"/sys/fs/cgroup/*/{spec.cgroup_path}")
    assert _children() == []  # the init was killed and reaped


def _children() -> list[int]:
    me = str(os.getpid())
    found = []
    for stat_path in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat_path) as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:
            found.append(int(stat_path.split("/")[2]))
    return found


def test_cancel_before_start_leaves_nothing(box):
    spec = box.spec("true")
    init = box.create(spec, Stdio(0, 1, 2))
    init.cancel()
    box.pids.remove(init.pid)
    with pytest.raises(ProcessLookupError):
        os.kill(init.pid, 0)
    box.cgroups[-1].destroy()
    assert not glob.glob(f"/sys/fs/cgroup/*/{spec.cgroup_path}")


def test_destroy_is_idempotent(need_root):
    cg = Cgroup(f"barge/{uuid.uuid4().hex}")
    cg.create(Resources(pids_limit=10))
    assert cg.exists()
    cg.destroy()
    cg.destroy()
    assert not cg.exists()


def test_bad_cgroup_path_refused():
    with pytest.raises(ContainerError):
        Cgroup("../escape")


def test_signals_are_default_and_unblocked_in_the_container(box):
    # Python ignores SIGPIPE and SIGXFSZ; ignored signals would survive execve
    code, out, _ = box.run(box.spec("sh", "-c", "grep -E 'Sig(Ign|Blk)' /proc/self/status; yes | head -n 1"))
    assert code == 0
    fields = dict(line.split(":\t") for line in out.splitlines() if ":\t" in line)
    assert int(fields["SigIgn"], 16) == 0 and int(fields["SigBlk"], 16) == 0
    assert out.splitlines()[-1] == "y"


def _sig_fields(out: str) -> tuple[int, int]:
    fields = dict(line.split(":\t") for line in out.splitlines() if line.startswith("Sig"))
    return int(fields["SigIgn"], 16), int(fields["SigBlk"], 16)


def test_signals_are_default_whatever_the_caller_did(box):
    """libcontainer is safe for any caller: ignored signals and a blocked mask
    survive fork and execve, so the init, an --init command and an exec'd
    process must all start with neither."""
    show = ["grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"]  # not via sh -c: busybox's ignores SIGQUIT there
    old_usr2 = signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGTERM})
    try:
        for init in (False, True):
            code, out, err = box.run(box.spec(*show, init=init))
            assert (code, err) == (0, "") and _sig_fields(out) == (0, 0), (init, out)
        spec = box.spec("sh", "-c", "echo up; read x")
        with box.running(spec) as (init, first, stdin):
            assert first == b"up\n"
            code, out = box.exec_output(init, spec, ProcessSpec(args=show, env=[PATH]))
            assert code == 0 and _sig_fields(out.decode()) == (0, 0), out
            os.write(stdin, b"\n")
            assert box.wait(init.pid) == 0
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        signal.signal(signal.SIGUSR2, old_usr2)


def test_init_reaper_runs_the_command_as_its_child(box):
    spec = box.spec("sh", "-c", "echo $$; (sleep 0.05 &); sleep 0.2; ps -o stat,comm | grep -c '^Z'; exit 3", init=True)
    code, out, _ = box.run(spec)
    assert code == 3
    pid, zombies = out.split()
    assert pid != "1" and zombies == "0"  # the orphaned sleep was reaped by PID 1


def test_init_reaper_forwards_signals_and_reports_them(box):
    spec = box.spec("sh", "-c", "trap 'exit 7' TERM; echo ready; while true; do sleep 0.02; done", init=True)
    r, w = os.pipe()
    init = box.create(spec, Stdio(0, w, w))
    os.close(w)
    try:
        init.start()
        assert os.read(r, 100) == b"ready\n"
        os.kill(init.pid, signal.SIGTERM)
        assert box.wait(init.pid) == 7
    finally:
        os.close(r)
    with pytest.raises(ExecFailed) as info:
        box.run(box.spec("nosuch", init=True))
    assert info.value.code == 127
    code, _, _ = box.run(box.spec("sh", "-c", "kill -9 $$", init=True))
    assert code == 137


def test_memory_swap_and_update(box):
    spec = box.spec("sh", "-c", "read x", resources=Resources(memory=32 << 20, memory_swap=64 << 20))
    r, w = os.pipe()
    cg = box.cgroup(spec)
    init = box.create(spec, Stdio(r, 1, 2))
    os.close(r)
    try:
        init.start()
        mem = cg.dirs["memory"] if cg.kind != "v2" else None
        if mem and os.path.exists(f"{mem}/memory.memsw.limit_in_bytes"):
            assert Path(f"{mem}/memory.memsw.limit_in_bytes").read_text().strip() == str(64 << 20)
        cg.set(Resources(memory=128 << 20, memory_swap=256 << 20))  # raising: memsw must go first
        assert cg.stats()["memory_stats"]["limit"] == 128 << 20
        cg.set(Resources(memory=16 << 20, memory_swap=16 << 20))  # lowering: the limit first
        assert cg.stats()["memory_stats"]["limit"] == 16 << 20
        cg.set(Resources(pids_limit=7, cpu_shares=256))
        assert cg.stats()["pids_stats"]["limit"] == 7
        os.write(w, b"\n")
    finally:
        os.close(w)
    assert box.wait(init.pid) == 0


def test_cpuset_outside_the_machine_is_refused(box):
    with pytest.raises(InvalidParameter, match="Requested CPUs are not available"):
        box.run(box.spec("true", resources=Resources(cpuset_cpus="63")))


def test_exec_with_a_terminal(box):
    spec = box.spec("sh", "-c", "read x")
    r, w = os.pipe()
    init = box.create(spec, Stdio(r, 1, 2))
    os.close(r)
    try:
        init.start()
        script = ("[ -t 1 ] && echo tty-ok; t=$(tty); echo \"$t\"; [ -c \"$t\" ] && echo tty-exists; "
                  "echo reopened > \"$t\"; stty size; ps -o pid,tty | tail -n 1")
        proc = ProcessSpec(args=["sh", "-c", script], env=[PATH], user=User(uid=1000, gid=1000),
                           console_height=7, console_width=44)
        ours, theirs = _console_socket()
        try:
            pid = spawn_exec(init.pid, spec, proc, Stdio(terminal=True, console_socket=theirs), box.cgroups[-1])
        finally:
            os.close(theirs)
        master = _take_master(ours)
        try:
            text = _read_pty(master)
        finally:
            os.close(master)
        assert box.wait(pid) == 0
        lines = text.splitlines()
        assert lines[0] == "tty-ok", text
        assert lines[1].startswith("/dev/pts/") and lines[2:5] == ["tty-exists", "reopened", "7 44"], text
        number = lines[1][len("/dev/pts/"):]
        assert lines[5].split()[1] in (f"pts/{number}", f"136,{number}"), text  # ps: its controlling tty
        os.write(w, b"\n")
        assert box.wait(init.pid) == 0
    finally:
        os.close(w)


def _v2_root() -> str | None:
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            if " - cgroup2 " in line:
                return line.split()[4]
    return None


def test_v2_code_path_on_a_cgroup2_tree(box):
    """The v2 half (cgroup.procs, cgroup.freeze, cgroup.kill, a private
    cgroup namespace with cgroup2 mounted) on whatever cgroup2 tree exists:
    the whole hierarchy on v2, the bare ``unified`` one on hybrid."""
    root = _v2_root()
    if root is None:
        pytest.skip("no cgroup2 mount on this machine")
    spec = box.spec("sh", "-c", "cat /proc/self/cgroup | grep '^0::'; grep ' /sys/fs/cgroup ' /proc/mounts; read x")
    cg = Cgroup(spec.cgroup_path, v2_root=root)
    box.cgroups.append(cg)
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    init = spawn_init(spec, Stdio(in_r, out_w, out_w), cg, str(box.tmp / spec.id))
    box.pids.append(init.pid)
    os.close(in_r)
    os.close(out_w)
    try:
        init.start()
        out = b""
        while out.count(b"\n") < 2:
            out += os.read(out_r, 4096)
        wait_for(lambda: cg.pids() == [init.pid], what="grep to exit; only `read` in sh left")
        assert cg.pids() == [init.pid]
        with open(f"/proc/{init.pid}/cgroup") as fh:
            assert f"0::/{spec.cgroup_path}\n" in fh.read()
        cg.freeze()
        assert cg.frozen()
        cg.thaw()
        assert not cg.frozen()
        assert isinstance(cg.stats()["cpu_stats"]["online_cpus"], int)
        cg.kill_all(signal.SIGKILL)
        assert box.wait(init.pid) == -signal.SIGKILL
        out = out.decode()
        assert out.splitlines()[0] == "0::/"  # a private cgroup namespace rooted at the container
        assert "cgroup2" in out.splitlines()[1] and "ro" in out.splitlines()[1].split()[3].split(",")
    finally:
        os.close(in_w)
        os.close(out_r)


def test_v2_device_filter_denies_other_devices(box):
    """cgroup v2 has no devices.allow: an eBPF program must refuse devices off
    Docker's list (kmsg 1:11 here) even to a container holding CAP_MKNOD,
    and allow them when privileged (checked on whatever cgroup2 tree exists)."""
    root = _v2_root()
    if root is None or not os.path.exists("/dev/kmsg"):
        pytest.skip("needs a cgroup2 mount and /dev/kmsg")
    script = "mknod /tmp/kmsg c 1 11 && head -c 0 /tmp/kmsg && echo kmsg-open; echo ok > /dev/null && echo null-ok"
    outputs = {}
    for privileged in (False, True):
        spec = box.spec("sh", "-c", script, rootfs=box.overlay(), privileged=privileged)
        cg = Cgroup(spec.cgroup_path, v2_root=root)
        box.cgroups.append(cg)
        outputs[privileged], status = _run_on(box, spec, cg)
        assert status == 0
    assert "null-ok" in outputs[False] and "Operation not permitted" in outputs[False]
    assert "kmsg-open" not in outputs[False]
    assert "kmsg-open" in outputs[True]


def _run_on(box, spec, cg) -> tuple[str, int]:
    """Run ``spec`` in cgroup ``cg`` to its end; stdout and stderr together, and its exit status."""
    out_r, out_w = os.pipe()
    init = spawn_init(spec, Stdio(0, out_w, out_w), cg, str(box.tmp / spec.id))
    box.pids.append(init.pid)
    os.close(out_w)
    try:
        init.start()
        out, _ = _drain(out_r, os.open("/dev/null", os.O_RDONLY), 10)
    finally:
        os.close(out_r)
    status = box.wait(init.pid)
    return out.decode(), status


@pytest.mark.parametrize("layout", ["v1", "v2"])
def test_device_nodes_and_rules_allow_exactly_what_was_asked(box, layout):
    """``--device`` / ``--device-cgroup-rule`` on both cgroup layouts (v2 forced on the cgroup2 tree):
    the node is made with the mode and owner given; its rule allows reading, not writing; the
    same device under another node without a rule stays closed (loop0: a block device needs
    nothing but the device cgroup to open)."""
    root = _v2_root()
    if layout == "v2" and root is None:
        pytest.skip("no cgroup2 mount on this machine")
    if layout == "v1" and Cgroup.layout() == "v2":
        pytest.skip("no v1 devices controller on this machine")
    if not os.path.exists("/dev/loop0"):
        pytest.skip("needs /dev/loop0")
    st = os.stat("/dev/loop0")
    major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
    script = ("stat -c '%t:%T %a %u:%g' /dev/myloop; head -c 1 /dev/myloop > /dev/null && echo read-ok; "
              "head -c 0 /dev/zero > /dev/myloop && echo write-ok; mknod /tmp/other b 7 1 && "
              "head -c 1 /tmp/other > /dev/null && echo other-ok")
    node = DeviceNode("/dev/myloop", "b", major, minor, file_mode=0o640, uid=12, gid=34)
    spec = box.spec("sh", "-c", script, rootfs=box.overlay(), devices=[node], device_rules=[f"b {major}:{minor} r"])
    cg = Cgroup(spec.cgroup_path, v2_root=root) if layout == "v2" else Cgroup(spec.cgroup_path)
    box.cgroups.append(cg)
    out, _ = _run_on(box, spec, cg)
    assert out.splitlines()[0] == f"{major:x}:{minor:x} 640 12:34", out
    assert "read-ok" in out and "write-ok" not in out and "other-ok" not in out, out


def test_device_cgroup_denies_devices_off_the_list(box):
    if not os.path.exists("/dev/kmsg"):
        pytest.skip("needs /dev/kmsg to try")
    script = "mknod /tmp/kmsg c 1 11 && echo made; head -c 0 /tmp/kmsg && echo kmsg-open; head -c 1 /dev/zero | wc -c"
    code, out, err = box.run(box.spec("sh", "-c", script, rootfs=box.overlay()))
    assert out.split() == ["made", "1"]  # mknod of anything is allowed ("c *:* m"), opening is not
    assert "Operation not permitted" in err


def test_unknown_capability_is_invalid_parameter(box):
    with pytest.raises(InvalidParameter, match='unknown capability: "CAP_NOPE"'):
        box.run(box.spec("true", capabilities=["CAP_CHOWN", "CAP_NOPE"]))


def test_syscall_errors_are_named_by_errno(tmp_path, need_root):
    with pytest.raises(libc.NotFound) as info:
        libc.umount2(str(tmp_path / "missing"))
    assert info.value.errno == 2 and "umount" in str(info.value)
    with pytest.raises(libc.InvalidArgument):
        libc.umount2(str(tmp_path))  # nothing mounted there
    with pytest.raises(libc.SyscallError) as info:
        libc.setns(-1, 0)
    assert info.value.errno == 9  # EBADF has no class of its own
    # barge.libc's errors: a user-facing BargeError and an OSError, as os.* raise
    assert isinstance(info.value, BargeError) and isinstance(info.value, OSError)


def test_device_filter_program_shape():
    from barge_exec_native.libcontainer import devicefilter

    assert devicefilter.parse_rule("c 1:3 rwm") == (2, 1, 3, 7)
    assert devicefilter.parse_rule("b *:* m") == (1, None, None, 1)
    code = devicefilter.program(["c 1:3 rwm", "c 136:* rw"])
    assert len(code) % 8 == 0
    # 6 loads, rule 1: type+access(3)+major+minor+mov+exit = 8, rule 2: 7, deny: 2
    assert len(code) // 8 == 6 + 8 + 7 + 2


def test_oom_score_adj_is_the_inits_and_the_execs(box):
    """The init writes its own oom_score_adj (before dropping capabilities, here a user's); an
    exec without one takes the init's, one with its own keeps it; the monitor's stays."""
    spec = box.spec("sh", "-c", "cat /proc/self/oom_score_adj; read x", user=User(1000, 1000))
    spec.process.oom_score_adj = 500
    mine = Path("/proc/self/oom_score_adj").read_text()
    with box.running(spec) as (init, first, stdin):
        assert first == b"500\n"
        assert Path(f"/proc/{init.pid}/oom_score_adj").read_text() == "500\n"
        for own, expected in ((None, "500"), (800, "800")):
            proc = ProcessSpec(args=["cat", "/proc/self/oom_score_adj"], env=[PATH], oom_score_adj=own)
            code, out = box.exec_output(init, spec, proc)
            assert code == 0 and out.decode().strip() == expected
        assert Path("/proc/self/oom_score_adj").read_text() == mine
        os.write(stdin, b"\n")
        assert box.wait(init.pid) == 0


def test_oom_score_adj_below_the_floor_fails_the_start_with_the_reason(box):
    eff = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("CapEff:"))
    if int(eff.split()[1], 16) >> 24 & 1:  # CAP_SYS_RESOURCE
        pytest.skip("this process has CAP_SYS_RESOURCE: any score can be set")
    spec = box.spec("true")
    spec.process.oom_score_adj = -1000
    with pytest.raises(ContainerError, match="cannot set oom_score_adj to -1000: .*CAP_SYS_RESOURCE"):
        box.run(spec)
