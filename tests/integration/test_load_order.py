"""What the load benchmark (bench/load.py) found, kept as tests on a real daemon.

* Concurrent ``run``s: every container's create, start, die, destroy in the
  event stream once and in order (``start`` used to be published after the
  container's lock was released, so a process that exited at once could
  show ``die`` before ``start``), and creates without a name never failing
  on a generated name another create drew at the same moment.
* A restart storm: ``--restart always`` on a command that exits at once
  restarts with moby's backoff (100 ms, doubling), not in a busy loop.
"""

from __future__ import annotations

import collections
import json
import os
import threading
import time
from urllib.parse import quote

from tests.integration.helpers import create

LIFECYCLE = ("create", "start", "die", "destroy")


def replay(d, since: float, until: float) -> list[dict]:
    filters = quote(json.dumps({"type": ["container"]}))
    status, _, data = d.request("GET", f"/events?since={since}&until={until}&filters={filters}")
    assert status == 200, data
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def test_concurrent_runs_keep_each_lifecycle_in_order(box):
    t0 = time.time()
    clients = 24
    barrier = threading.Barrier(clients)
    ids: list[str] = []
    errors: list[str] = []

    def one() -> None:
        barrier.wait()
        try:
            cid = create(box, Cmd=["true"], HostConfig={"AutoRemove": True, "NetworkMode": "none"})
            status, _, data = box.request("POST", f"/containers/{cid}/start")
            assert status == 204, data
            ids.append(cid)
        except AssertionError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=one) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, _, data = box.request("GET", "/containers/json?all=1")
        if not [c for c in json.loads(data) if c["Id"] in ids]:
            break
        time.sleep(0.2)
    seen = collections.defaultdict(list)
    for e in replay(box, t0, time.time() + 0.01):
        if e["Action"] in LIFECYCLE:
            seen[e["Actor"]["ID"]].append(e["Action"])
    assert {cid: seen[cid] for cid in ids if seen[cid] != list(LIFECYCLE)} == {}


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_restart_storm_backs_off(box):
    pid = int(box.pidfile.read_text())
    cid = create(box, Cmd=["false"], HostConfig={"RestartPolicy": {"Name": "always"}, "NetworkMode": "none"})
    t0 = time.time()
    cpu0 = _cpu_seconds(pid)
    status, _, data = box.request("POST", f"/containers/{cid}/start")
    assert status == 204, data
    time.sleep(4)
    cpu = _cpu_seconds(pid) - cpu0
    status, _, data = box.request("GET", f"/containers/{cid}/json")
    restarts = json.loads(data)["RestartCount"]
    box.request("DELETE", f"/containers/{cid}?force=1")
    mine = [e for e in replay(box, t0, time.time() + 0.01) if e["Actor"]["ID"] == cid]
    starts = [e["timeNano"] / 1e9 for e in mine if e["Action"] == "start"]
    dies = [e["timeNano"] / 1e9 for e in mine if e["Action"] == "die"]
    gaps = [s - d for d, s in zip(dies, starts[1:])]
    # 100, 200, 400, 800, 1600 ms: five restarts fit in 4 s (3.1 s of waiting), a sixth (3.2 s more) cannot
    assert 3 <= restarts <= 5, (restarts, gaps)
    assert len(gaps) >= 3
    for k, gap in enumerate(gaps):
        assert gap >= 0.1 * 2 ** k * 0.9, (k, gaps)
    assert cpu < 2.0, f"the daemon used {cpu:.2f} s of CPU in a 4 s restart storm"
