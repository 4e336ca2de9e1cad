"""The hostile-tar corpus (:mod:`tests.security.hostile_tars`) against every entry point
that unpacks a tar: ``docker import`` (from the request body and from a URL), ``docker load``,
``pull`` (from a fake registry on loopback), ``PUT /containers/{id}/archive`` into a running and
into a stopped container, and build contexts (unpacked, then read by ``COPY . /ctx/``).

For every case at every entry point: the request is refused or confined; nothing is
written outside the target (the host canary directory, the daemon's data root outside
the new layer, other layers, a bystander container, and, for cp, the container outside
the directory copied into); a refused import/load/pull leaves no image, layer, pending
row or spool behind; and the daemon still answers.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import tempfile
import uuid
from pathlib import Path
from typing import Callable

import pytest

from tests.integration.helpers import create, rm
from tests.registry_peers import FakeRegistry, api_pull, make_image, recorded
from tests.security.helpers import exec_run, run_detached
from tests.security.hostile_tars import CASES, Case, Targets, canary_intact, directory, file, make_canary, tar
from tests.security.images import load_image, save_archive

#: Data-root entries that change legitimately: the graph db, spools, tar skeletons, logs.
_MUTABLE = ("barge.db", "barge.db-wal", "barge.db-shm", "tmp", "layer-tars")


@pytest.fixture(scope="module")
def canary_root():
    where = Path(tempfile.mkdtemp(prefix="barge-canary-"))
    yield where
    shutil.rmtree(where)


@pytest.fixture
def targets(box, canary_root) -> Targets:
    canary = make_canary(canary_root / uuid.uuid4().hex[:8])
    return Targets(canary=canary, data_root=box.data_root)


@pytest.fixture(scope="module")
def fake():
    f = FakeRegistry()
    yield f
    f.stop()


@pytest.fixture(scope="module")
def bystander(box):
    """A running container none of this may touch: ``/bystander`` and its root's names."""
    cid = run_detached(box, ["sh", "-c", "echo untouched > /bystander && exec sleep 3600"])
    yield cid
    rm(box, cid)


def _data_root_state(box) -> dict[str, tuple]:
    """The data root's files outside the graph, and the top of every layer directory."""
    state = {}
    root = box.data_root
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        top = rel.split(os.sep)[0]
        if top in _MUTABLE or (top == "containers" and rel.count(os.sep) >= 1):
            dirnames[:] = []
            continue
        if top == "graph":
            if rel.count(os.sep) >= 3:  # graph/<driver>/<dir>/<layer>: its top names only
                state[rel] = tuple(sorted(dirnames + filenames))
                dirnames[:] = []
            continue
        for name in filenames:
            if name not in _MUTABLE:
                st = os.lstat(os.path.join(dirpath, name))
                state[os.path.join(rel, name)] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return state


def _escaped_into_data_root(before: dict, after: dict) -> list[str]:
    """Changes to what existed, and new entries outside new layer directories."""
    changed = [k for k, v in before.items() if after.get(k) != v]
    new = [k for k in after if k not in before and not k.startswith("graph")]
    return changed + new


def _bystander_intact(box, cid: str) -> bool:
    res = exec_run(box, cid, ["sh", "-c", "cat /bystander; ls /"])
    return res.out.startswith("untouched\n") and "pwned" not in res.out


# ---------------------------------------------------------------------------
# entry points: each returns True when it accepted the tar, False when it refused it
# ---------------------------------------------------------------------------


def via_import(box, case: Case, data: bytes, fake) -> bool:
    status, _, body = box.request("POST", f"/images/create?fromSrc=-&repo=hostile-{case.name}&tag=import",
                                  data, {"Content-Type": "application/x-tar"}, timeout=120)
    return status == 200 and b"errorDetail" not in body


def via_import_url(box, case: Case, data: bytes, fake) -> bool:
    """``docker import http://...``: the daemon downloads the tar itself (here from loopback)."""
    path = f"/tars/{uuid.uuid4().hex}.tar"

    def serve(h, method, repo, kind, ref) -> bool:
        if ref != path:
            return False
        h.reply(200, data, {"Content-Type": "application/x-tar"}, method)
        return True

    fake.rules.append(serve)
    try:
        status, _, body = box.request("POST", f"/images/create?fromSrc=http://{fake.host}{path}"
                                              f"&repo=hostile-{case.name}&tag=url", timeout=120)
    finally:
        fake.rules.remove(serve)
    return status == 200 and b"errorDetail" not in body


