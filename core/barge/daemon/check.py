"""``barge system check``: every invariant between the records and the world, and ``--repair``.

Each part checks its own (``graph/check.py``, ``containers/check.py``,
``network/check.py``, ``volumes/check.py``, the drivers' ``audit``
operations); this module runs them in the order their objects depend on
one another, then, with ``repair``, applies the repairs one by one (a
repair that fails is reported with its error and the others still run).
The daemon runs it without repair after its start-up recovery, and logs
what it finds: after a clean recovery it finds nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from barge.consistency import Finding
from barge.daemon.services import Services
from barge.errors import BargeError

log = logging.getLogger("barge.check")


def findings(services: Services) -> tuple[list[Finding], dict[str, int]]:
    """Every inconsistency found now, and how many objects of each kind were looked at."""
    from barge.graph.check import check_graph
    from barge.network.check import check_network
    from barge.volumes.check import check_volumes

    counts: dict[str, int] = {}
    found: list[Finding] = []
    listed = services.pm.hook.barge_graph_layer_ids()
    driver_layers = set(listed) if listed is not None else None
    part, n = services.containers.check(driver_layers)
    found += part
    counts.update(n)
    rw_layers = {c.rw_layer for c in services.containers.table.store.all()}
    part, n = check_graph(services.images, rw_layers)
    found += part
    counts.update(n)
    part, n = check_network(services.networks.endpoints, services.networks.attachments)
    found += part
    counts.update(n)
    part, n = check_volumes(services.volumes)
    found += part
    counts.update(n)
    found += _views(services)
    return found, counts


def _views(services: Services) -> list[Finding]:
    """Temporary views (a stopped container's files for cp, commit, copy-up; a build's) no job holds."""
    from barge.consistency import finding
    from barge.mount import leftover_views, release_view

    cfg = services.config
    return [finding("mounts", view, "a temporary view of a layer that no job uses is still mounted",
                    remedy="unmount it", repair=lambda v=view: (release_view(v), "unmounted it")[1])
            for view in leftover_views((cfg.data_root, cfg.exec_root))]


def check(services: Services, repair: bool = False) -> dict[str, Any]:
    """``POST /system/check``'s answer: the findings (repaired, with what was done, when asked) and counts."""
    found, counts = findings(services)
    answers = []
    for f in found:
        if not repair:
            answers.append(f.answer(False, f.planned()))
            continue
        if f.repair is None:
            answers.append(f.answer(False, f"left: {f.left}" if f.left else "left"))
            continue
        try:
            action = f.repair()
        except (BargeError, OSError) as exc:
            answers.append(f.answer(False, f"the repair failed: {exc}"))
            continue
        log.warning("system check: repaired: %s %s: %s: %s", f.area, f.object, f.problem, action)
        answers.append(f.answer(not action.startswith("left"), action))
    return {"Findings": answers, "Checked": counts}


def check_at_start(services: Services) -> int:
    """After the start-up recovery: log what the check finds (nothing, when recovery did its work)."""
    try:
        report = check(services)
    except Exception:  # noqa: BLE001 - a failing check must not stop the daemon serving
        log.exception("system check at start failed")
        return -1
    for f in report["Findings"]:
        log.warning("system check: %s %s: %s (%s)", f["Area"], f["Object"], f["Problem"], f["Action"])
    if not report["Findings"]:
        log.info("system check: consistent (%s)", ", ".join(f"{v} {k}" for k, v in report["Checked"].items()))
    return len(report["Findings"])
