"""Every hook barge dispatches, in one place.

Drivers and extension plugins implement these with ``@barge.engine.hookimpl``.
The engine never calls a driver directly: it calls ``pm.hook.<name>(...)``
and pluggy finds the one driver of each kind that configuration picked, plus
any extension plugins (entry-point group ``barge.plugins``).

Driver hooks are ``firstresult``: exactly one driver of a kind is registered,
and its answer is the answer. Hook arguments are always passed by keyword.

Sections:

* graph driver hooks (``barge_graph_*``): the storage contract, after moby's
  ``graphdriver.Driver``; a layer is named by an opaque ``layer_id`` (the
  driver's cache id), never by content digest.
* exec driver hooks (``barge_exec_*``): running containers, after moby's
  execdriver and runc's create/start/state/kill/delete; a container is named
  by its id and described by a :class:`barge.execdriver.ContainerSpec`.
* network driver hooks (``barge_network_*``): bridges, links, addresses
  and firewall rules, after libnetwork's driver API; the data is in
  :mod:`barge.netdriver`.
* lifecycle hooks (``barge_daemon_*``, ``barge_image_*``, ``barge_job_*``,
  ``barge_container_*``):
  notifications for extension plugins (events, metrics, audit); their return
  values are ignored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO, Iterator

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from barge.engine.job import Job
    from barge.execdriver import ContainerSpec, ExecState, ProcessSpec, Resources
    from barge.graphdriver import Change, Mount
    from barge.netdriver import EndpointSpec, NetworkSpec, PortMapping, Published

PROJECT = "barge"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---------------------------------------------------------------------------
# graph driver: the proto half (create, remove, get/put, exists, status)
# ---------------------------------------------------------------------------


@hookspec(firstresult=True)
def barge_graph_create(layer_id: str, parent: str | None) -> bool | None:
    """Create an empty read-only image layer ``layer_id`` on top of ``parent``.

    Called by the graph before a layer tar is applied with
    :func:`barge_graph_apply_diff`. ``parent`` is the layer id of the layer
    below, or ``None`` for a base layer. Raises ``FileExistsError`` when the
    layer exists and ``barge.errors.NotFound`` when ``parent`` does not.
    Returns nothing.
    """


@hookspec(firstresult=True)
def barge_graph_create_rw(layer_id: str, parent: str | None) -> bool | None:
    """Create a writable layer (a container's root file system) on ``parent``.

    Like :func:`barge_graph_create`, but the layer will be mounted
    read-write and is never the parent of another layer. Returns nothing.
    """


@hookspec(firstresult=True)
def barge_graph_remove(layer_id: str) -> bool | None:
    """Remove layer ``layer_id`` and everything the driver keeps for it.

    Idempotent: removing a layer that does not exist succeeds. Called after
    the graph db no longer references the layer, and when cleaning up a
    layer whose creation did not finish. Returns nothing.
    """


@hookspec(firstresult=True)
def barge_graph_get(layer_id: str) -> list[Mount]:
    """Describe how to mount the layer's full file system; mount nothing.

    Returns a list of :class:`barge.graphdriver.Mount` (type, source,
    options), applied in order onto one target, as containerd snapshotters
    return ``[]mount.Mount``. Whoever needs the files performs the mounts:
    the exec driver inside a container's own mount namespace, or core's
    mount helper for cp, commit and export. Reference counted together with
    :func:`barge_graph_put`. Raises ``barge.errors.NotFound`` for an unknown
    layer.
    """


@hookspec(firstresult=True)
def barge_graph_put(layer_id: str) -> bool | None:
    """Release one reference taken by :func:`barge_graph_get`. Returns nothing."""


@hookspec(firstresult=True)
def barge_graph_exists(layer_id: str) -> bool:
    """Return whether the driver holds layer ``layer_id``."""


@hookspec(firstresult=True)
def barge_graph_status() -> list[tuple[str, str]]:
    """Return (key, value) pairs describing the driver, shown by ``barge info``.

    For example ``[("Backing Filesystem", "extfs"), ("Supports d_type",
    "true")]``.
    """


@hookspec(firstresult=True)
def barge_graph_metadata(layer_id: str) -> dict[str, str]:
    """Return driver details of one layer, shown as ``GraphDriver.Data``.

    For overlay: ``LowerDir``, ``UpperDir``, ``WorkDir``, ``MergedDir``.
    """


@hookspec(firstresult=True)
def barge_graph_cleanup() -> bool | None:
    """Release what the driver holds at daemon shutdown. Returns nothing."""


@hookspec(firstresult=True)
def barge_graph_name() -> str:
    """Return the driver's short, user-visible name (``overlay``, ``vfs``)."""


@hookspec(firstresult=True)
def barge_graph_capabilities() -> frozenset[str]:
    """Return the driver's capabilities, constants from ``barge.graphdriver``.

    For example ``{NATIVE_DIFF}`` when diffs do not go through the shared
    naive implementation.
    """


# ---------------------------------------------------------------------------
# graph driver: the diff half (a shared naive implementation exists in core)
# ---------------------------------------------------------------------------


@hookspec(firstresult=True)
def barge_graph_diff(layer_id: str, parent: str | None) -> Iterator[bytes]:
    """Return the changes of ``layer_id`` against ``parent`` as a tar stream.

    The tar is uncompressed and uses ``.wh.<name>`` whiteouts and
    ``.wh..wh..opq`` opaque-directory markers, as Docker layers do. With
    ``parent`` ``None`` the tar holds the whole file system. Yields chunks of
    bytes.
    """


@hookspec(firstresult=True)
def barge_graph_changes(layer_id: str, parent: str | None) -> list[Change]:
    """Return the paths changed in ``layer_id`` against ``parent``.

    A list of :class:`barge.graphdriver.Change` (path, kind: modify, add,
    delete), sorted by path; the answer of ``docker diff``.
    """


@hookspec(firstresult=True)
def barge_graph_apply_diff(layer_id: str, parent: str | None, stream: BinaryIO) -> int:
    """Unpack a layer tar from ``stream`` into the empty layer ``layer_id``.

    The tar is uncompressed and untrusted: entries that would land outside
    the layer (``..``, absolute paths, symlink escapes) must not be written
    outside it. Whiteouts and opaque markers are converted to the driver's
    own form. Returns the size in bytes of the unpacked content.
    """


@hookspec(firstresult=True)
def barge_graph_diff_size(layer_id: str, parent: str | None) -> int:
    """Return the size in bytes of the changes of ``layer_id`` against ``parent``."""


# ---------------------------------------------------------------------------
# exec driver: containers as processes under a monitor that outlives the daemon
# ---------------------------------------------------------------------------


@hookspec(firstresult=True)
def barge_exec_name() -> str:
    """Return the exec driver's short, user-visible name (``native``)."""


@hookspec(firstresult=True)
def barge_exec_create(spec: ContainerSpec, state_dir: str) -> int:
    """Create the container described by ``spec``, stopped before its process runs.

    Starts the container's monitor (detached from the daemon, so it survives
    a daemon restart), which creates the namespaces, puts the init process in
    its cgroup, mounts the root file system and the mounts, pivots into it,
    drops privileges, and waits. ``state_dir`` is the container's runtime
    directory (see :mod:`barge.execdriver`); the driver writes
    ``spec.json``, ``monitor.pid``, ``attach.sock`` and later ``exit.json``
    there. Returns the init's host pid. Raises ``barge.errors.BargeError``
    subclasses with a clear message for a spec that cannot run (bad mount
    source: ``InvalidParameter``), leaving nothing behind.
    """


@hookspec(firstresult=True)
def barge_exec_start(container_id: str, state_dir: str) -> bool | None:
    """Let a created container exec its process (runc's ``start``).

    Raises ``barge.errors.BargeError`` with exit-code semantics Docker uses:
    the message says "executable file not found" (127) or "permission
    denied" (126) when the command cannot be run. Returns nothing.
    """


@hookspec(firstresult=True)
def barge_exec_state(container_id: str, state_dir: str) -> ExecState:
    """Return the container's :class:`barge.execdriver.ExecState`.

    Works after a daemon restart: the state comes from the monitor and its
    files, not from the daemon's memory. ``status`` is ``unknown`` when the
    state dir holds nothing the driver recognises.
    """


@hookspec(firstresult=True)
def barge_exec_wait(container_id: str, state_dir: str, timeout: float | None) -> ExecState | None:
    """Block until the container's init exited (or ``timeout`` seconds passed).

    Returns the final state, or ``None`` on timeout. Called from a worker
    thread; must not hold locks the other hooks need.
    """


@hookspec(firstresult=True)
def barge_exec_kill(container_id: str, state_dir: str, signal: int) -> bool | None:
    """Send ``signal`` to the container's init (never to a recycled pid).

    Raises ``barge.errors.Conflict`` when the container is not running.
    """


@hookspec(firstresult=True)
def barge_exec_pause(container_id: str, state_dir: str) -> bool | None:
    """Freeze every process of the container (cgroup freezer)."""


@hookspec(firstresult=True)
def barge_exec_resume(container_id: str, state_dir: str) -> bool | None:
    """Thaw a paused container."""


@hookspec(firstresult=True)
def barge_exec_delete(container_id: str, state_dir: str) -> bool | None:
    """Release everything the driver holds for a stopped container.

    Kills what is left of its processes, ends its monitor, removes its
    cgroups and the state dir. Idempotent.
    """


@hookspec(firstresult=True)
def barge_exec_exec(container_id: str, state_dir: str, exec_id: str, process: ProcessSpec) -> int:
    """Run ``process`` inside the running container's namespaces and cgroup.

    The monitor owns its stdio like the init's; clients reach it through
    the attach socket with ``exec_id``. Returns the process's host pid.
    """


@hookspec(firstresult=True)
def barge_exec_exec_state(container_id: str, state_dir: str, exec_id: str) -> ExecState:
    """Return the state of an exec'd process (``running`` or ``stopped`` with its exit code)."""


@hookspec(firstresult=True)
def barge_exec_processes(container_id: str, state_dir: str) -> list[int]:
    """Return the host pids of every process in the container (``top``)."""


@hookspec(firstresult=True)
def barge_exec_stats(container_id: str, state_dir: str) -> dict:
    """Return cgroup figures in Docker's stats shape.

    Keys: ``memory_stats`` (``usage``, ``limit``, ``stats``), ``cpu_stats``
    (``cpu_usage.total_usage`` ns, ``system_cpu_usage``, ``online_cpus``),
    ``pids_stats`` (``current``, ``limit``).
    """


@hookspec(firstresult=True)
def barge_exec_update(container_id: str, state_dir: str, resources: Resources) -> bool | None:
    """Change the cgroup limits of a container, created or running."""


@hookspec(firstresult=True)
def barge_exec_status() -> list[tuple[str, str]]:
    """Return (key, value) pairs for ``barge info`` (cgroup version, driver...)."""


# ---------------------------------------------------------------------------
# network driver (see barge.netdriver for the data and who owns what)
# ---------------------------------------------------------------------------


@hookspec(firstresult=True)
def barge_network_name() -> str:
    """Return the driver's name (``bridge``), as ``network create -d`` names it."""


@hookspec(firstresult=True)
def barge_network_status() -> list[tuple[str, str]]:
    """Return (key, value) pairs for ``barge info``; includes ``("Firewall Backend", name)``."""


@hookspec(firstresult=True)
def barge_network_create(network: NetworkSpec) -> bool | None:
    """Make ``network`` exist on the host: its interface up with the gateway
    address, and its firewall rules. Idempotent: an interface already there
    is reused. Raises ``barge.errors.BargeError`` with the reason when the
    host refuses (the network is then not recorded).
    """


@hookspec(firstresult=True)
def barge_network_delete(network: NetworkSpec) -> bool | None:
    """Remove ``network``'s interface and rules; nothing left is not an error."""


@hookspec(firstresult=True)
def barge_network_join(network: NetworkSpec, endpoint: EndpointSpec, sandbox: str) -> bool | None:
    """Give the sandbox (a network namespace file) ``endpoint``'s interface:
    named ``endpoint.ifname``, with its address, MAC, the network's MTU, up,
    and a default route via ``endpoint.gateway`` when that is set. The
    sandbox's loopback is up already (core brings it up).
    """


@hookspec(firstresult=True)
def barge_network_leave(network: NetworkSpec, endpoint: EndpointSpec, sandbox: str | None) -> bool | None:
    """Take ``endpoint`` out: ``sandbox`` is its namespace file when the
    container goes on running (``network disconnect``), or ``None`` when the
    whole sandbox is being destroyed (the kernel then removes the links with
    it; the driver drops only its own records and rules).
    """


@hookspec(firstresult=True)
def barge_network_publish(network: NetworkSpec, endpoint: EndpointSpec, ports: list[PortMapping]) -> bool | None:
    """Forward the host ports in ``ports`` (reserved by core) to ``endpoint``."""


@hookspec(firstresult=True)
def barge_network_unpublish(network: NetworkSpec, endpoint: EndpointSpec, ports: list[PortMapping]) -> bool | None:
    """Stop forwarding ``ports``; rules already gone are not an error."""


@hookspec(firstresult=True)
def barge_network_restore(networks: list[NetworkSpec], published: list[Published]) -> bool | None:
    """Daemon start: make the host match exactly ``networks`` (interfaces
    present, up, addressed) and the firewall match ``networks`` plus
    ``published`` (rebuilt from nothing, atomically where the backend can).
    """


# ---------------------------------------------------------------------------
# lifecycle: notifications for extension plugins
# ---------------------------------------------------------------------------


@hookspec
def barge_daemon_started(info: dict) -> None:
    """Called once the daemon serves its API; ``info`` is what ``/info`` returns."""


@hookspec
def barge_daemon_stopping() -> None:
    """Called when the daemon begins a clean shutdown (SIGTERM, SIGINT)."""


@hookspec
def barge_image_event(action: str, image_id: str, name: str) -> None:
    """Called after an image changed; ``action`` is Docker's event action.

    Actions: ``import``, ``load``, ``tag``, ``untag``, ``delete``, ``save``.
    ``name`` is the reference the user gave, or the image id.
    """


@hookspec
def barge_job_started(job: Job) -> None:
    """Called before the engine runs ``job``'s handler (audit, metrics)."""


@hookspec
def barge_job_finished(job: Job) -> None:
    """Called after ``job``'s handler returned or raised; see ``job.status``."""


@hookspec
def barge_container_event(action: str, container_id: str, attributes: dict) -> None:
    """Called after a container changed; ``action`` is Docker's event action.

    Actions: ``create``, ``start``, ``die`` (attributes carry ``exitCode``),
    ``stop``, ``kill`` (``signal``), ``pause``, ``unpause``, ``restart``,
    ``rename`` (``oldName``), ``destroy``, ``attach``, ``exec_create``,
    ``exec_start``, ``exec_die``, ``oom``, ``commit``, ``export``, ``update``,
    ``archive-path`` and ``extract-to-dir`` (cp, as Docker names them).
    ``attributes`` always holds ``name`` and ``image``.
    """
