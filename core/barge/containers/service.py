"""The container lifecycle: create, start, stop, kill, pause, rm, wait, attach, ... over ``barge_exec_*``.

One :class:`ContainerService` per daemon. The graph db holds the records
(:mod:`.store`); the exec driver holds the processes, under monitors that
outlive the daemon. What lives only in memory is per-container runtime
bookkeeping (:class:`_Runtime`): a lock that serialises state changes, the
exit watcher's generation, waiters of ``/wait``, attaches waiting for a
start, and the restart policy's backoff.

Exit watchers: one thread per running container blocks in
``barge_exec_wait``; when it returns, the exit is recorded, ``die`` is
emitted, waiters are answered, the driver's instance is deleted, and the
restart policy or AutoRemove is applied. At daemon start :meth:`recover`
finishes half-done creates and removals and reconciles every record that
says running with the driver's state.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import os
import secrets
import shutil
import signal as _signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from barge.containers import filters as filters_mod
from barge.containers import files, metrics, monitor, names, propagation, views
from barge.containers import sysinfo as sysinfo_mod
from barge.containers.logs import LogOptions, LogReader
from barge.containers.detach import parse_detach_keys
from barge.containers.limits import merge_update, normalize_resources
from barge.containers.request import command_of, mount_points, normalize_create, restart_policy
from barge.containers.signals import parse_signal
from barge.containers.spec import StartInputs, build_spec, resources as resources_of
from barge.security.seccomp import daemon_profile
from barge.containers.state import State
from barge.containers.store import Container, ContainerStore, name_in_use
from barge.containers.users import ExecUser, UserNotFound, make_dirs_in_root, read_file_in_root, resolve_user
from barge.errors import BargeError, Conflict, InvalidParameter, NotFound, NotImplementedByDriver, NotModified
from barge.graph.filters import labels_match
from barge.graph.timefmt import parse_rfc3339, rfc3339_nano

log = logging.getLogger("barge.containers")

WAIT_CONDITIONS = ("not-running", "next-exit", "removed")
#: Restart policy backoff (moby restartmanager): 100 ms doubling up to a minute,
#: back to the start after a run of 10 s or more.
BACKOFF_START, BACKOFF_MAX, BACKOFF_RESET_AFTER = 0.1, 60.0, 10.0
#: How long an exit waits for attached clients to receive the last output.
ATTACH_DRAIN = 2.0
#: How long a SIGKILL (kill, rm -f, stop after its timeout) waits for the exit.
KILL_WAIT = 10.0



# ---------------------------------------------------------------------------
# runtime bookkeeping
# ---------------------------------------------------------------------------


@dataclass
class _Waiter:
    condition: str
    future: concurrent.futures.Future


@dataclass
class AttachTicket:
    """An attach request: the future gives a socket connected to the monitor (or ``None``)."""

    container: Container
    stdin: bool
    stdout: bool
    stderr: bool
    detach_keys: str | None
    future: concurrent.futures.Future = field(default_factory=concurrent.futures.Future)
    service: "ContainerService | None" = None

    def cancel(self) -> None:
        if self.service is not None:
            self.service._drop_ticket(self)


@dataclass
class _Runtime:
    lock: threading.RLock = field(default_factory=threading.RLock)
    cond: threading.Condition = field(default=None)  # type: ignore[assignment]
    generation: int = 0
    exits: int = 0
    waiters: list[_Waiter] = field(default_factory=list)
    pending: list[AttachTicket] = field(default_factory=list)
    sessions: int = 0
    backoff: float = 0.0
    timer: threading.Timer | None = None

    def __post_init__(self) -> None:
        self.cond = threading.Condition(self.lock)


def exit_code_for_start_error(message: str) -> int:
    """Docker's codes for a process that could not be started: 127 not found, 126 not runnable."""
    text = message.lower()
    if "executable file not found" in text or "no such file or directory" in text:
        return 127
    if "permission denied" in text or "is a directory" in text:
        return 126
    return 128


def should_restart(policy: dict, exit_code: int, manually_stopped: bool, restart_count: int) -> bool:
    """moby restartmanager's ``ShouldRestart`` decision."""
    name = (policy or {}).get("Name") or "no"
    if name == "always":
        return not manually_stopped
    if name == "unless-stopped":
        return not manually_stopped
    if name == "on-failure":
        limit = int((policy or {}).get("MaximumRetryCount") or 0)
        return exit_code != 0 and not manually_stopped and (limit == 0 or restart_count < limit)
    return False


def _cap_last() -> int:
    try:
        return int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    except (OSError, ValueError):
        return 40


# ---------------------------------------------------------------------------
# the service
# ---------------------------------------------------------------------------


