"""barge's libcontainer: namespaces, root file system, devices, capabilities,
rlimits, users and cgroups (v1, hybrid, v2) for one container, in Python.

The monitor calls :func:`spawn_init` (then :meth:`Init.start`) and
:func:`spawn_exec`, and drives the container's :class:`Cgroup`. Kernel calls
live in :mod:`.syscalls`; nothing here runs an external binary.
"""

from barge_exec_native.libcontainer.cgroups import Cgroup
from barge_exec_native.libcontainer.errors import ContainerError, ExecFailed
from barge_exec_native.libcontainer.process import Init, Stdio, spawn_exec, spawn_init

__all__ = ["Cgroup", "ContainerError", "ExecFailed", "Init", "Stdio", "spawn_exec", "spawn_init"]