def via_load(box, case: Case, data: bytes, fake) -> bool:
    archive = save_archive([data], {"config": {"Cmd": ["sh"]}}, f"hostile-{case.name}:load-{uuid.uuid4().hex[:6]}")
    status, body = load_image(box, archive)
    return status == 200 and b"errorDetail" not in body


def via_pull(box, case: Case, data: bytes, fake) -> bool:
    image = make_image([data], note=uuid.uuid4().hex)
    tag = uuid.uuid4().hex[:8]
    fake.add(f"hostile/{case.name}", tag, image)
    status, _, err = api_pull(box, f"{fake.host}/hostile/{case.name}", tag=tag)
    return status == 200 and not err


def _cp(box, cid: str, data: bytes) -> tuple[bool, str]:
    target = f"/tmp/t-{uuid.uuid4().hex[:8]}"
    status, _, body = box.request("PUT", f"/containers/{cid}/archive?path=/tmp",
                                  _dir_tar(target.rsplit("/", 1)[1]), {"Content-Type": "application/x-tar"})
    assert status == 200, body
    status, _, body = box.request("PUT", f"/containers/{cid}/archive?path={target}", data,
                                  {"Content-Type": "application/x-tar"})
    return status == 200, target


def _dir_tar(name: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo(name)
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tf.addfile(info)
    return buf.getvalue()


def _names(box, cid: str) -> set[str]:
    """Every path in the container's file system (its own view when running)."""
    status, _, body = box.request("GET", f"/containers/{cid}/archive?path=/")
    assert status == 200, body
    with tarfile.open(fileobj=io.BytesIO(body)) as tf:
        return {m.name.lstrip("./") for m in tf.getmembers()}


def _cp_confined(box, cid: str, data: bytes) -> bool:
    before = _names(box, cid)
    accepted, target = _cp(box, cid, data)
    inside = target.lstrip("/") + "/"
    outside = {n for n in _names(box, cid) - before if not (n + "/").startswith(inside)}
    assert outside == set(), f"cp wrote outside {target}: {sorted(outside)}"
    return accepted


def via_cp_running(box, case: Case, data: bytes, fake) -> bool:
    cid = run_detached(box, ["sleep", "600"])
    try:
        return _cp_confined(box, cid, data)
    finally:
        rm(box, cid)


def via_cp_stopped(box, case: Case, data: bytes, fake) -> bool:
    cid = create(box, Cmd=["true"])
    try:
        return _cp_confined(box, cid, data)
    finally:
        rm(box, cid)


def via_build_context(box, case: Case, data: bytes, fake) -> bool:
    """``POST /build`` with ``data`` as the context, a Dockerfile that copies all of it put first:
    the context is unpacked and then read by COPY; returns whether the build succeeded."""
    dockerfile = b"FROM busybox\nCOPY . /ctx/\n"
    head = io.BytesIO()
    with tarfile.open(fileobj=head, mode="w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tf.addfile(info, io.BytesIO(dockerfile))
    body = head.getvalue().rstrip(b"\0")
    body += b"\0" * (-len(body) % 512) + data  # the Dockerfile's entry, then the hostile tar's
    status, _, answer = box.request("POST", "/build?networkmode=none&nocache=1", body,
                                    headers={"Content-Type": "application/x-tar"})
    accepted = status == 200 and b"Successfully built" in answer and b"errorDetail" not in answer
    if accepted:
        image = [json.loads(x)["aux"]["ID"] for x in answer.splitlines() if b'"aux"' in x][-1]
        box.request("DELETE", f"/images/{image}?force=1")
    return accepted


#: Whether the daemon has a builder (issue 11): then every case runs through ``POST /build`` too.
BUILDER = True
ENTRY_POINTS: dict[str, Callable] = {
    "import": via_import, "import-url": via_import_url, "load": via_load, "pull": via_pull,
    "cp-running": via_cp_running, "cp-stopped": via_cp_stopped,
    **({"build": via_build_context} if BUILDER else {}),
}
_IMAGE_ENTRY_POINTS = ("import", "import-url", "load", "pull")


def test_build_contexts_are_in_the_corpus_run(box):
    """The build entry point accepts a harmless context, so its refusals below mean something."""
    assert "build" in ENTRY_POINTS
    assert via_build_context(box, CASES[0], tar([file("ok")]), None)


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_tar_is_refused_or_confined(box, targets, fake, bystander, case, entry):
    """Hostile tar corpus: case ``case`` at entry point ``entry``: refused or confined, nothing outside
    the target written, nothing half-recorded, the daemon up."""
    data = case.build(targets)
    before_state = _data_root_state(box)
    before_records = recorded(box) if entry in _IMAGE_ENTRY_POINTS else None
    accepted = ENTRY_POINTS[entry](box, case, data, fake)
    assert box.request("GET", "/_ping")[0] == 200, "the daemon is down"
    assert canary_intact(targets.canary) == [], f"{case.name} via {entry} wrote into the host canary"
    escaped = _escaped_into_data_root(before_state, _data_root_state(box))
    assert escaped == [], f"{case.name} via {entry} wrote into the data root: {escaped}"
    assert _bystander_intact(box, bystander)
    if entry in _IMAGE_ENTRY_POINTS:
        after = recorded(box)
        if not accepted:
            assert after == before_records, f"a refused {entry} left records behind"
        else:
            assert after["pending_layers"] == [] and after["temp_dirs"] == []
        spools = [p.name for p in (box.data_root / "tmp").iterdir()] if (box.data_root / "tmp").is_dir() else []
        assert not [s for s in spools if s.startswith(("load-", "pull-", "cp-"))], spools


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_entry_points_accept_a_plain_tar(box, fake, entry):
    """Hostile tar corpus, the control for the entry points: each one accepts a plain tar,
    so a refusal above is the tar's doing, not a broken request."""
    plain = Case("plain", lambda t: b"")
    assert ENTRY_POINTS[entry](box, plain, tar([directory("etc"), file("etc/plain", b"ok\n")]), fake)


def test_corpus_cases_really_aim_outside(canary_root):
    """Hostile tar corpus, the control: the corpus is hostile: each case's tar, unpacked by a naive
    extractor that follows names and links as given (Python's tarfile without a filter, under a
    throw-away root placed so that ``..`` lands in the canary's parent), reaches outside its root
    for the cases built to, so an entry point passing them really confines something."""
    escaping = {"dotdot-name", "dotdot-inside-name", "symlink-to-root-then-file", "symlink-climbing-then-file",
                "symlink-to-target-then-overwrite", "hardlink-absolute", "hardlink-climbing",
                "gnu-longname-dotdot", "pax-path-override", "file-then-symlink-then-file"}
    for case in CASES:
        if case.name not in escaping:
            continue
        canary = make_canary(canary_root / f"naive-{uuid.uuid4().hex[:8]}")
        t = Targets(canary=canary, data_root=Path(tempfile.mkdtemp(prefix="barge-naive-data-")))
        root = Path(tempfile.mkdtemp(prefix="barge-naive-"))
        try:
            with tarfile.open(fileobj=io.BytesIO(case.build(t))) as tf:
                for member in tf.getmembers():
                    try:
                        tf.extract(member, root, set_attrs=False, filter="fully_trusted")
                    except (OSError, KeyError, tarfile.TarError):
                        pass
            assert canary_intact(canary) != [] or os.listdir(t.data_root), f"{case.name} never leaves its root"
        finally:
            shutil.rmtree(root, ignore_errors=True)
            shutil.rmtree(t.data_root, ignore_errors=True)
            shutil.rmtree(canary, ignore_errors=True)


@pytest.mark.parametrize("privileged", [False, True], ids=["default", "privileged"])
def test_cp_to_the_root_never_writes_kernel_files(box, privileged):
    """Hostile tar corpus, kernel files: entries under /proc and /sys copied to ``/`` of a running
    container (cp goes through the container's own view, where /proc is its procfs): the host's
    core_pattern and uevent_helper keep their values, even from a privileged container (rw
    /proc/sys)."""
    watched = [p for p in ("/proc/sys/kernel/core_pattern", "/sys/kernel/uevent_helper") if os.path.exists(p)]
    before = {p: Path(p).read_bytes() for p in watched}
    cid = run_detached(box, ["sleep", "600"], HostConfig={"Privileged": privileged})
    try:
        data = next(c for c in CASES if c.name == "proc-and-sys-entries").build(Targets(Path("/x"), Path("/y")))
        status, _, body = box.request("PUT", f"/containers/{cid}/archive?path=/", data,
                                      {"Content-Type": "application/x-tar"})
        assert status != 500, body
        assert {p: Path(p).read_bytes() for p in watched} == before
        assert "pwned" not in exec_run(box, cid, ["cat", "/proc/sys/kernel/core_pattern"]).out
    finally:
        rm(box, cid)
    assert box.request("GET", "/_ping")[0] == 200
