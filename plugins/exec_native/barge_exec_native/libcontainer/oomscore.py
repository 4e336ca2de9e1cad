"""A container process's ``oom_score_adj`` (HostConfig.OomScoreAdj, OCI ``process.oomScoreAdj``).

The process writes its own ``/proc/self/oom_score_adj`` right after joining
the cgroup, while it still holds every capability the daemon has and sees
the host's /proc — as runc's ``nsexec`` does. Done by the process itself,
the value holds from its first instruction in the container on, for the
init and for every exec alike, and the monitor keeps its own score (it must
outlive an OOM kill to record the exit). Raising the score needs no
privilege; going below the monitor's floor needs CAP_SYS_RESOURCE, and
without it the start fails saying so (core refuses such values at create
when it can tell).
"""

from __future__ import annotations

import dataclasses
import os

from barge_exec_native.libcontainer.errors import ContainerError


def set_own(value: int | None) -> None:
    """Write ``value`` to the caller's oom_score_adj (None: keep the inherited one)."""
    if value is None:
        return
    try:
        fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, str(value).encode())
        finally:
            os.close(fd)
    except OSError as exc:
        hint = " (going lower needs CAP_SYS_RESOURCE)" if exc.errno in (1, 13) else ""
        raise ContainerError(f"cannot set oom_score_adj to {value}: {exc.strerror}{hint}") from None


def inherit(process, spec):
    """An exec'd process takes the container init's score unless it has its own."""
    if process.oom_score_adj is not None or spec.process.oom_score_adj is None:
        return process
    return dataclasses.replace(process, oom_score_adj=spec.process.oom_score_adj)
