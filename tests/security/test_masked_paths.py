"""Docker's masked and read-only ``/proc`` and ``/sys`` paths (no CVE number; the class
behind e.g. CVE-2016-9962-style host information leaks and sysrq abuse).

In a default container every masked path is empty (a file bound over with
``/dev/null``, a directory with an empty read-only tmpfs), every read-only
path is mounted read-only, ``/proc/sysrq-trigger`` cannot be written and
``/proc/kcore`` reads nothing. ``--security-opt systempaths=unconfined``
(the docker CLI sends empty ``MaskedPaths`` and ``ReadonlyPaths``) shows
them as the kernel has them: the control that masking is what hides them.
"""

from __future__ import annotations

import os

import pytest

from barge.execdriver import MASKED_PATHS, READONLY_PATHS
from tests.security.helpers import barge_docker, run_once

#: For each path: "<path> absent", or "<path> dir <entries>", or "<path> file <bytes read> <mode>"
LOOK = r"""
for p in "$@"; do
  if [ -d "$p" ]; then echo "$p dir $(ls -A "$p" | wc -l)"
  elif [ -e "$p" ]; then echo "$p file $(head -c 4096 "$p" 2>/dev/null | wc -c) $(stat -c %F "$p")"
  else echo "$p absent"; fi
done
"""
#: A read-only path's mount options, as the container's mountinfo says.
MOUNT_OPTS = r"""
for p in "$@"; do echo "$p $(awk -v p="$p" '$5 == p {print $6}' /proc/self/mountinfo | tail -1)"; done
"""


def _parse(text: str) -> dict[str, list[str]]:
    return {parts[0]: parts[1:] for parts in (line.split(None, 3) for line in text.splitlines()) if parts}


def _on_host(path: str) -> bool:
    return os.path.exists(path)


def test_masked_paths_are_empty(box):
    """Masked paths: each of Docker's masked paths that the host has is empty in a default container."""
    res = run_once(box, ["sh", "-c", LOOK, "look", *MASKED_PATHS])
    seen = _parse(res.out)
    for path in MASKED_PATHS:
        kind = seen[path]
        if kind[0] == "dir":
            assert kind[1] == "0", (path, kind)
        elif kind[0] == "file":
            assert kind[1] == "0" and "character special" in kind[2], (path, kind)  # /dev/null bound over it
        else:
            assert not _on_host(path), (path, kind)


def test_readonly_paths_and_sysrq(box):
    """Read-only paths: each is a read-only mount; /proc/sysrq-trigger and /proc/sys refuse a write."""
    res = run_once(box, ["sh", "-c", MOUNT_OPTS, "opts", *READONLY_PATHS])
    for path, opts in _parse(res.out).items():
        if _on_host(path):
            assert opts and opts[0].split(",")[0] == "ro", (path, opts)
    # 'h' only prints sysrq's help to the kernel log, should the write go through
    res = run_once(box, ["sh", "-c", "echo h > /proc/sysrq-trigger && echo SYSRQ; "
                                     "echo pwned > /proc/sys/kernel/hostname && echo SYSCTL; true"])
    assert "SYSRQ" not in res.out and "SYSCTL" not in res.out, str(res)
    assert "Read-only file system" in res.err, str(res)


def test_kcore_reads_nothing(box):
    """Masked paths: /proc/kcore (the host's memory as an ELF core) reads no byte in a default container."""
    if not _on_host("/proc/kcore"):
        pytest.skip("this kernel has no /proc/kcore (CONFIG_PROC_KCORE off)")
    res = run_once(box, ["sh", "-c", "head -c 64 /proc/kcore | wc -c; stat -c %F /proc/kcore"])
    assert res.out.split("\n")[0].strip() == "0", str(res)


def _unconfined(box, script: str, *paths: str) -> dict[str, list[str]]:
    proc = barge_docker(box, "run", "--rm", "--security-opt", "systempaths=unconfined", "busybox",
                        "sh", "-c", script, "look", *paths)
    assert proc.returncode == 0, proc.stderr
    return _parse(proc.stdout.decode())


def test_systempaths_unconfined_unmasks_them(box):
    """Masked paths, the control: ``docker run --security-opt systempaths=unconfined`` sees the kernel's own
    files where the default container sees empty masks and read-only mounts."""
    shown = [p for p in ("/proc/kcore", "/proc/timer_list", "/proc/keys", "/sys/firmware") if _on_host(p)]
    assert shown, "the host has none of the masked paths this test looks at"
    seen = _unconfined(box, LOOK, *shown)
    for path in shown:
        kind = seen[path]
        if kind[0] == "dir":
            assert int(kind[1]) == len(os.listdir(path)) > 0, (path, kind)
        else:
            assert kind[0] == "file" and "regular" in kind[2], (path, kind)
    if "/proc/timer_list" in shown:
        assert int(seen["/proc/timer_list"][1]) > 0  # the host's timers, readable
    opts = _unconfined(box, MOUNT_OPTS, *READONLY_PATHS)
    assert all(not o or not o[0].startswith("ro") for o in opts.values()), opts
