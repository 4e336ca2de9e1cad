"""``docker cp`` against a hostile container: CVE-2018-15664 and CVE-2019-14271.

CVE-2018-15664: dockerd resolved a cp path inside the container, then used
the resolved path string; a container swapping a directory for a symlink to
the host's ``/`` in between made cp read or write host files. barge resolves
and opens every component through directory fds inside the container's
root; the container here swaps atomically (``renameat2(RENAME_EXCHANGE)``)
while the host copies in and out, and the host's copy of the path must never
be read or written. The same class covers every later step of an unpack:
metadata set by path (``chmod`` of a FIFO just made) would follow a symlink
swapped in meanwhile, from the daemon's root.

CVE-2019-14271: docker cp ran ``docker-tar`` chrooted into the container,
which loaded the image's ``libnss_*``; barge's cp is Python in the daemon
and must never run anything of the container (a hostile
``/etc/ld.so.preload`` and ``libnss_files`` in the image stay unused).
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import tarfile
import tempfile
import threading
from pathlib import Path

import pytest

from barge.testing.wait import wait_for
from tests.integration.helpers import create, rm
from tests.security.helpers import PROBE, barge_docker, init_pid, logs, run_detached, wait_exit
from tests.security.images import compile_c, host_libraries, import_image, rootfs


@pytest.fixture
def host_dir():
    """A host directory holding ``secret`` (``host``), mode 0700 like a private one."""
    where = Path(tempfile.mkdtemp(prefix="barge-15664-"))
    (where / "secret").write_text("host\n")
    yield where
    shutil.rmtree(where)


def _swapper(box, probe: str, target: Path, seconds: float = 60) -> str:
    """A container whose ``/w/dir`` (holding ``secret`` = ``container``) trades places with
    ``/w/link`` -> ``target`` (a host path) as fast as it can."""
    script = (f"mkdir -p /w/dir && echo container > /w/dir/secret && ln -s {target} /w/link && "
              f"exec {PROBE} exchange /w/dir /w/link {seconds}")
    cid = run_detached(box, ["sh", "-c", script], probe=probe)
    wait_for(lambda: box.request("HEAD", f"/containers/{cid}/archive?path=/w/link")[0] == 200,
             what="/w/link in the container")
    return cid


def _tar_member(body: bytes, name: str) -> bytes | None:
    with tarfile.open(fileobj=io.BytesIO(body)) as tf:
        try:
            return tf.extractfile(name).read()
        except KeyError:
            return None


def test_cp_from_a_container_swapping_dir_and_symlink_never_reads_the_host(box, probe, host_dir):
    """CVE-2018-15664, copy out: 300 ``GET /archive`` of ``/w/dir/secret`` and of ``/w/dir``
    while the container swaps ``/w/dir`` with a symlink to a host directory holding another
    ``secret``: every answer is the container's file or a 404. The control: the same path
    joined naively under ``/proc/<pid>/root`` (resolved by the host) reads the host's file."""
    cid = _swapper(box, probe, host_dir)
    try:
        pid = init_pid(box, cid)
        got, naive = set(), set()
        for i in range(300):
            path = "/w/dir/secret" if i % 2 else "/w/dir"
            status, _, body = box.request("GET", f"/containers/{cid}/archive?path={path}")
            if status == 200:
                got.add(_tar_member(body, "secret" if i % 2 else "dir/secret"))
            try:
                naive.add(Path(f"/proc/{pid}/root/w/dir/secret").read_bytes())
            except OSError:
                pass
        assert b"host\n" not in got and b"container\n" in got, got
        assert b"host\n" in naive, naive  # what resolving outside the container would have done
    finally:
        rm(box, cid)


def test_cp_into_a_container_swapping_dir_and_symlink_never_writes_the_host(box, probe, host_dir):
    """CVE-2018-15664, copy in: 300 ``PUT /archive`` into ``/w/dir`` while it is swapped with a
    symlink to a host directory: nothing lands in the host directory; the control: a naive
    write under ``/proc/<pid>/root/w/dir`` does."""
    cid = _swapper(box, probe, host_dir)
    payload = _tar({"pwned": b"from cp\n"})
    try:
        pid = init_pid(box, cid)
        for _ in range(300):
            box.request("PUT", f"/containers/{cid}/archive?path=/w/dir", payload,
                        {"Content-Type": "application/x-tar"})
        assert sorted(os.listdir(host_dir)) == ["secret"]
        for _ in range(300):
            try:
                Path(f"/proc/{pid}/root/w/dir/naive").write_text("naive\n")
            except OSError:
                pass
        assert (host_dir / "naive").exists()  # the write a path-string copy would have made
    finally:
        rm(box, cid)


