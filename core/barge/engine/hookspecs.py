"""Every hook barge dispatches, in one place.

The engine never calls a driver directly: it calls ``pm.hook.<name>(...)``
and pluggy finds the one driver of each kind that configuration picked, plus
any extension plugins (entry-point group ``barge.plugins``). Hook arguments
are always passed by keyword.

Two kinds of hooks:

* driver hooks (``barge_graph_*``, ``barge_exec_*``, ``barge_network_*``):
  declared once, as the operations of the driver base classes
  (:class:`barge.graphdriver.base.GraphDriver`,
  :class:`barge.execdriver.base.ExecDriver`,
  :class:`barge.netdriver.base.NetworkDriver`), whose docstrings document
  them; the specifications below are generated from those classes by
  :func:`barge.hooks.hookspecs_for`. They are ``firstresult``: exactly one
  driver of a kind is registered and its answer is the answer; extension
  plugins may wrap them (``hookwrapper=True``) for audit or metrics.
* lifecycle hooks (``barge_daemon_*``, ``barge_image_*``, ``barge_job_*``,
  ``barge_container_*``), written out below: notifications that any number
  of extension plugins may implement (events, metrics, audit); their return
  values are ignored.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Callable

import pluggy

from barge.execdriver import base as exec_base
from barge.graphdriver import base as graph_base
from barge.hooks import PROJECT, hookimpl, hookspec, hookspecs_for
from barge.netdriver import base as network_base

if TYPE_CHECKING:  # pragma: no cover
    from barge.engine.job import Job

__all__ = ["PROJECT", "hookimpl", "hookspec", "GraphDriverHooks", "ExecDriverHooks", "NetworkDriverHooks",
           "DRIVER_HOOKSPECS", "add_hookspecs", "specs"]


# ---------------------------------------------------------------------------
# driver hooks, generated from the driver contracts
# ---------------------------------------------------------------------------

GraphDriverHooks = hookspecs_for(graph_base.GraphDriver, prefix=graph_base.HOOK_PREFIX)
ExecDriverHooks = hookspecs_for(exec_base.ExecDriver, prefix=exec_base.HOOK_PREFIX)
NetworkDriverHooks = hookspecs_for(network_base.NetworkDriver, prefix=network_base.HOOK_PREFIX)

DRIVER_HOOKSPECS = (GraphDriverHooks, ExecDriverHooks, NetworkDriverHooks)


def add_hookspecs(pm: pluggy.PluginManager) -> None:
    """Give ``pm`` every hook specification: the driver hooks and the lifecycle hooks."""
    for hooks in DRIVER_HOOKSPECS:
        pm.add_hookspecs(hooks)
    pm.add_hookspecs(sys.modules[__name__])


def specs() -> dict[str, Callable[..., object]]:
    """Every hook by name, with its specification (its docstring documents it)."""
    found: dict[str, Callable[..., object]] = {}
    for namespace in (*DRIVER_HOOKSPECS, sys.modules[__name__]):
        for name in dir(namespace):
            if name.startswith("barge_"):
                found[name] = getattr(namespace, name)
    return dict(sorted(found.items()))


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

    Actions: ``import``, ``load``, ``tag``, ``untag``, ``delete``, ``save``,
    ``pull``, ``push``, ``prune``. ``name`` is the reference the user gave, or
    the image id; for ``pull`` and ``push`` (one call per request) ``image_id``
    is that reference too, as dockerd names them; for ``prune`` ``image_id``
    is "" and ``name`` the bytes reclaimed.
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
    ``exec_start``, ``exec_die``, ``exec_detach``, ``detach``, ``top``,
    ``resize`` (``height``, ``width``), ``oom``, ``commit``, ``export``,
    ``update``, ``archive-path`` and ``extract-to-dir`` (cp, as Docker names
    them). ``attributes`` always holds ``name`` and ``image``, except for
    ``prune``: ``container_id`` "" and only ``reclaimed``.
    """
