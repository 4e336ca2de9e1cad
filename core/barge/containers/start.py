"""Starting a container's process: user, namespaces, network, volumes, spec, exec driver.

:meth:`Starter.start_locked` runs under the container's runtime lock, for
a ``start`` and for a restart policy's restart alike; the caller then
follows the exit (:class:`barge.containers.supervisor.Supervisor`). A start
that fails keeps the container in its old state with ``ExitCode`` and
``Error`` set (moby's behaviour) and releases what it took.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from barge.containers import devices, files, links, propagation, sharing
from barge.containers.attach import Attachments
from barge.containers.context import ContainerContext
from barge.containers.runtime import Runtime
from barge.containers.spec import StartInputs, build_spec
from barge.containers.store import Container
from barge.containers.users import ExecUser, UserNotFound, make_dirs_in_root, read_file_in_root, resolve_user
from barge.errors import BargeError, InvalidParameter
from barge.timefmt import rfc3339_nano

log = logging.getLogger("barge.containers")

#: Images whose passwd and group are kept for containers' first starts.
USER_FILES_CACHE = 64


def exit_code_for_start_error(message: str) -> int:
    """Docker's codes for a process that could not be started: 127 not found, 126 not runnable."""
    text = message.lower()
    if "executable file not found" in text or "no such file or directory" in text:
        return 127
    if "permission denied" in text or "is a directory" in text:
        return 126
    return 128


def make_bind_sources(points: list[dict[str, Any]]) -> None:
    """``BindOptions.CreateMountpoint``: a missing bind source is made a directory (0755), as
    moby's ``MountPoint.Setup`` does at each start."""
    for p in points:
        if p["Type"] == "bind" and p.get("CreateMountpoint") and not os.path.lexists(p["Source"]):
            try:
                os.makedirs(p["Source"], mode=0o755, exist_ok=True)
            except OSError as exc:
                raise InvalidParameter(f"error while creating mount source path '{p['Source']}': "
                                       f"mkdir {exc.filename or p['Source']}: {os.strerror(exc.errno or 0).lower()}") from None


def _bridge_ip(networking, child: Container) -> str | None:
    """The child's address on the default bridge, as its inspect shows it."""
    return ((networking.container_view(child).get("Networks") or {}).get("bridge") or {}).get("IPAddress") or None


