"""Open data-dir permissions, CVE-2021-41091 (and containerd's CVE-2021-41103).

dockerd's data root and graph directories let any local user traverse into a
container's files; a setuid-root program in an image or a container then ran
as root for them. barge's data root, its ``graph`` and ``containers`` trees
are 0710 root:root (moby's fix), the API socket 0660, a container's state dir
(attach socket, spec, state) 0700 with 0600 files. The test runs as
``nobody`` against a daemon whose own root directory it opens up (as
``/var/lib`` would be), so only barge's modes stand in the way; the control
runs the same setuid program from an open directory and gets root.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.integration.helpers import rm
from tests.security.helpers import put_files, run_detached
from tests.security.images import compile_c

NOBODY = 65534
EUID = '#include <stdio.h>\n#include <unistd.h>\nint main(void) { printf("euid %d\\n", geteuid()); return 0; }\n'


def _as_nobody(checks: dict[str, callable]) -> dict[str, str]:
    """Run each check in a child process as uid/gid 65534: ``{name: "ok" | errno name}``."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)
            out = {}
            for name, check in checks.items():
                try:
                    check()
                    out[name] = "ok"
                except OSError as exc:
                    out[name] = os.strerror(exc.errno) if exc.errno else str(exc)
            os.write(w, json.dumps(out).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    return json.loads(data)


def _connect(path: str) -> None:
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(path)


def _find(root: Path, name: str) -> list[Path]:
    return [Path(dp) / name for dp, _, files in os.walk(root) if name in files]


@pytest.fixture
def euid_program(tmp_path) -> bytes:
    return compile_c(EUID, tmp_path / "euid", "-static").read_bytes()


def test_modes_of_the_data_root_exec_root_socket_and_spec(box):
    """CVE-2021-41091, the modes themselves: data root, graph and containers trees 0710; socket 0660; each
    container's state dir 0700 and its spec/state/attach socket 0600; its log not world-readable."""
    cid = run_detached(box, ["sleep", "600"])
    try:
        mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)  # noqa: E731
        for tree in (box.data_root, box.data_root / "graph", box.data_root / "containers"):
            assert mode(tree) == 0o710, tree
        assert mode(box.socket) == 0o660
        state = box.exec_root / "containers" / cid
        assert mode(state) == 0o700
        for name in ("spec.json", "state.json", "attach.sock"):
            assert mode(state / name) == 0o600, name
        log = box.data_root / "containers" / cid / f"{cid}-json.log"
        assert mode(log) & 0o007 == 0
    finally:
        rm(box, cid)


def test_an_unprivileged_user_reaches_nothing_of_a_container(box, euid_program):
    """CVE-2021-41091: as ``nobody``, a setuid-root program put in a running container (so in
    its rw layer on the host) can be neither found nor run, nor can the API socket, the
    container's attach socket, its spec or its log be opened; the control: the same program
    in an open directory runs as root for ``nobody``."""
    name = f"euid-{uuid.uuid4().hex[:8]}"
    cid = run_detached(box, ["sleep", "600"])
    opened = tempfile.mkdtemp(prefix="barge-41091-")
    old_mode = stat.S_IMODE(os.stat(box.root).st_mode)
    try:
        put_files(box, cid, {name: (euid_program, 0o4755)})
        layer_copies = _find(box.data_root, name)
        assert layer_copies, "the program is not in the container's layer on the host"
        assert all(os.stat(p).st_mode & stat.S_ISUID for p in layer_copies)
        control = Path(opened) / name
        shutil.copy(layer_copies[0], control)
        os.chmod(control, 0o4755)
        os.chmod(opened, 0o755)
        os.chmod(box.root, 0o755)  # as /var/lib is: only barge's own modes are left
        state = box.exec_root / "containers" / cid
        checks = {
            **{f"run {p.relative_to(box.data_root)}": (lambda p=p: _run(p)) for p in layer_copies},
            "api socket": lambda: _connect(box.socket),
            "attach socket": lambda: _connect(str(state / "attach.sock")),
            "spec": lambda: open(state / "spec.json").close(),
            "log": lambda: open(box.data_root / "containers" / cid / f"{cid}-json.log").close(),
            "control": lambda: _run(control),
        }
        got = _as_nobody(checks)
        assert got.pop("control") == "ok", "the setuid program does not run as root: the test proves nothing"
        assert all(v == os.strerror(13) for v in got.values()), got  # EACCES, every one
    finally:
        os.chmod(box.root, old_mode)
        shutil.rmtree(opened)
        rm(box, cid)


def _run(path: Path) -> None:
    """Execute ``path`` (as the caller); raises OSError when that is not allowed; the program
    must report euid 0 (the setuid bit took effect)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.dup2(w, 1)
        try:
            os.execv(str(path), [str(path)])
        except OSError as exc:
            os.write(2, f"{exc.errno}\n".encode())
            os._exit(100 + exc.errno)
    os.close(w)
    with os.fdopen(r) as fh:
        out = fh.read()
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code >= 100:
        raise OSError(code - 100, os.strerror(code - 100))
    if out.strip() != "euid 0":
        raise OSError(0, f"ran without root: {out!r}")
