"""``ptrace`` of the container's PID 1 from inside (no CVE number; the class of a
container process taking over its runtime's process, cf. CVE-2019-5736).

Docker's seccomp profile allows ptrace on kernels >= 4.8, so a container's
root may trace its own PID 1 when PID 1 is the container's command: that
reaches nothing of the host, and dockerd 20.10 allows the same (compared
with the reference daemon). A user other than root may not (no
CAP_SYS_PTRACE). With ``--init`` barge's PID 1 is its own reaper, a copy of
the monitor's Python that never execs: nobody in the container may trace
it (docker-init, a host binary, can be traced, but holds nothing of the
daemon; barge's reaper is refused outright).
"""

from __future__ import annotations

from tests.integration.helpers import rm
from tests.security.helpers import PROBE, exec_run, outcomes, ref_exec_probe, run_detached, run_once


def test_non_root_cannot_trace_pid_1(box, probe):
    """ptrace of PID 1: a uid-1000 process in a default container: PTRACE_ATTACH to PID 1 (root) is EPERM."""
    cid = run_detached(box, ["sleep", "600"], probe=probe)
    try:
        res = exec_run(box, cid, [PROBE, "ptrace", "1"], User="1000")
        assert outcomes(res.out).get("attach") == "EPERM", str(res)
    finally:
        rm(box, cid)


def test_root_may_trace_its_own_command_as_dockerd_allows(box, probe, reference):
    """ptrace of PID 1: root in a default container tracing PID 1 (its own command, a container binary): barge
    allows it exactly when the reference dockerd does; what it attaches to is the container's
    busybox, not a host program."""
    cid = run_detached(box, ["sleep", "600"], probe=probe)
    try:
        ours = outcomes(exec_run(box, cid, [PROBE, "ptrace", "1"]).out).get("attach")
        exe = exec_run(box, cid, ["readlink", "/proc/1/exe"]).out.strip()
    finally:
        rm(box, cid)
    theirs = outcomes(ref_exec_probe(reference, probe, ["ptrace", "1"])).get("attach")
    assert ours == theirs or ours == "EPERM", (ours, theirs)
    assert exe in ("/bin/sleep", "/bin/busybox"), exe


def test_init_reaper_cannot_be_traced(box, probe):
    """ptrace of PID 1, ``--init``: root in the container cannot attach to PID 1, barge's reaper
    (non-dumpable)."""
    res = run_once(box, ["sh", "-c", f"{PROBE} ptrace 1; readlink /proc/1/exe || echo unreadable"],
                   probe=probe, HostConfig={"Init": True})
    assert outcomes(res.out).get("attach") == "EPERM", str(res)
    assert "unreadable" in res.out, str(res)