class Starter:
    def __init__(self, ctx: ContainerContext, attachments: Attachments):
        self.ctx = ctx
        self.attachments = attachments
        self.sharing = sharing.Sharing(ctx.get, ctx.store.container_dir)
        #: passwd and group of images (by top layer), for containers' first starts
        self._user_files: dict[str, tuple[str | None, str | None]] = {}
        self._lock = threading.Lock()

    def start_locked(self, c: Container, rt: Runtime) -> None:
        """Inside ``rt.lock``: create the driver's instance, connect waiting attaches, let the process run."""
        ctx = self.ctx
        state_dir = ctx.state_dir(c)
        marks = [time.monotonic()]
        if os.path.exists(state_dir):
            ctx.exec_delete(c.id)
        mounts = ctx.pm.hook.barge_graph_get(layer_id=c.rw_layer)
        networked = False
        try:
            user, joined = self._identity(c, mounts, marks)
            link_hosts, link_env = self._links(c)
            networked = self._network(c, joined, link_hosts)
            spec = self._spec(c, mounts, user, joined, link_env)
            pid = self._launch(c, rt, spec, state_dir, marks)
            c.state.set_running(int(pid or 0), rfc3339_nano())
            ctx.store.save_state(c.id, c.state)
        except BaseException:
            rt.fail_pending()
            if networked:
                ctx.network_teardown(c.id)
            sharing.release_shm(ctx.store.container_dir(c.id))
            with contextlib.suppress(Exception):
                ctx.pm.hook.barge_graph_put(layer_id=c.rw_layer)
            if ctx.volumes is not None:
                ctx.volumes.release(c.id, c.mounts)
            raise

    def _identity(self, c: Container, mounts, marks: list[float]) -> tuple[ExecUser, dict[str, str]]:
        """The process's user, and the namespaces it joins (a user that does not exist fails the start)."""
        try:
            user = self._resolve_user(c, mounts)
            marks.append(time.monotonic())
            return user, self._joined_namespaces(c)
        except UserNotFound as exc:
            self.record_start_failure(c, str(exc), 128)
            raise

    def _links(self, c: Container) -> tuple[list[str], list[str]]:
        """The hosts entries and environment of the container's legacy links (refused before any network)."""
        networking = self.ctx.networking
        children = self.ctx.store.links.children(c.id)
        if networking is None or not children:
            return [], []
        return links.for_start(c, children, self.ctx.store.get, lambda child: _bridge_ip(networking, child))

    def _update_parents(self, c: Container, address: str) -> None:
        """A linked child started: the running parents' hosts entries follow its new address."""
        for parent_id, _name, alias in self.ctx.store.links.parents(c.id):
            parent = self.ctx.store.get(parent_id)
            if parent is not None and parent.state.Running and parent.host_config.get("NetworkMode") == "bridge":
                files.update_link_host(self.ctx.paths(parent)["hosts"], address, alias)

    def _network(self, c: Container, joined: dict[str, str], link_hosts: list[str]) -> bool:
        """The container's sandbox (its namespace joined, its files rewritten); whether one was set up."""
        networking = self.ctx.networking
        if networking is None:
            return False
        t_net = time.monotonic()
        try:
            sandbox = networking.setup(c)
        except BargeError as exc:  # e.g. a requested address in use: moby records it as any failed start
            self.record_start_failure(c, str(exc), 128)
            raise
        if sandbox is not None:
            joined["net"] = sandbox.path
            self.ctx.write_files(c, sandbox.address, networking.host_gateway(), sandbox.embedded_dns,
                                 sandbox.address6, link_hosts)
            if c.host_config.get("NetworkMode") == "bridge" and sandbox.address:
                self._update_parents(c, sandbox.address)
        log.debug("start %s: network %.1f ms", c.short_id, (time.monotonic() - t_net) * 1e3)
        return sandbox is not None

    def _spec(self, c: Container, mounts, user: ExecUser, joined: dict[str, str], link_env: list[str]):
        ctx = self.ctx
        make_bind_sources(c.mounts)
        if ctx.copy_up is not None:
            ctx.copy_up(c.mounts, mounts, str(ctx.store.data_root / "tmp"), c.id)
        paths = ctx.paths(c)
        sources = {p["Destination"]: p["Source"] for p in c.mounts if p["Type"] == "volume"}
        nodes, rules = devices.gather(c.host_config)  # read at each start: devices come and go
        inputs = StartInputs(rootfs=[m.to_dict() for m in mounts], user=user, hostname_path=paths["hostname"],
                             hosts_path=paths["hosts"], resolv_path=paths["resolv"], log_path=c.log_path,
                             log_facts={"name": c.name, "image_id": c.image_id},
                             volume_sources=sources, joined=joined, cap_last=ctx.cap_last,
                             daemon_seccomp=ctx.seccomp_profile, devices=nodes, device_rules=rules, link_env=link_env,
                             shm_source=self.sharing.dev_shm(c, c.mounts))
        propagation.check(c.mounts)  # the host's mounts may have changed since create
        return build_spec(c.id, c.config, c.host_config, c.mounts, inputs)

    def _launch(self, c: Container, rt: Runtime, spec, state_dir: str, marks: list[float]) -> Any:
        """The driver's instance created, attaches connected, the process let run: its pid."""
        pm = self.ctx.pm
        Path(state_dir).parent.mkdir(parents=True, exist_ok=True, mode=0o711)
        created = False
        try:
            t2 = time.monotonic()
            pid = pm.hook.barge_exec_create(spec=spec, state_dir=state_dir)
            created = True
            t3 = time.monotonic()
            self.attachments.connect_pending(rt, state_dir)
            pm.hook.barge_exec_start(container_id=c.id, state_dir=state_dir)
            t0, t1 = marks[0], marks[-1]
            log.debug("start %s: user %.1f ms, spec %.1f ms, exec create %.1f ms, attach+start %.1f ms",
                      c.short_id, (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3,
                      (time.monotonic() - t3) * 1e3)
            return pid
        except BargeError as exc:
            message = str(exc)
            rt.fail_pending()
            if created:
                self.ctx.exec_delete(c.id)
            code = getattr(exc, "exit_code", None) or exit_code_for_start_error(message)
            self.record_start_failure(c, message, code)
            if code in (126, 127) and exc.status >= 500:
                raise InvalidParameter(message) from exc
            raise

    def record_start_failure(self, c: Container, message: str, code: int) -> None:
        """moby keeps a container that failed to start in its old state, with ExitCode and Error set."""
        c.state.Error = message
        c.state.ExitCode = code
        c.state.Running = c.state.Restarting = c.state.Paused = False
        c.state.Pid = 0
        if c.state.StartedAt != "0001-01-01T00:00:00Z":
            c.state.FinishedAt = rfc3339_nano()
        self.ctx.store.save_state(c.id, c.state)
        # waiters are not answered: the process never ran (moby leaves next-exit waiting too)

    def _joined_namespaces(self, c: Container) -> dict[str, str]:
        """The namespaces of ``container:`` modes; a network joiner takes its donor's hostname (saved)."""
        donor = self.sharing.network_donor(c)
        networking = self.ctx.networking
        sandbox = networking.sandbox_path(donor.id) if donor is not None and networking is not None else ""
        if donor is not None and self.sharing.adopt_hostname(c, donor):
            self.ctx.store.save_config(c.id, c.config)
        return self.sharing.namespaces(c, donor, sandbox)

    def _resolve_user(self, c: Container, rootfs_mounts) -> ExecUser:
        """Read passwd/group inside the container's root file system; create a missing WorkingDir.

        A container that never ran has an empty rw layer: its passwd and
        group are the image's, read once per image (a mount saved per run).
        """
        from barge.mount import mounted

        workdir = c.config.get("WorkingDir") or "/"
        found = None
        if workdir == "/" and c.state.StartedAt == "0001-01-01T00:00:00Z" and c.top_layer:
            found = self._image_user_files(c.top_layer)
        if found is None:
            tmp = self.ctx.store.data_root / "tmp"
            tmp.mkdir(exist_ok=True)
            with mounted(rootfs_mounts, tmp_dir=str(tmp)) as root:
                found = (read_file_in_root(str(root), "/etc/passwd"), read_file_in_root(str(root), "/etc/group"))
                if workdir != "/":
                    make_dirs_in_root(str(root), workdir)
        return resolve_user(c.config.get("User") or "", found[0], found[1], c.host_config.get("GroupAdd"))

    def _image_user_files(self, top_layer: str) -> tuple[str | None, str | None] | None:
        from barge.mount import mounted

        with self._lock:
            cached = self._user_files.get(top_layer)
        if cached is not None:
            return cached
        layer = self.ctx.images.layers.get(top_layer)
        if layer is None:
            return None
        pm = self.ctx.pm
        mounts = pm.hook.barge_graph_get(layer_id=layer.cache_id)
        try:
            tmp = self.ctx.store.data_root / "tmp"
            tmp.mkdir(exist_ok=True)
            with mounted(mounts, tmp_dir=str(tmp)) as root:
                found = (read_file_in_root(str(root), "/etc/passwd"), read_file_in_root(str(root), "/etc/group"))
        finally:
            pm.hook.barge_graph_put(layer_id=layer.cache_id)
        with self._lock:
            if len(self._user_files) >= USER_FILES_CACHE:
                self._user_files.pop(next(iter(self._user_files)))
            self._user_files[top_layer] = found
        return found
