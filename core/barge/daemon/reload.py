"""SIGHUP: read the configuration file again, as dockerd's ``Reload`` does.

What changes (:data:`barge.config.RELOADABLE`): ``debug`` (the log level
at once), ``labels`` (``info``), and the ``[registry]`` settings (the next
pull, push, search or login reads them). A file that does not parse or
check changes nothing and is logged, as dockerd logs "Error reconfiguring
the daemon". Each reload is the ``daemon reload`` event, whose attributes
are dockerd's for these settings (lists as JSON, as Go marshals them), the
daemon's ``name`` (the host name) and ``live-restore`` (barge has none:
``info`` says ``LiveRestoreEnabled: false``). dockerd's attributes for
settings barge does not have (runtimes, shm size, cluster store, ...) are
not invented.
"""

from __future__ import annotations

import json
import logging
import socket
from typing import TYPE_CHECKING

from barge.config import reload_file
from barge.errors import BargeError

if TYPE_CHECKING:  # pragma: no cover
    from barge.daemon.services import Services

log = logging.getLogger("barge.daemon")


def _json(value) -> str:
    return json.dumps(value, separators=(",", ":"))


def reload_attributes(services: "Services") -> dict[str, str]:
    """The ``daemon reload`` event's attributes for the configuration now in force."""
    cfg = services.config
    reg = cfg.registry
    return {
        "allow-nondistributable-artifacts": "[]",
        "debug": "true" if cfg.debug else "false",
        "insecure-registries": _json(list(reg.insecure_registries)),
        "labels": _json(list(cfg.labels)),
        "live-restore": "false",
        "max-concurrent-downloads": str(reg.max_concurrent_downloads),
        "max-concurrent-uploads": str(reg.max_concurrent_uploads),
        "name": socket.gethostname(),
        "registry-mirrors": _json(list(reg.registry_mirrors)),
    }


def reload(services: "Services") -> bool:
    """Apply the file's reloadable settings and announce them; False (nothing changed) when the file is bad."""
    cfg = services.config
    try:
        reload_file(cfg)
    except (BargeError, OSError) as exc:
        log.error("Error reconfiguring the daemon: %s", exc)
        return False
    logging.getLogger().setLevel(logging.DEBUG if cfg.debug else logging.INFO)
    services.events.publish("daemon", "reload", services.engine_id, reload_attributes(services))
    log.info("Reloaded configuration: %s", cfg.config_file)
    return True
