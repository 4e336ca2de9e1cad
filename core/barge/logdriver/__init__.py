"""Log drivers: where a container's output goes, a plugin kind like graph, exec and network drivers.

A driver is a :class:`~barge.logdriver.base.LogDriver` subclass registered
in the ``barge.log_drivers`` entry-point group; barge's own (``json-file``,
``local``, ``syslog``, ``none``) are registered by the ``barge`` package
itself, as dockerd ships them built in. Unlike the daemon-wide drivers, a
log driver is per container and runs in the container's monitor (which
outlives the daemon), so it is loaded by name with importlib.metadata, not
through pluggy. The daemon uses this package to check options at create
(:func:`validate`), to name the drivers (:func:`log_driver_names`) and to
read logs back (:mod:`barge.logdriver.reader`).

* :mod:`.base` - the contract: Message, LogInfo, LogDriver, FileFormat;
* :mod:`.copier` - output cut into messages, and :func:`open_logger` for monitors;
* :mod:`.logfile` - rotation and gzip of rotated files;
* :mod:`.jsonfile`, :mod:`.local`, :mod:`.syslog`, :mod:`.none` - the built-in drivers;
* :mod:`.protobuf` - the local format's records; :mod:`.tag` - ``tag``/``labels``/``env``;
* :mod:`.options` - options every driver takes; :mod:`.reader` - ``docker logs``.
"""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING, Mapping

from barge.logdriver.base import API_VERSION, LogDriver, LogDriverError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

GROUP = "barge.log_drivers"
#: dockerd's default, and the one a container gets when it names none.
DEFAULT_DRIVER = "json-file"
#: Not listed as a plugin by dockerd (``Plugins.Log``): it is the absence of a logger.
UNLISTED = frozenset({"none"})
#: dockerd's dual-logging cache of a container whose driver cannot be read back.
CACHE_FILE = "container-cached.log"


class UnknownLogDriver(LogDriverError):
    """No driver of that name is installed."""


@functools.cache
def _registered() -> dict[str, "EntryPoint"]:
    """The group's entry points, read once per process (like the daemon-wide drivers, a driver
    installed later is seen after a restart). Monitors never read them: the daemon puts the
    driver's entry point in the spec, so a monitor imports the driver's module and nothing else."""
    from importlib.metadata import entry_points

    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        found.setdefault(ep.name, ep)
    return found


def entry_point(name: str) -> str:
    """Driver ``name``'s entry point (``module:Class``), for a monitor's spec; UnknownLogDriver if none."""
    if name not in _registered():
        raise UnknownLogDriver(f'error looking up logging plugin {name}: plugin "{name}" not found')
    return _registered()[name].value


@functools.cache
def load_entry_point(value: str) -> type[LogDriver]:
    """The driver class an entry point names, checked against this contract's version."""
    module, _, attr = value.partition(":")
    try:
        obj = importlib.import_module(module.strip())
        for part in attr.strip().split(".") if attr.strip() else []:
            obj = getattr(obj, part)
    except Exception as exc:  # a broken driver package: say which
        raise LogDriverError(f"log driver {value} failed to load: {exc}") from exc
    if not (isinstance(obj, type) and issubclass(obj, LogDriver)):
        raise LogDriverError(f"log driver {value} is not a barge.logdriver.base.LogDriver")
    if obj.api_version != API_VERSION:
        raise LogDriverError(f"log driver {value}: built for contract version {obj.api_version}, "
                             f"barge speaks {API_VERSION}")
    return obj


def driver_names() -> list[str]:
    """Every installed log driver's name, sorted (``none`` included)."""
    return sorted(_registered())


def log_driver_names() -> list[str]:
    """The log drivers as dockerd lists them (``docker info``'s ``Plugins.Log``, ``GET /plugins``): all but ``none``."""
    return [n for n in driver_names() if n not in UNLISTED]


def driver_class(name: str) -> type[LogDriver]:
    """The driver class registered as ``name``; UnknownLogDriver (dockerd's text) when there is none."""
    return load_entry_point(entry_point(name))


def validate(name: str, opts: Mapping[str, str]) -> None:
    """dockerd's create-time checks of a LogConfig: the driver exists, and its options (LogDriverError)."""
    from barge.logdriver.options import BUILTIN_OPTS, validate_builtin

    cls = driver_class(name)
    own = {k: v for k, v in opts.items() if k not in BUILTIN_OPTS}
    cls.validate(own)
    validate_builtin(opts)


def log_paths(name: str, opts: Mapping[str, str], container_dir: str, container_id: str) -> tuple[str, str]:
    """(the file driver ``name`` writes, the dual-logging cache it gets) under the container's directory.

    A driver ``docker logs`` cannot read gets dockerd 20.10's cache (the
    ``local`` format in ``container-cached.log``) unless ``cache-disabled``;
    ``none`` gets neither. '' stands for no file.
    """
    from barge.logdriver.options import cache_options

    if name in UNLISTED:
        return "", ""
    cls = driver_class(name)
    own = f"{container_dir}/{cls.file_name.format(id=container_id)}" if cls.file_name else ""
    if cls.file_format is not None or cache_options(opts) is None:
        return own, ""
    return own, f"{container_dir}/{CACHE_FILE}"
