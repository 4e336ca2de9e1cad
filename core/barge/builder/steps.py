"""The builder's hands: step containers (create, run, remove) and step images (commit).

moby's ``containerManager`` and ``commitContainer``/``exportImage``: a RUN
runs in a real container created through the container service (so the
build's resources, network and extra hosts apply as to any container), its
output streamed as it comes; a metadata step commits a container that never
ran; COPY and ADD change a scratch layer (no container, as dockerd 20.10).
Every step container is journaled (``build_containers``) until it is
removed, so a daemon killed mid-build removes it at its next start.
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import TYPE_CHECKING, Any

from barge.builder.journal import BuildJournal
from barge.builder.output import BuildOutput
from barge.contracts.attach import EXITED, STDERR, FrameBuffer
from barge.errors import BargeError
from barge.graph.child import ChildSpec, commit_child

if TYPE_CHECKING:  # pragma: no cover
    from barge.containers.service import ContainerService
    from barge.contracts.build import BuildArgs
    from barge.graph.store import ImageStore

log = logging.getLogger("barge.builder")


class BuildCancelled(BargeError):
    status = 499

    def __init__(self) -> None:
        super().__init__("Build cancelled")


class StepFailed(BargeError):
    """A RUN's command exited non-zero: moby's JSONError, with its code."""

    status = 500

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


def host_config(options: "BuildArgs") -> dict[str, Any]:
    """moby's ``hostConfigFromOptions``: the build's limits, network and hosts; no log."""
    host: dict[str, Any] = {
        "CgroupParent": options.cgroup_parent, "CpuShares": options.cpu_shares, "CpuPeriod": options.cpu_period,
        "CpuQuota": options.cpu_quota, "CpusetCpus": options.cpuset_cpus, "CpusetMems": options.cpuset_mems,
        "Memory": options.memory, "MemorySwap": options.memory_swap, "Ulimits": options.ulimits or None,
        "ShmSize": options.shm_size, "NetworkMode": options.network_mode or "default",
        "LogConfig": {"Type": "none", "Config": {}}, "ExtraHosts": options.extra_hosts or None,
    }
    return {k: v for k, v in host.items() if v not in (None, "", 0)}


def short_id(image_or_container_id: str) -> str:
    return image_or_container_id.split(":", 1)[-1][:12]


class StepRunner:
    def __init__(self, containers: "ContainerService", images: "ImageStore", pm, journal: BuildJournal,
                 out: BuildOutput, options: "BuildArgs", cancelled: threading.Event):
        self.containers = containers
        self.images = images
        self.pm = pm
        self.journal = journal
        self.out = out
        self.options = options
        self.cancelled = cancelled
        self.temporary: list[str] = []

    # -- containers -------------------------------------------------------

    def create(self, run_config: dict[str, Any]) -> str:
        """moby's ``create``: a step container, its warnings and ``Running in`` printed."""
        body = {k: v for k, v in run_config.items() if v is not None}
        body["HostConfig"] = host_config(self.options)
        answer = self.containers.creator.create(body)
        cid = answer["Id"]
        self.journal.add(cid)
        self.temporary.append(cid)
        for warning in answer.get("Warnings") or []:
            self.out.stdout(f" ---> [Warning] {warning}\n")
        self.out.stdout(f" ---> Running in {short_id(cid)}\n")
        return cid

    def run(self, cid: str, cmd: list[str]) -> None:
        """Start ``cid``, stream its output, wait; a non-zero exit is :class:`StepFailed`."""
        ticket = self.containers.attachments.attach(cid, stream=True, stdin=False, stdout=True, stderr=True,
                                                    detach_keys=None)
        try:
            exited = self.containers.supervisor.wait(cid, "next-exit")
            self.containers.lifecycle.start(cid)
            sock = ticket.future.result(timeout=60)
            if sock is not None:
                with ticket.live():
                    self._stream(cid, sock)
            code, error = self._exit(cid, exited)
        finally:
            ticket.cancel()
        if code != 0:
            message = f"The command '{' '.join(cmd)}' returned a non-zero code: {code}"
            if error:
                message += f": {error}"
            raise StepFailed(message, code)

    def _exit(self, cid: str, exited) -> tuple[int, str]:
        while True:
            self.check_cancelled_for(cid)
            try:
                result = exited.result(timeout=0.2)
                break
            except TimeoutError:
                continue
        code, error = result if isinstance(result, tuple) else (result, None)
        return int(code or 0), str(error or "")

    def check_cancelled_for(self, cid: str) -> None:
        """A cancelled build kills and removes the step's container before it stops."""
        if self.cancelled.is_set():
            self.remove(cid, quiet=True)
            raise BuildCancelled()

    def _stream(self, cid: str, sock: socket.socket) -> None:
        sock.settimeout(0.2)
        frames = FrameBuffer()
        try:
            while True:
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    self.check_cancelled_for(cid)
                    continue
                if not data:
                    return
                for kind, payload in frames.feed(data):
                    if kind == EXITED:
                        return
                    text = payload.decode("utf-8", "replace")
                    (self.out.stderr if kind == STDERR else self.out.stdout)(text)
        finally:
            sock.close()

    def remove(self, cid: str, *, quiet: bool = False) -> None:
        """Force-remove a step container (its anonymous volumes too); moby's message unless ``quiet``."""
        try:
            self.containers.removal.remove(cid, force=True, volumes=True)
        except BargeError as exc:
            if getattr(exc, "status", 0) != 404:
                self.out.stdout(f"Could not remove intermediate container {short_id(cid)}: {exc}\n")
                return
        self.journal.drop(cid)
        if cid in self.temporary:
            self.temporary.remove(cid)
        if not quiet:
            self.out.stdout(f"Removing intermediate container {short_id(cid)}\n")

    def remove_all(self) -> None:
        for cid in list(self.temporary):
            self.remove(cid)

    # -- images -----------------------------------------------------------

    def commit_container(self, cid: str, config: dict[str, Any], container_config: dict[str, Any], *,
                         author: str, changed: bool) -> str:
        """moby's ``CommitBuildStep``: the container's diff (none for one that never ran) as the next image."""
        c = self.containers.table.get(cid)
        parent = self.images.get(c.image_id)
        diff = None
        if changed:
            top = self.images.layers.get(c.top_layer) if c.top_layer else None
            diff = self.pm.hook.barge_graph_diff(layer_id=c.rw_layer, parent=top.cache_id if top else None)
        spec = ChildSpec(config=config, created_by=" ".join(container_config.get("Cmd") or []), author=author,
                         container=cid, container_config=container_config)
        return commit_child(self.images, parent, c.top_layer, diff, spec)

    def commit_layer(self, parent_id: str, cache: str | None, config: dict[str, Any],
                     container_config: dict[str, Any], *, author: str) -> str:
        """moby's ``exportImage``: a scratch layer's diff (or none) on ``parent_id`` as the next image."""
        parent = self.images.get(parent_id) if parent_id else None
        top = parent.top_layer if parent is not None else None
        diff = None
        if cache is not None:
            top_layer = self.images.layers.get(top) if top else None
            diff = self.pm.hook.barge_graph_diff(layer_id=cache, parent=top_layer.cache_id if top_layer else None)
        spec = ChildSpec(config=config, created_by=" ".join(container_config.get("Cmd") or []), author=author,
                         container_config=container_config)
        return commit_child(self.images, parent, top, diff, spec)
