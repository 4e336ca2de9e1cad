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
* lifecycle hooks (``barge_daemon_*``, ``barge_image_*``, ``barge_job_*``):
  notifications for extension plugins (events, metrics, audit); their return
  values are ignored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO, Iterator

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from barge.engine.job import Job
    from barge.graphdriver import Change, Mount

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
