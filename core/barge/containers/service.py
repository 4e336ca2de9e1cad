"""The container service: the container lifecycle over ``barge_exec_*``, in parts of one concern each.

One :class:`ContainerService` per daemon. The daemon's db holds the records
(:mod:`.store`); the exec driver holds the processes, under monitors that
outlive the daemon; what lives only in memory is in the
:class:`~barge.containers.runtime.RuntimeTable`. The parts, all on one
:class:`~barge.containers.context.ContainerContext`:

* :attr:`~ContainerService.creator` - create (:mod:`.create`);
* :attr:`~ContainerService.lifecycle` - start, stop, kill, restart, pause,
  unpause, rename, update (:mod:`.lifecycle`, stopping in :mod:`.stopping`);
* :attr:`~ContainerService.removal` - rm, AutoRemove, prune (:mod:`.removal`);
* :attr:`~ContainerService.supervisor` - exit watchers, restart policies,
  ``/wait`` (:mod:`.supervisor`; the start itself in :mod:`.start`);
* :attr:`~ContainerService.attachments` - attach sessions, resize (:mod:`.attach`);
* :attr:`~ContainerService.queries` - inspect, ps, logs, top, stats, counts (:mod:`.queries`);
* :attr:`~ContainerService.execs` - exec instances (:mod:`.exec`);
* :attr:`~ContainerService.files` and :attr:`~ContainerService.commits` -
  cp, export, diff (:mod:`.archive`) and commit (:mod:`.commit`);
* :meth:`~ContainerService.recover` - at daemon start (:mod:`.recovery`).

The network service and the volume store come in as the small protocols of
:mod:`.neighbours`; the daemon's composition root builds them first, on the
same :class:`~barge.containers.runtime.RuntimeTable` (the network service
connects containers under their locks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from barge.containers import sysinfo as sysinfo_mod
from barge.containers.archive import ContainerFiles
from barge.containers.attach import Attachments
from barge.containers.commit import CommitService
from barge.containers.context import ContainerContext, cap_last
from barge.containers.create import Creator
from barge.containers.exec import ExecService
from barge.containers.health import HealthChecks
from barge.containers.lifecycle import Lifecycle
from barge.containers.neighbours import CopyUp, Networking, Volumes
from barge.containers.queries import Queries
from barge.containers.recovery import Recovery
from barge.containers.removal import Removal
from barge.containers.runtime import RuntimeTable
from barge.containers.start import Starter
from barge.containers.stopping import Stopper
from barge.containers.supervisor import Supervisor
from barge.security.seccomp import daemon_profile

if TYPE_CHECKING:  # pragma: no cover
    import pluggy

    from barge.graph.store import ImageStore


class ContainerService:
    def __init__(self, *, table: RuntimeTable, images: "ImageStore", pm: "pluggy.PluginManager",
                 graph_driver: str, exec_driver: str | None, exec_error: str = "", ncpu: int | None = None,
                 seccomp_profile: str | None = None, networking: Networking | None = None,
                 volumes: Volumes | None = None, copy_up: CopyUp | None = None,
                 default_log: dict[str, Any] | None = None):
        """``seccomp_profile``: the daemon's setting (``builtin`` by default, ``unconfined``, or a
        profile's path), read here once; a bad profile stops the daemon. ``table``: the records and
        their runtime entries, shared with the network service."""
        si = sysinfo_mod.detect(runtime=exec_driver or "native", graph_driver=graph_driver, ncpu=ncpu)
        self.ctx = ctx = ContainerContext(
            table=table, images=images, pm=pm, graph_driver=graph_driver, exec_driver=exec_driver,
            exec_error=exec_error, sysinfo=si, cap_last=cap_last(), seccomp_profile=daemon_profile(seccomp_profile),
            networking=networking, volumes=volumes, copy_up=copy_up,
        )
        if default_log is not None:
            ctx.default_log = default_log
        self.table = table
        self.attachments = Attachments(ctx)
        stopper = Stopper(ctx)
        self.removal = Removal(ctx, stopper)
        self.supervisor = Supervisor(ctx, Starter(ctx, self.attachments), self.removal)
        self.lifecycle = Lifecycle(ctx, self.supervisor, stopper, self.removal)
        self.creator = Creator(ctx)
        self.execs = ExecService(ctx)
        self.health = HealthChecks(ctx, self.execs)
        self.queries = Queries(ctx, exec_ids=self.execs.ids_for)
        self.files = ContainerFiles(table, images, pm)
        self.commits = CommitService(table, images, pm, self.lifecycle)
        self._recovery = Recovery(ctx, self.creator, self.removal, self.supervisor, self.lifecycle)

    @property
    def sysinfo(self) -> sysinfo_mod.SysInfo:
        """What this machine's cgroups and kernel can apply (``info`` shows it)."""
        return self.ctx.sysinfo

    def recover(self) -> dict[str, Any]:
        """Before serving: finish journaled creates/removals, reconcile running records, restart policies."""
        return self._recovery.recover()

    def check(self, driver_layers: set[str] | None) -> tuple[list, dict[str, int]]:
        """``system check``'s findings about containers (``driver_layers``: what the graph driver holds)."""
        from barge.containers.check import ContainerCheck

        return ContainerCheck(self.ctx, self._recovery).run(driver_layers)

    def close(self) -> None:
        """Daemon shutdown: watchers stop recording (the driver keeps the exits for the next start); probes stop."""
        self.health.close()
        self.table.close()
