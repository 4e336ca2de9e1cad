"""The host's kernel keyring (no CVE number; issue 9, item 1).

Keyrings are not namespaced: without a seccomp filter a container's root
reaches the host root's user keyring ``@u`` (and, with ``--user 1000``, host
uid 1000's), reads its keys and rewrites them. Docker's default seccomp
profile denies ``keyctl``, ``add_key`` and ``request_key`` with EPERM. Each
test first runs the same probe on the host to show the key really is there
to be stolen.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile
import uuid
from contextlib import contextmanager

import pytest

from tests.security.helpers import PROBE, outcomes, run_once

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
SYS_ADD_KEY, SYS_KEYCTL = 248, 250
KEYCTL_SEARCH, KEYCTL_READ, KEYCTL_INVALIDATE = 10, 11, 21
KEY_SPEC_USER_KEYRING = -4

pytestmark = pytest.mark.skipif(os.uname().machine != "x86_64", reason="syscall numbers here are x86_64's")

DENIED = ("search@u", "add@u", "search@s", "add@s", "request_key")


def _as_uid(uid: int, fn):
    """``fn()`` in a child process with ``uid`` (its user keyring is that uid's); its int result."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(r)
            if uid:
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
            os.write(w, str(fn()).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    return int(data or b"-1")


def _add(desc: str, payload: bytes) -> int:
    return _libc.syscall(SYS_ADD_KEY, b"user", desc.encode(), payload, len(payload),
                         ctypes.c_long(KEY_SPEC_USER_KEYRING))


def _search(desc: str) -> int:
    return _libc.syscall(SYS_KEYCTL, KEYCTL_SEARCH, ctypes.c_long(KEY_SPEC_USER_KEYRING), b"user",
                         desc.encode(), 0)


def _payload(desc: str) -> bytes:
    key = _search(desc)
    if key < 0:
        return b""
    buf = ctypes.create_string_buffer(256)
    n = _libc.syscall(SYS_KEYCTL, KEYCTL_READ, ctypes.c_long(key), buf, 255)
    return buf.raw[: max(n, 0)]


def _invalidate(desc: str) -> int:
    key = _search(desc)
    return _libc.syscall(SYS_KEYCTL, KEYCTL_INVALIDATE, ctypes.c_long(key)) if key >= 0 else 0


@contextmanager
def host_key(uid: int):
    """A key ``barge-cve-<hex>`` = ``host-secret`` in host uid ``uid``'s user keyring; gone afterwards."""
    desc = f"barge-cve-{uuid.uuid4().hex[:12]}"
    key = _as_uid(uid, lambda: _add(desc, b"host-secret"))
    if key < 0:
        pytest.skip(f"cannot add a key to uid {uid}'s keyring here (add_key failed)")
    try:
        yield desc
    finally:
        for name in (desc, desc + "-added"):
            _as_uid(uid, lambda n=name: _invalidate(n))


def _host_payload(uid: int, desc: str) -> bytes:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            if uid:
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
            os.write(w, _payload(desc))
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    return data


def _on_host(probe: str, uid: int, desc: str) -> str:
    """The probe run as host uid ``uid``, outside any container: the attack, unhindered."""
    def demote():
        if uid:
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)

    where = tempfile.mkdtemp(prefix="barge-probe-")
    try:
        os.chmod(where, 0o755)
        copy = shutil.copy(probe, where)
        proc = subprocess.run([copy, "keyring", desc, "control"], capture_output=True, text=True, timeout=30,
                              preexec_fn=demote)
    finally:
        shutil.rmtree(where)
    return proc.stdout


@pytest.mark.parametrize("uid", [0, 1000], ids=["root", "user-1000"])
def test_keyring_of_the_host_user_is_out_of_reach(box, probe, uid):
    """The host keyring (issue 9, item 1): a key a host process put in ``@u`` can't be searched, read,
    rewritten or added to from a default container running as that uid (EPERM for each
    call, as with Docker's seccomp profile); the same probe on the host reads it."""
    with host_key(uid) as desc:
        control = _on_host(probe, uid, desc)
        assert "read@u payload host-secret" in control, control  # the key is there to steal
        _as_uid(uid, lambda: _add(desc, b"host-secret"))  # put back what the control changed

        user = {"User": str(uid)} if uid else {}
        res = run_once(box, [PROBE, "keyring", desc, "pwned", "add"], probe=probe, **user)
        got = outcomes(res.out)
        assert {what: got.get(what) for what in DENIED} == {what: "EPERM" for what in DENIED}, str(res)
        assert "payload" not in res.out, str(res)
        assert _host_payload(uid, desc) == b"host-secret"
        assert _as_uid(uid, lambda: _search(desc + "-added")) < 0  # nothing added to the host's keyring



def test_without_the_filter_the_same_container_steals_the_key(box, probe):
    """The host keyring, the control for the test above, inside a container: with ``seccomp=unconfined`` the
    probe reads the host root's key and rewrites it, so the filter is what stops it."""
    with host_key(0) as desc:
        res = run_once(box, [PROBE, "keyring", desc, "pwned"], probe=probe,
                       HostConfig={"SecurityOpt": ["seccomp=unconfined"]})
        assert "read@u payload host-secret" in res.out, str(res)
        assert _host_payload(0, desc) == b"pwned"