def _tar(files: dict[str, bytes], fifos: dict[str, int] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tf.addfile(info, io.BytesIO(data))
        for name, mode in (fifos or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.FIFOTYPE, mode
            tf.addfile(info)
    return buf.getvalue()


def test_unpacking_fifos_never_chmods_a_host_file(box, probe):
    """CVE-2018-15664 one step later: cp makes a FIFO, then sets its mode; the container swaps
    each new FIFO for a symlink to a host file the moment it appears, in between. The host file keeps
    its mode 0600, however many FIFOs (mode 0666) the tar carries."""
    victim_dir = Path(tempfile.mkdtemp(prefix="barge-15664-chmod-"))
    victim = victim_dir / "shadow"
    victim.write_text("host secret\n")
    victim.chmod(0o600)
    os.chmod(victim_dir, 0o755)
    cid = run_detached(box, ["sh", "-c", f"mkdir /w && exec {PROBE} swapin /w 400 {victim} 60"], probe=probe)
    try:
        wait_for(lambda: "ready" in logs(box, cid)[0], what="the container to say ready")
        tar = _tar({}, {f"p{i}": 0o666 for i in range(400)})
        for _ in range(3):
            box.request("PUT", f"/containers/{cid}/archive?path=/w", tar, {"Content-Type": "application/x-tar"})
            assert stat.S_IMODE(victim.stat().st_mode) == 0o600
        assert stat.S_IMODE(victim.stat().st_mode) == 0o600 and victim.read_text() == "host secret\n"
    finally:
        rm(box, cid)
        shutil.rmtree(victim_dir)


# ---------------------------------------------------------------------------
# CVE-2019-14271: nothing of the container runs
# ---------------------------------------------------------------------------

MARKER = "cve-2019-14271-ran"
PRELOAD = f"""
#include <fcntl.h>
#include <unistd.h>
__attribute__((constructor)) static void pwn(void) {{
    int fd = open("/{MARKER}", O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {{ write(fd, "ran\\n", 4); close(fd); }}
}}
"""


@pytest.fixture(scope="module")
def hostile_libs_image(box, tmp_path_factory):
    """busybox, the host's ``/bin/true`` with its libraries, and a library that writes
    ``/cve-2019-14271-ran`` when loaded, named in ``/etc/ld.so.preload`` and installed as
    ``libnss_files.so.2`` (with an nsswitch.conf using it)."""
    tmp = tmp_path_factory.mktemp("nss")
    evil = compile_c(PRELOAD, tmp / "evil.so", "-shared", "-fPIC").read_bytes()
    files = host_libraries("/bin/true")
    libdir = os.path.dirname(next(p for p in files if "libc.so" in p))
    files.update({
        "bin/dyntrue": (Path("/bin/true").read_bytes(), 0o755),
        "lib/evil.so": (evil, 0o755),
        f"{libdir}/libnss_files.so.2": (evil, 0o755),
        "etc/ld.so.preload": b"/lib/evil.so\n",
        "etc/nsswitch.conf": b"passwd: files\ngroup: files\n",
        "etc/passwd": b"root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n",
        "etc/group": b"root:x:0:\nuser:x:1000:\n",
    })
    return import_image(box, rootfs(files), "cve-2019-14271:libs")


def _ran(box, cid: str) -> bool:
    return box.request("HEAD", f"/containers/{cid}/archive?path=/{MARKER}")[0] == 200


def _children(pid: int) -> set[int]:
    """Pids whose parent is ``pid`` now."""
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat_line = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat_line.rsplit(")", 1)[1].split()[1]) == pid:
                out.add(int(entry))
    return out


class ChildWatch:
    """Samples the daemon's children while a block runs: any new one (cp spawning a
    helper, as docker-tar was) is recorded; the spawner of monitors, there before, is not."""

    def __init__(self, pid: int):
        self.pid, self.before, self.seen = pid, _children(pid), set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            self.seen |= _children(self.pid) - self.before

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def test_cp_runs_nothing_from_the_container(box, hostile_libs_image, tmp_path):
    """CVE-2019-14271: copying in and out of a running and of a stopped container (API and
    ``docker cp``, with ``copyUIDGID``) never loads the image's preload or NSS library; the
    control: a dynamically linked program run in the container does load it."""
    control = run_detached(box, ["/bin/dyntrue"], Image="cve-2019-14271:libs")
    try:
        wait_exit(box, control)
        assert _ran(box, control), "the hostile library does not load in this image: the test proves nothing"
    finally:
        rm(box, control)
    running = run_detached(box, ["sleep", "600"], Image="cve-2019-14271:libs")
    stopped = create(box, Image="cve-2019-14271:libs", Cmd=["true"], User="user")
    try:
        tar = _tar({"in.txt": b"in\n"})
        (tmp_path / "local.txt").write_text("local\n")
        watch = ChildWatch(box.pid)
        with watch:
            _copy_in_and_out(box, (running, stopped), tar, tmp_path)
        assert watch.seen == set(), f"the daemon started processes during cp: {watch.seen}"
        if box.driver == "vfs":  # the watch's control: vfs copies a layer with cp(1) for a new container
            with ChildWatch(box.pid) as control_watch:
                rm(box, create(box, Image="cve-2019-14271:libs", Cmd=["true"]))
            assert control_watch.seen, "the watch saw no child even where the daemon starts one"
        assert not os.path.exists(f"/{MARKER}")
    finally:
        rm(box, running)
        rm(box, stopped)


def _copy_in_and_out(box, containers, tar: bytes, tmp_path: Path) -> None:
    """cp in (API, with and without copyUIDGID; docker cp) and out (API, export, docker cp)."""
    for cid in containers:
        for query in ("", "&copyUIDGID=1"):
            status, _, body = box.request("PUT", f"/containers/{cid}/archive?path=/tmp{query}", tar,
                                          {"Content-Type": "application/x-tar"})
            assert status == 200, body
        assert box.request("GET", f"/containers/{cid}/archive?path=/etc")[0] == 200
        assert box.request("GET", f"/containers/{cid}/export")[0] == 200
        for args in ((str(tmp_path / "local.txt"), f"{cid}:/tmp/"), (f"{cid}:/etc/passwd", str(tmp_path))):
            proc = barge_docker(box, "cp", "-a", *args)
            assert proc.returncode == 0, proc.stderr
        assert not _ran(box, cid)


MAGIC_PATHS = ["/proc/1/root", "/proc/1/root/etc", "/proc/1/cwd/etc", "/proc/1/fd/1", "/proc/1/exe",
               "/proc/self/cwd", "/proc/1/task/1/root/", "/dev/stdout", "/dev/fd/"]


def test_cp_never_follows_kernel_magic_links(box):
    """CVE-2018-15664 class, magic links: cp works in a running container's own view, where
    /proc/<pid>/{root,cwd,fd/N,exe} are the kernel's magic links (they jump to a file, not a path;
    from the daemon they could lead anywhere): stat, copy out and copy in through them answer
    404/400, or show the link itself, never a 500 and never what it points to."""
    cid = run_detached(box, ["sleep", "600"])
    try:
        for path in MAGIC_PATHS:
            for method in ("HEAD", "GET"):
                status, _, body = box.request(method, f"/containers/{cid}/archive?path={path}")
                assert status in (200, 404), (method, path, status, body)
                if method == "GET" and status == 200:
                    with tarfile.open(fileobj=io.BytesIO(body)) as tf:
                        assert all(m.issym() for m in tf.getmembers()), (path, tf.getnames())
            status, _, body = box.request("PUT", f"/containers/{cid}/archive?path={path}", _tar({"pwned": b"x"}),
                                          {"Content-Type": "application/x-tar"})
            assert status in (400, 404), (path, status, body)
    finally:
        rm(box, cid)