class ContainerService:
    def __init__(self, *, store: ContainerStore, images, pm, graph_driver: str, exec_driver: str | None,
                 exec_error: str = "", ncpu: int | None = None, seccomp_profile: str | None = None):
        """``seccomp_profile``: the daemon's setting (``builtin`` by default, ``unconfined``, or a
        profile's path), read here once; a bad profile stops the daemon."""
        self.store = store
        self.images = images
        self.pm = pm
        self.graph_driver = graph_driver
        self.exec_driver = exec_driver
        self.exec_error = exec_error
        #: what this machine's cgroups and kernel can apply (warnings and refusals depend on it)
        self.sysinfo = sysinfo_mod.detect(runtime=exec_driver or "native", graph_driver=graph_driver, ncpu=ncpu)
        self.ncpu = self.sysinfo.ncpu
        self.cgroup_v2 = self.sysinfo.cgroup_v2
        self.cap_last = _cap_last()
        self.seccomp_profile = daemon_profile(seccomp_profile)
        self.swap_limit = self.sysinfo.swap_limit
        self._runtimes: dict[str, _Runtime] = {}
        self._rt_lock = threading.Lock()
        #: passwd and group of images (by top layer), for containers' first starts
        self._user_files: dict[str, tuple[str | None, str | None]] = {}
        self._closing = False
        #: the volume store (:class:`barge.volumes.VolumeStore`), set by the daemon
        self.volumes = None
        #: the network service (:class:`barge.network.service.NetworkService`), set by the daemon
        self.networks = None
        #: ``exec_ids(container_id)``: the container's exec instances for inspect, set by the daemon
        self.exec_ids: Callable[[str], list[str]] | None = None

    # -- helpers ----------------------------------------------------------

    def _require_driver(self) -> None:
        if self.exec_driver is None:
            raise NotImplementedByDriver(f"no exec driver: {self.exec_error or 'none configured'}")

    def _rt(self, container_id: str) -> _Runtime:
        with self._rt_lock:
            rt = self._runtimes.get(container_id)
            if rt is None:
                rt = self._runtimes[container_id] = _Runtime()
            return rt

    def _state_dir(self, c: Container | str) -> str:
        return str(self.store.state_dir(c if isinstance(c, str) else c.id))

    def _event(self, action: str, c: Container, **attrs: Any) -> None:
        try:
            self.pm.hook.barge_container_event(action=action, container_id=c.id,
                                               attributes=c.event_attributes(**attrs))
        except Exception:  # an extension plugin must not break the lifecycle
            log.exception("barge_container_event(%s) failed in an extension plugin", action)

    def get(self, ref: str) -> Container:
        return self.store.resolve(ref)

    @contextlib.contextmanager
    def locked(self, ref: str):
        """The current record, its state changes held off meanwhile (cp, export, commit)."""
        c = self.get(ref)
        rt = self._rt(c.id)
        with rt.lock:
            current = self.store.get(c.id)
            if current is None:
                raise NotFound(f"No such container: {ref}")
            yield current

    @contextlib.contextmanager
    def _driving(self, ref: str):
        """``(record, runtime)`` for a lifecycle change: needs the exec driver;
        the record is re-read once its runtime lock is held."""
        self._require_driver()
        c = self.get(ref)
        rt = self._rt(c.id)
        with rt.lock:
            yield self.store.get(c.id) or c, rt

    def paths(self, c: Container) -> dict[str, str]:
        """hostname, hosts and resolv.conf; a container on another's network namespace shares its files."""
        mode = c.host_config.get("NetworkMode") or ""
        owner = c.id
        if mode.startswith("container:"):
            with contextlib.suppress(NotFound):
                owner = self.get(mode[len("container:"):]).id
        d = self.store.container_dir(owner)
        return {"dir": str(d), "hostname": str(d / "hostname"), "hosts": str(d / "hosts"),
                "resolv": str(d / "resolv.conf")}

    def close(self) -> None:
        """Daemon shutdown: watchers stop recording (the driver keeps the exits for the next start)."""
        self._closing = True
        with self._rt_lock:
            for rt in self._runtimes.values():
                if rt.timer is not None:
                    rt.timer.cancel()

    def counts(self) -> dict[str, int]:
        return self.store.counts()

    def users(self, image_id: str) -> list[tuple[str, bool]]:
        return self.store.users(image_id)

    # -- create -----------------------------------------------------------

    def create(self, body: dict[str, Any], name: str = "") -> dict[str, Any]:
        """``POST /containers/create`` (``body`` decoded): a record and a rw layer; nothing runs yet."""
        self._require_driver()
        image_ref = body.get("Image") or ""
        if not image_ref:
            raise InvalidParameter("config cannot be empty in order to create a container")
        img = self.images.resolve(image_ref)
        norm = normalize_create(body, (img.config or {}).get("config"), exists=os.path.exists, sysinfo=self.sysinfo)
        if name:
            full_name = names.validate_name(name)
            owner = self.store.name_owner(full_name)
            if owner is not None:
                raise name_in_use(full_name, owner)
        else:
            full_name = names.generate_name(lambda n: self.store.name_owner(n) is not None)
        cid = secrets.token_hex(32)
        config, host = norm.config, norm.host_config
        if self.networks is not None:
            norm.networking_config = self.networks.check_create(full_name, config, host, norm.networking_config)
        elif host["NetworkMode"] not in ("none", "host") and not host["NetworkMode"].startswith("container:"):
            raise NotFound(f"network {host['NetworkMode']} not found")
        config["Image"] = image_ref
        if not config.get("Hostname"):
            config["Hostname"] = socket.gethostname() if host["NetworkMode"] == "host" else cid[:12]
        host["Runtime"] = self.exec_driver
        points = mount_points(host, config, os.path.exists)
        propagation.check(points)
        for p in points:
            if p["Type"] == "volume":
                if not p.get("Name"):
                    p["Name"], p["Anonymous"] = secrets.token_hex(32), True
                p["Source"] = str(self.store.data_root / "volumes" / p["Name"] / "_data")
        top = self.images.layers.get(img.top_layer) if img.top_layer else None
        path, args = command_of(config)
        cdir = self.store.container_dir(cid)
        now_ns = time.time_ns()
        c = Container(
            id=cid, name=full_name, image_id=img.id, top_layer=img.top_layer, rw_layer=cid, config=config,
            host_config=host, network_config=norm.networking_config, mounts=points,
            created=rfc3339_nano(now_ns), created_unix=now_ns / 1e9, state=State(), path=path, args=args,
            log_path=str(cdir / f"{cid}-json.log"), graph_driver=self.graph_driver,
        )
        self.store.begin_create(cid)
        try:
            self.pm.hook.barge_graph_create_rw(layer_id=cid, parent=top.cache_id if top else None)
            cdir.mkdir(parents=True, mode=0o710)
            self._write_files(c)
            for p in points:
                if p["Type"] == "volume":
                    if self.volumes is not None:
                        self.volumes.ensure(p["Name"], anonymous=bool(p.get("Anonymous")))
                    else:
                        Path(p["Source"]).mkdir(parents=True, exist_ok=True)
            self.store.finish_create(c)
        except BaseException:
            self._undo_create(cid)
            if self.volumes is not None:
                self.volumes.remove_unused([p["Name"] for p in points if p.get("Anonymous")])
            raise
        self._event("create", c)
        return {"Id": cid, "Warnings": norm.warnings}

    def _undo_create(self, cid: str) -> None:
        try:
            self.pm.hook.barge_graph_remove(layer_id=cid)
        except Exception:
            log.exception("removing the rw layer of unfinished container %s failed; recover() retries", cid)
            return
        shutil.rmtree(self.store.container_dir(cid), ignore_errors=True)
        shutil.rmtree(self.store.state_dir(cid), ignore_errors=True)
        self.store.drop_journal(cid)

    def _write_files(self, c: Container, address: str = "", host_gateway: str = "",
                     embedded_dns: bool = False) -> None:
        host = self.networks.dns_settings(c.host_config) if self.networks is not None else c.host_config
        files.write_files(self.store.container_dir(c.id), c.config.get("Hostname") or c.id[:12], host,
                          address, host_gateway, embedded_dns)

    # -- start ------------------------------------------------------------

    def start(self, ref: str) -> None:
        with self._driving(ref) as (c, rt):
            st = c.state
            if st.Paused:
                raise Conflict("cannot start a paused container, try unpause instead")
            if st.Running and not st.Restarting:
                raise NotModified("container already started")
            if st.RemovalInProgress or st.Dead:
                raise Conflict("container is marked for removal and cannot be started")
            self._cancel_restart(rt)
            try:
                self._start_locked(c, rt)
            except BaseException:
                c = self.store.get(c.id)
                if c is not None and c.host_config.get("AutoRemove"):
                    self._remove_after_failed_start(c)
                raise
        self._event("start", c)

    def _remove_after_failed_start(self, c: Container) -> None:
        try:
            self.remove(c.id, force=True, volumes=True)
        except BargeError:
            log.exception("removing AutoRemove container %s after a failed start", c.short_id)

    def _joined_namespaces(self, host: dict[str, Any]) -> dict[str, str]:
        joined = {}
        for key, kind in (("NetworkMode", "net"), ("IpcMode", "ipc"), ("PidMode", "pid")):
            value = host.get(key) or ""
            if value.startswith("container:"):
                other = self.get(value[len("container:"):])
                if not other.state.Running or not other.state.Pid:
                    raise Conflict(f"cannot join network namespace of a non running container: {other.id}"
                                   if kind == "net" else f"container {other.id} is not running")
                sandbox = self.networks.sandbox_path(other.id) if self.networks is not None else ""
                if kind == "net" and sandbox and os.path.exists(sandbox):
                    joined[kind] = sandbox
                else:
                    joined[kind] = f"/proc/{other.state.Pid}/ns/{kind}"
        return joined

    def _resolve_user(self, c: Container, rootfs_mounts) -> ExecUser:
        """Read passwd/group inside the container's root file system; create a missing WorkingDir.

        A container that never ran has an empty rw layer: its passwd and
        group are the image's, read once per image (a mount saved per run).
        """
        from barge.mount import mounted

        workdir = c.config.get("WorkingDir") or "/"
        files = None
        if workdir == "/" and c.state.StartedAt == "0001-01-01T00:00:00Z" and c.top_layer:
            files = self._image_user_files(c.top_layer)
        if files is None:
            tmp = self.store.data_root / "tmp"
            tmp.mkdir(exist_ok=True)
            with mounted(rootfs_mounts, tmp_dir=str(tmp)) as root:
                files = (read_file_in_root(str(root), "/etc/passwd"), read_file_in_root(str(root), "/etc/group"))
                if workdir != "/":
                    make_dirs_in_root(str(root), workdir)
        return resolve_user(c.config.get("User") or "", files[0], files[1], c.host_config.get("GroupAdd"))

    def _image_user_files(self, top_layer: str) -> tuple[str | None, str | None] | None:
        from barge.mount import mounted

        with self._rt_lock:
            cached = self._user_files.get(top_layer)
        if cached is not None:
            return cached
        layer = self.images.layers.get(top_layer)
        if layer is None:
            return None
        mounts = self.pm.hook.barge_graph_get(layer_id=layer.cache_id)
        try:
            tmp = self.store.data_root / "tmp"
            tmp.mkdir(exist_ok=True)
            with mounted(mounts, tmp_dir=str(tmp)) as root:
                files = (read_file_in_root(str(root), "/etc/passwd"), read_file_in_root(str(root), "/etc/group"))
        finally:
            self.pm.hook.barge_graph_put(layer_id=layer.cache_id)
        with self._rt_lock:
            if len(self._user_files) >= 64:
                self._user_files.pop(next(iter(self._user_files)))
            self._user_files[top_layer] = files
        return files

    def _start_locked(self, c: Container, rt: _Runtime) -> None:
        """Create the driver's instance, connect waiting attaches, let the process run."""
        state_dir = self._state_dir(c)
        t0 = time.monotonic()
        if os.path.exists(state_dir):
            self._exec_delete(c.id)
        mounts = self.pm.hook.barge_graph_get(layer_id=c.rw_layer)
        created = False
        networked = False
        try:
            try:
                user = self._resolve_user(c, mounts)
                t1 = time.monotonic()
                joined = self._joined_namespaces(c.host_config)
            except UserNotFound as exc:
                self._record_start_failure(c, str(exc), 128)
                raise
            paths = self.paths(c)
            if self.networks is not None:
                t_net = time.monotonic()
                sandbox = self.networks.setup(c)
                if sandbox is not None:
                    networked = True
                    joined["net"] = sandbox.path
                    self._write_files(c, sandbox.address, self.networks.host_gateway(), sandbox.embedded_dns)
                log.debug("start %s: network %.1f ms", c.short_id, (time.monotonic() - t_net) * 1e3)
            if self.volumes is not None:
                from barge.volumes.copyup import prepare_volumes

                prepare_volumes(self.volumes, c.mounts, mounts, str(self.store.data_root / "tmp"), c.id)
            sources = {p["Destination"]: p["Source"] for p in c.mounts if p["Type"] == "volume"}
            inputs = StartInputs(rootfs=[m.to_dict() for m in mounts], user=user, hostname_path=paths["hostname"],
                                 hosts_path=paths["hosts"], resolv_path=paths["resolv"], log_path=c.log_path,
                                 volume_sources=sources, joined=joined, cap_last=self.cap_last,
                                 daemon_seccomp=self.seccomp_profile)
            propagation.check(c.mounts)  # the host's mounts may have changed since create
            spec = build_spec(c.id, c.config, c.host_config, c.mounts, inputs)
            Path(state_dir).parent.mkdir(parents=True, exist_ok=True, mode=0o711)
            try:
                t2 = time.monotonic()
                pid = self.pm.hook.barge_exec_create(spec=spec, state_dir=state_dir)
                created = True
                t3 = time.monotonic()
                self._connect_pending(c, rt, state_dir)
                self.pm.hook.barge_exec_start(container_id=c.id, state_dir=state_dir)
                log.debug("start %s: user %.1f ms, spec %.1f ms, exec create %.1f ms, attach+start %.1f ms",
                          c.short_id, (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3,
                          (time.monotonic() - t3) * 1e3)
            except BargeError as exc:
                message = str(exc)
                self._fail_pending(rt, exc)
                if created:
                    self._exec_delete(c.id)
                code = getattr(exc, "exit_code", None) or exit_code_for_start_error(message)
                self._record_start_failure(c, message, code)
                if code in (126, 127) and exc.status >= 500:
                    raise InvalidParameter(message) from exc
                raise
            c.state.set_running(int(pid or 0), rfc3339_nano())
            self.store.save_state(c.id, c.state)
            rt.generation += 1
            self._watch(c.id, rt.generation)
        except BaseException:
            self._fail_pending(rt, None)
            if networked:
                self._network_teardown(c.id)
            with contextlib.suppress(Exception):
                self.pm.hook.barge_graph_put(layer_id=c.rw_layer)
            raise

    def _network_teardown(self, cid: str) -> None:
        if self.networks is None:
            return
        try:
            self.networks.teardown(cid)
        except Exception:
            log.exception("releasing the network of container %s", cid[:12])

    def _record_start_failure(self, c: Container, message: str, code: int) -> None:
        """moby keeps a container that failed to start in its old state, with ExitCode and Error set."""
        c.state.Error = message
        c.state.ExitCode = code
        c.state.Running = c.state.Restarting = c.state.Paused = False
        c.state.Pid = 0
        if c.state.StartedAt != "0001-01-01T00:00:00Z":
            c.state.FinishedAt = rfc3339_nano()
        self.store.save_state(c.id, c.state)
        # waiters are not answered: the process never ran (moby leaves next-exit waiting too)

    def _exec_delete(self, cid: str) -> None:
        try:
            self.pm.hook.barge_exec_delete(container_id=cid, state_dir=self._state_dir(cid))
        except Exception:
            log.exception("exec driver: deleting container %s failed", cid[:12])

    # -- attach -----------------------------------------------------------

    def attach(self, ref: str, *, stream: bool, stdin: bool, stdout: bool, stderr: bool,
               detach_keys: str | None) -> AttachTicket:
        """Checks, then a ticket whose future is a connected monitor socket (now, or at the next start)."""
        self._require_driver()
        c = self.get(ref)
        if c.state.Paused:
            raise Conflict(f"container {ref} is paused, unpause the container before attach")
        if c.state.Restarting:
            raise Conflict(f"container {ref} is restarting, wait until the container is running")
        if detach_keys:
            parse_detach_keys(detach_keys)
        ticket = AttachTicket(c, stdin, stdout, stderr, detach_keys, service=self)
        if not stream:
            ticket.future.set_result(None)
            return ticket
        rt = self._rt(c.id)
        with rt.lock:
            current = self.store.get(c.id) or c
            if current.state.Running:
                ticket.future.set_result(self._connect(ticket, self._state_dir(c)))
            else:
                rt.pending.append(ticket)
        self._event("attach", c)
        return ticket

    def _connect(self, ticket: AttachTicket, state_dir: str):
        # moby attaches stdin only to a container created with OpenStdin
        stdin = ticket.stdin and bool(ticket.container.config.get("OpenStdin"))
        return monitor.connect(state_dir, stdin=stdin, stdout=ticket.stdout, stderr=ticket.stderr,
                               detach_keys=ticket.detach_keys)

    def _connect_pending(self, c: Container, rt: _Runtime, state_dir: str) -> None:
        pending, rt.pending = rt.pending, []
        for ticket in pending:
            if ticket.future.done():
                continue
            try:
                ticket.future.set_result(self._connect(ticket, state_dir))
            except Exception as exc:
                ticket.future.set_exception(exc)

    def _fail_pending(self, rt: _Runtime, exc: BaseException | None) -> None:
        """A start failed: attaches waiting for it end (the client sees the start's error)."""
        pending, rt.pending = rt.pending, []
        for ticket in pending:
            if not ticket.future.done():
                ticket.future.set_result(None)

    def _drop_ticket(self, ticket: AttachTicket) -> None:
        rt = self._rt(ticket.container.id)
        with rt.lock:
            if ticket in rt.pending:
                rt.pending.remove(ticket)
            if not ticket.future.done():
                ticket.future.cancel()
        if ticket.future.done() and not ticket.future.cancelled() and ticket.future.exception() is None:
            sock = ticket.future.result()
            if sock is not None:
                sock.close()

    @contextlib.contextmanager
    def attach_session(self, cid: str):
        """Counts clients streaming output, so an exit lets them drain before cleanup."""
        rt = self._rt(cid)
        with rt.lock:
            rt.sessions += 1
        try:
            yield
        finally:
            with rt.lock:
                rt.sessions -= 1
                rt.cond.notify_all()

    def resize(self, ref: str, height: int, width: int) -> None:
        self._require_driver()
        c = self.get(ref)
        if not c.state.Running:
            raise Conflict(f"Container {c.id} is not running")
        monitor.resize(self._state_dir(c), height, width)

    # -- exits: watchers, restart policies, waiters -----------------------

    def _watch(self, cid: str, generation: int) -> None:
        t = threading.Thread(target=self._watcher, args=(cid, generation), name=f"exit-watch-{cid[:12]}", daemon=True)
        t.start()

    def _watcher(self, cid: str, generation: int) -> None:
        try:
            es = self.pm.hook.barge_exec_wait(container_id=cid, state_dir=self._state_dir(cid), timeout=None)
        except Exception as exc:
            if self._closing:
                return
            log.exception("exec driver: waiting for container %s failed", cid[:12])
            es = None
            error = f"barge: lost track of the container's process: {exc}"
        else:
            error = ""
        if self._closing:
            return
        try:
            self._on_exit(cid, generation, es, error)
        except Exception:
            log.exception("recording the exit of container %s failed", cid[:12])

    def _on_exit(self, cid: str, generation: int, es, error: str = "") -> None:
        rt = self._rt(cid)
        with rt.lock:
            if rt.generation != generation:
                return
            c = self.store.get(cid)
            if c is None or not c.state.Running:
                return
            code = 255 if es is None or es.exit_code is None else int(es.exit_code)
            finished = (es.finished_at if es is not None else "") or rfc3339_nano()
            oom = bool(es.oom_killed) if es is not None else False
            error = error or (es.error if es is not None else "")
            ran = parse_rfc3339(finished) - parse_rfc3339(c.state.StartedAt)
            restart = should_restart(c.host_config.get("RestartPolicy"), code, c.state.HasBeenManuallyStopped,
                                     c.restart_count) and not self._closing
            if restart:
                c.state.set_restarting(code, finished, oom)
            else:
                c.state.set_stopped(code, finished, oom, error)
            self.store.save_state(cid, c.state)
            # events before anyone waiting on the exit moves on, so "die" precedes "stop"
            if oom:
                self._event("oom", c)
            self._event("die", c, exitCode=str(code))
            rt.exits += 1
            rt.cond.notify_all()
            self._answer_waiters(rt, ("next-exit", "not-running"), code, None)
            if restart:
                rt.backoff = 0.0 if ran >= BACKOFF_RESET_AFTER else rt.backoff
                rt.backoff = BACKOFF_START if rt.backoff == 0 else min(rt.backoff * 2, BACKOFF_MAX)
        # attached clients get the last output before the monitor goes
        deadline = time.monotonic() + ATTACH_DRAIN
        with rt.lock:
            while rt.sessions > 0 and time.monotonic() < deadline:
                rt.cond.wait(max(0.0, deadline - time.monotonic()))
            if rt.generation == generation:
                self._exec_delete(cid)
                self._network_teardown(cid)
                with contextlib.suppress(Exception):
                    self.pm.hook.barge_graph_put(layer_id=c.rw_layer)
            if restart and rt.generation == generation:
                self._schedule_restart(cid, rt, generation)
                return
        if c.host_config.get("AutoRemove") and not restart:
            try:
                self.remove(cid, force=True, volumes=True)
            except (NotFound, Conflict):
                pass  # removed, or being removed, by someone else meanwhile
            except BargeError:
                log.exception("AutoRemove of container %s failed", cid[:12])

    def _schedule_restart(self, cid: str, rt: _Runtime, generation: int) -> None:
        timer = threading.Timer(rt.backoff, self._policy_restart, (cid, generation))
        timer.daemon = True
        rt.timer = timer
        timer.start()

    def _cancel_restart(self, rt: _Runtime) -> None:
        if rt.timer is not None:
            rt.timer.cancel()
            rt.timer = None

    def _policy_restart(self, cid: str, generation: int) -> None:
        if self._closing:
            return
        rt = self._rt(cid)
        with rt.lock:
            rt.timer = None
            c = self.store.get(cid)
            if c is None or rt.generation != generation or not c.state.Restarting:
                return
            try:
                self._start_locked(c, rt)
            except BargeError as exc:
                log.warning("restart policy: container %s failed to start: %s", cid[:12], exc)
                c = self.store.get(cid)
                if c is not None:
                    c.state.set_stopped(c.state.ExitCode, error=str(exc))
                    self.store.save_state(cid, c.state)
                return
            self.store.save_state(cid, c.state, restart_count=c.restart_count + 1)
        self._event("start", c)

    def _answer_waiters(self, rt: _Runtime, conditions: tuple[str, ...], code: int, error: str | None) -> None:
        keep = []
        for w in rt.waiters:
            if w.condition in conditions:
                if not w.future.done():
                    w.future.set_result((code, error))
            else:
                keep.append(w)
        rt.waiters = keep

    def wait(self, ref: str, condition: str = "not-running") -> concurrent.futures.Future:
        """``POST /wait``: a future of ``(StatusCode, error)``; 404 and 400 are raised at once."""
        condition = condition or "not-running"
        if condition not in WAIT_CONDITIONS:
            raise InvalidParameter(f'invalid condition: "{condition}"')
        c = self.get(ref)
        rt = self._rt(c.id)
        future: concurrent.futures.Future = concurrent.futures.Future()
        with rt.lock:
            current = self.store.get(c.id)
            if current is None:
                if condition == "removed":
                    future.set_result((c.state.ExitCode, None))
                    return future
                raise NotFound(f"No such container: {ref}")
            if condition == "not-running" and not current.state.Running:
                future.set_result((current.state.ExitCode, None))
                return future
            rt.waiters.append(_Waiter(condition, future))
        return future

    def _wait_exit(self, rt: _Runtime, exits_before: int, timeout: float | None) -> bool:
        """Inside ``rt.lock``: wait until the watcher recorded an exit after ``exits_before``."""
        end = None if timeout is None or timeout < 0 else time.monotonic() + timeout
        while rt.exits == exits_before:
            remaining = None if end is None else end - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            rt.cond.wait(remaining if remaining is not None else 1.0)
        return True

    # -- stop, kill, restart, pause --------------------------------------

    def _signal(self, c: Container, sig: int) -> None:
        self.pm.hook.barge_exec_kill(container_id=c.id, state_dir=self._state_dir(c), signal=sig)

    def stop(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        """StopSignal, then SIGKILL after the timeout (``-1``: wait forever)."""
        with self._driving(ref) as (c, rt):
            if not c.state.Running:
                raise NotModified("container already stopped")
            self._stop_locked(c, rt, timeout, signal)
        self._event("stop", c)

    def _stop_locked(self, c: Container, rt: _Runtime, timeout: int | None, signal: str | None) -> None:
        sig = parse_signal(signal or c.config.get("StopSignal") or "SIGTERM")
        if timeout is None:
            timeout = c.config.get("StopTimeout")
            if timeout is None:
                timeout = 10
        self._stopped_by_hand(c, rt)
        if c.state.Restarting:
            self._end_restarting(c, rt)
            return
        before = rt.exits
        with contextlib.suppress(Conflict):  # it exited meanwhile
            self._send(c, sig)
        if self._wait_exit(rt, before, timeout):
            return
        log.info("container %s did not stop within %ss after signal %d: killing it", c.short_id, timeout, sig)
        with contextlib.suppress(Conflict):
            self._signal(c, _signal.SIGKILL)
            self._event("kill", c, signal=str(int(_signal.SIGKILL)))
        if not self._wait_exit(rt, before, KILL_WAIT):
            raise BargeError(f"container {c.id} did not exit after SIGKILL")

    def _stopped_by_hand(self, c: Container, rt: _Runtime) -> None:
        """Inside ``rt.lock``: no restart policy brings it back, none pending either."""
        c.state.HasBeenManuallyStopped = True
        self.store.save_state(c.id, c.state)
        self._cancel_restart(rt)

    def _end_restarting(self, c: Container, rt: _Runtime) -> None:
        """Inside ``rt.lock``: a container waiting for its policy restart stays stopped."""
        c.state.set_stopped(c.state.ExitCode, c.state.FinishedAt)
        self.store.save_state(c.id, c.state)
        rt.generation += 1  # the pending restart's generation is void now

    def _send(self, c: Container, sig: int) -> None:
        """Signal the process and record the kill; a paused one is resumed to act on it.
        Conflict when the process is gone."""
        self._signal(c, sig)
        self._event("kill", c, signal=str(sig))
        if c.state.Paused:
            self._resume_quietly(c)

    def _resume_quietly(self, c: Container) -> None:
        with contextlib.suppress(BargeError):
            self.pm.hook.barge_exec_resume(container_id=c.id, state_dir=self._state_dir(c))

    def kill(self, ref: str, signal: str | None = None) -> None:
        self._require_driver()
        sig = parse_signal(signal or "KILL")
        with self._driving(ref) as (c, rt):
            if not c.state.Running:
                raise Conflict(f"Cannot kill container: {ref}: Container {c.id} is not running")
            stop_sig = parse_signal(c.config.get("StopSignal") or "SIGTERM")
            if sig in (_signal.SIGKILL, stop_sig):
                self._stopped_by_hand(c, rt)
            if c.state.Restarting:
                self._end_restarting(c, rt)
                return
            before = rt.exits
            try:
                self._signal(c, sig)
            except Conflict:
                raise Conflict(f"Cannot kill container: {ref}: Container {c.id} is not running") from None
            self._event("kill", c, signal=str(sig))
            if sig == _signal.SIGKILL:
                if c.state.Paused:
                    self._resume_quietly(c)
                self._wait_exit(rt, before, KILL_WAIT)

    def restart(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        with self._driving(ref) as (c, rt):
            if c.state.Running:
                self._stop_locked(c, rt, timeout, signal)
                c = self.store.get(c.id) or c
                self._event("stop", c)
        self.start(c.id)
        self._event("restart", c)

    def pause(self, ref: str) -> None:
        with self._driving(ref) as (c, rt):
            if not c.state.Running:
                raise Conflict(f"Container {c.id} is not running")
            if c.state.Paused:
                raise Conflict(f"Container {c.id} is already paused")
            if c.state.Restarting:
                raise Conflict(f"Container {c.id} is restarting, wait until the container is running")
            self.pm.hook.barge_exec_pause(container_id=c.id, state_dir=self._state_dir(c))
            c.state.Paused = True
            self.store.save_state(c.id, c.state)
        self._event("pause", c)

    def unpause(self, ref: str) -> None:
        with self._driving(ref) as (c, rt):
            if not c.state.Paused:
                raise Conflict(f"Container {c.id} is not paused")
            self.pm.hook.barge_exec_resume(container_id=c.id, state_dir=self._state_dir(c))
            c.state.Paused = False
            self.store.save_state(c.id, c.state)
        self._event("unpause", c)

    # -- remove -----------------------------------------------------------

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        c = self.get(ref)
        rt = self._rt(c.id)
        with rt.lock:
            c = self.store.get(c.id)
            if c is None:
                raise NotFound(f"No such container: {ref}")
            if c.state.RemovalInProgress:
                raise Conflict(f"removal of container {c.id} is already in progress")
            if c.state.Running:
                if not force:
                    raise Conflict(
                        f"You cannot remove a running container {c.id}. "
                        "Stop the container before attempting removal or force remove"
                    )
                self._require_driver()
                self._stopped_by_hand(c, rt)
                if c.state.Restarting:
                    c.state.set_stopped(c.state.ExitCode, c.state.FinishedAt)
                    rt.generation += 1
                else:
                    before = rt.exits
                    with contextlib.suppress(Conflict):
                        self._send(c, int(_signal.SIGKILL))
                    if not self._wait_exit(rt, before, KILL_WAIT):
                        raise BargeError(f"could not kill running container {c.id}, cannot remove")
                    c = self.store.get(c.id) or c
            self._fail_pending(rt, None)
            self.store.begin_remove(c.id, c.state)
            rt.generation += 1  # a watcher still running has nothing left to record
        self._finish_remove(c, volumes)

    def _finish_remove(self, c: Container, volumes: bool) -> None:
        """Release everything, then drop the row (a killed daemon redoes this at its next start)."""
        if self.exec_driver is not None:
            self._exec_delete(c.id)
        else:
            shutil.rmtree(self.store.state_dir(c.id), ignore_errors=True)
        self._network_teardown(c.id)
        self.pm.hook.barge_graph_remove(layer_id=c.rw_layer)
        shutil.rmtree(self.store.container_dir(c.id), ignore_errors=True)
        if volumes and self.volumes is None:
            for p in c.mounts:
                if p["Type"] == "volume" and p.get("Anonymous"):
                    shutil.rmtree(Path(p["Source"]).parent, ignore_errors=True)
        released = self.store.finish_remove(c.id, release=self.images.layers.release_unused)
        self.images.layers.remove_driver_layers(released)
        if volumes and self.volumes is not None:  # after the row is gone: no longer in use by it
            self.volumes.remove_unused([p["Name"] for p in c.mounts if p["Type"] == "volume" and p.get("Anonymous")])
        rt = self._rt(c.id)
        with rt.lock:
            self._answer_waiters(rt, WAIT_CONDITIONS, c.state.ExitCode, None)
            rt.cond.notify_all()
        with self._rt_lock:
            self._runtimes.pop(c.id, None)
        self._event("destroy", c)

    def prune(self, filters: dict[str, list[str]]) -> dict[str, Any]:
        """``POST /containers/prune``: remove every stopped container (filters ``until``, ``label``, ``label!``)."""
        for key in filters:
            if key not in ("until", "label", "label!"):
                raise InvalidParameter(f"invalid filter '{key}'")
        until = []
        for value in filters.get("until", []):
            try:
                until.append(float(value))
            except ValueError:
                t = parse_rfc3339(value)
                if not t:
                    raise InvalidParameter(f"invalid filter 'until={value}'") from None
                until.append(t)
        deleted, reclaimed = [], 0
        for c in self.store.all():
            if c.state.Running or c.state.RemovalInProgress:
                continue
            if until and not all(c.created_unix < t for t in until):
                continue
            labels = c.config.get("Labels") or {}
            if "label" in filters and not labels_match(labels, filters["label"]):
                continue
            if "label!" in filters and any(labels_match(labels, [item]) for item in filters["label!"]):
                continue
            size = self._size(c)[0]
            try:
                self.remove(c.id)
            except (NotFound, Conflict):
                continue  # started or removed meanwhile
            deleted.append(c.id)
            reclaimed += size
        return {"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    # -- rename, update ---------------------------------------------------

    def rename(self, ref: str, new_name: str) -> None:
        c = self.get(ref)
        if not new_name:
            raise InvalidParameter("Neither old nor new names may be empty")
        full = names.validate_name(new_name)
        if full == c.name:
            raise InvalidParameter("Renaming a container with the same name as its current name")
        self.store.rename(c.id, full)
        if self.networks is not None:
            self.networks.renamed(c.id, c.name, full)
        renamed = self.store.get(c.id) or c
        self._event("rename", renamed, oldName=c.name)

    def update(self, ref: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /update`` (``body`` decoded): resources (applied to a running container's cgroups)
        and the restart policy."""
        c = self.get(ref)
        rt = self._rt(c.id)
        warnings: list[str] = []
        with rt.lock:
            c = self.store.get(c.id) or c
            host = merge_update(c.host_config, body)
            normalize_resources(host, self.sysinfo, warnings, update=True)
            # only what this update asked for: the record's own settings were warned about at create
            settled: list[str] = []
            with contextlib.suppress(InvalidParameter):
                normalize_resources(dict(c.host_config), self.sysinfo, settled, update=True)
            warnings = [w for w in warnings if w not in settled]
            if body.get("RestartPolicy") and (body["RestartPolicy"].get("Name") or ""):
                policy = restart_policy({"RestartPolicy": body["RestartPolicy"]})
                if host.get("AutoRemove") and policy["Name"] != "no":
                    raise InvalidParameter("Restart policy cannot be updated because AutoRemove is enabled for the container")
                host["RestartPolicy"] = policy
            if c.state.Running and not c.state.Restarting:
                self._require_driver()
                resources = resources_of(host)
                if body.get("PidsLimit") is not None and body["PidsLimit"] <= 0:
                    resources.pids_limit = -1  # lifted: written as "max"
                self.pm.hook.barge_exec_update(container_id=c.id, state_dir=self._state_dir(c), resources=resources)
            self.store.save_host_config(c.id, host)
        self._event("update", c)
        return {"Warnings": warnings}

    # -- reading ----------------------------------------------------------

    def inspect(self, ref: str, size: bool = False) -> dict[str, Any]:
        c = self.get(ref)
        data: dict[str, str] = {}
        with contextlib.suppress(Exception):
            data = self.pm.hook.barge_graph_metadata(layer_id=c.rw_layer) or {}
        return views.inspect(c, paths=self.paths(c), graph_data=data, runtime=self.exec_driver or "",
                             size=self._size(c) if size else None,
                             exec_ids=self.exec_ids(c.id) if self.exec_ids is not None else None,
                             net=self.networks.container_view(c) if self.networks is not None else None)

    def _size(self, c: Container) -> tuple[int, int]:
        top = self.images.layers.get(c.top_layer) if c.top_layer else None
        rw = 0
        with contextlib.suppress(Exception):
            rw = int(self.pm.hook.barge_graph_diff_size(layer_id=c.rw_layer, parent=top.cache_id if top else None) or 0)
        base = 0
        for layer in self.images.layers.chain(c.top_layer) if c.top_layer else []:
            base += layer.size
        return rw, rw + base

    def list(self, query: filters_mod.ListQuery, size: bool = False) -> list[dict[str, Any]]:
        def ancestors(ref: str) -> set[str]:
            try:
                img = self.images.resolve(ref)
            except BargeError:
                return set()
            out, todo = set(), [img.id]
            while todo:
                current = todo.pop()
                if current in out:
                    continue
                out.add(current)
                todo.extend(self.images.children(current))
            return out

        picked = filters_mod.select(self.store.all(), query, self.get, ancestors)
        now = time.time()
        if self.networks is None:
            return [views.summary(c, self._size(c) if size else None, now) for c in picked]
        snap = self.networks.snapshot()
        return [views.summary(c, self._size(c) if size else None, now, self.networks.container_view(c, snap),
                              self.networks.summary_ports(c, snap)) for c in picked]

    def logs(self, ref: str, opts: LogOptions) -> tuple[Container, LogReader]:
        c = self.get(ref)
        if not (opts.stdout or opts.stderr):
            raise InvalidParameter("Bad parameters: you must choose at least one stream")
        kind = (c.host_config.get("LogConfig") or {}).get("Type", "json-file")
        if kind != "json-file":
            raise NotImplementedByDriver("configured logging driver does not support reading")
        return c, LogReader(c.log_path, opts)

    def is_running(self, cid: str) -> bool:
        c = self.store.get(cid)
        return bool(c is not None and c.state.Running)

    def top(self, ref: str, ps_args: str = "") -> dict[str, Any]:
        self._require_driver()
        c = self.get(ref)
        if not c.state.Running or c.state.Restarting:
            raise Conflict(f"Container {c.id} is not running")
        pids = set(self.pm.hook.barge_exec_processes(container_id=c.id, state_dir=self._state_dir(c)) or [])
        return metrics.top_table(pids, ps_args or "-ef")

    def stats(self, ref: str) -> tuple[Container, Callable[[], dict[str, Any]]]:
        """The container, and a function taking one sample (Docker's stats shape, precpu not filled)."""
        self._require_driver()
        c = self.get(ref)

        def sample() -> dict[str, Any]:
            current = self.store.get(c.id)
            if current is None:
                raise NotFound(f"No such container: {ref}")
            raw: dict[str, Any] = {}
            if current.state.Running and not current.state.Restarting:
                with contextlib.suppress(BargeError, OSError):
                    raw = self.pm.hook.barge_exec_stats(container_id=c.id, state_dir=self._state_dir(c)) or {}
            return metrics.stats_document(current, raw, self.ncpu)

        return c, sample

    # -- daemon start -----------------------------------------------------

    def recover(self) -> dict[str, int]:
        """Before serving: finish journaled creates/removals, reconcile running records, restart policies."""
        report = {"undone": 0, "removed": 0, "running": 0, "exited": 0, "lost": 0, "restarted": 0}
        for cid, op in self.store.pending():
            if op == "create":
                if self.store.get(cid) is None:
                    self._undo_create(cid)
                else:
                    self.store.drop_journal(cid)
                report["undone"] += 1
            else:
                c = self.store.get(cid)
                if c is None:
                    self.store.drop_journal(cid)
                    continue
                try:
                    self._finish_remove(c, volumes=False)
                    report["removed"] += 1
                except BargeError:
                    log.exception("finishing the removal of container %s failed", cid[:12])
        for c in self.store.all():
            if c.state.Running:
                self._reconcile_running(c, report)
            elif self.exec_driver is not None and self.store.state_dir(c.id).exists():
                self._exec_delete(c.id)  # a daemon killed mid-start left an instance behind
        if self.networks is not None:
            self.networks.recover({c.id for c in self.store.all() if c.state.Running})
        if self.exec_driver is not None:
            for c in self.store.all():
                if c.state.Running or c.state.StartedAt == "0001-01-01T00:00:00Z":
                    continue
                policy = c.host_config.get("RestartPolicy") or {}
                name = policy.get("Name") or "no"
                wanted = (name == "always" or (name == "unless-stopped" and not c.state.HasBeenManuallyStopped)
                          or (name == "on-failure" and c.state.ExitCode != 0 and not c.state.HasBeenManuallyStopped
                              and (not policy.get("MaximumRetryCount")
                                   or c.restart_count < int(policy["MaximumRetryCount"]))))
                if wanted:
                    try:
                        self.start(c.id)
                        report["restarted"] += 1
                    except BargeError as exc:
                        log.warning("restart policy at daemon start: container %s: %s", c.short_id, exc)
        return report

    def _reconcile_running(self, c: Container, report: dict[str, int]) -> None:
        if self.exec_driver is None:
            c.state.set_stopped(255, error="barge: no exec driver to reconcile this container with")
            self.store.save_state(c.id, c.state)
            report["lost"] += 1
            return
        if c.state.Restarting:
            c.state.set_stopped(c.state.ExitCode, c.state.FinishedAt)
            self.store.save_state(c.id, c.state)
            report["exited"] += 1
            return
        try:
            es = self.pm.hook.barge_exec_state(container_id=c.id, state_dir=self._state_dir(c))
        except Exception as exc:
            es = None
            reason = str(exc)
        else:
            reason = ""
        status = es.status if es is not None else "unknown"
        rt = self._rt(c.id)
        if status in ("running", "paused"):
            c.state.Pid = es.pid or c.state.Pid
            c.state.Paused = status == "paused"
            self.store.save_state(c.id, c.state)
            with rt.lock:
                rt.generation += 1
                self._watch(c.id, rt.generation)
            report["running"] += 1
            return
        if status == "stopped":
            code = 255 if es.exit_code is None else int(es.exit_code)
            c.state.set_stopped(code, es.finished_at or rfc3339_nano(), es.oom_killed, es.error)
            report["exited"] += 1
        else:
            c.state.set_stopped(255, error=f"barge: the exec driver lost this container ({status}{': ' + reason if reason else ''})")
            report["lost"] += 1
        self.store.save_state(c.id, c.state)
        self._exec_delete(c.id)
        self._event("die", c, exitCode=str(c.state.ExitCode))
        if c.host_config.get("AutoRemove"):
            with contextlib.suppress(BargeError):
                self.remove(c.id, force=True, volumes=True)
