"""The chaos campaign's short version (``bench/chaos.py`` is the full one): seeded, a few minutes.

About 150 operations from three clients while the daemon is SIGKILLed 8
times, a container's monitor once and the spawner once; after every kill
the consistency check finds nothing, every acknowledged operation holds,
running containers answer logs, exec and attach, and nothing leaks (see
``bench/chaoslib.py``). It asserts correctness only, not the full run's
figures.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import disk_tmp_root, installed_exec_drivers, require_graph_driver, test_driver

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from chaoslib import REGISTRY, Campaign, Plan, summary  # noqa: E402

SEED = 13


def test_kills_lose_break_and_leak_nothing():
    if os.geteuid() != 0:
        pytest.skip("the campaign runs containers and networks: needs root")
    if "native" not in installed_exec_drivers():
        pytest.skip("exec driver 'native' is not installed (pip install -e plugins/exec_native)")
    if not os.path.exists(REGISTRY):
        pytest.skip(f"{REGISTRY} missing (apt-get install docker-registry)")
    require_graph_driver(test_driver())
    lines: list[str] = []
    plan = Plan(seed=SEED, clients=3, ops=150, daemon_kills=8, monitor_kills=1, spawner_kills=1,
                driver=test_driver(), root=Path(tempfile.mkdtemp(prefix="barge-chaos-", dir=disk_tmp_root())),
                log=lines.append)
    campaign = Campaign(plan)
    fig = campaign.run()
    text, _ = summary(fig, plan, 0.0, campaign.daemon.restarts)
    report = "\n".join(lines + [text])
    assert (fig.inconsistencies, fig.lost, fig.leaks) == ([], [], []), report
    assert (fig.daemon_kills, fig.monitor_kills, fig.spawner_kills) == (8, 1, 1), report
    assert fig.acked >= 150, report
