"""Network jobs: create, list, inspect, remove, prune, connect, disconnect.

Thin: each job parses the filters the API handed it, or takes the request
body it decoded, and calls :class:`barge.network.service.NetworkService`
(``services.networks``), which hands it to the network records
(:mod:`barge.network.networks`) or to connect/disconnect (:mod:`barge.network.attachments`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from barge.contracts.networks import (
    NetworkAttachArgs,
    NetworkCreateArgs,
    NetworkFiltersArgs,
    NetworkInspectArgs,
    NetworkRefArgs,
)
from barge.errors import InvalidParameter, NotFound
from barge.filters import parse_filters

if TYPE_CHECKING:  # pragma: no cover
    from barge.daemon.services import Services
    from barge.engine import Engine

#: The filters ``GET /networks`` and ``POST /networks/prune`` accept (moby's
#: ``acceptedNetworkFilters`` and the prune route's).
LIST_FILTERS = frozenset({"dangling", "driver", "id", "label", "name", "scope", "type"})
PRUNE_FILTERS = frozenset({"label", "label!", "until"})
SCOPES = ("local", "swarm", "global")


def inspect(networks, ref: str, verbose: bool = False, scope: str = "") -> dict:
    """``GET /networks/{id}``: a network of another scope is not found, as moby answers."""
    if scope and scope not in SCOPES:
        raise InvalidParameter(f"invalid scope: {scope}")
    found = networks.inspect(ref, verbose)
    if scope and found.get("Scope", "local") != scope:
        raise NotFound(f"network {ref} not found")
    return found


def register(engine: "Engine", services: "Services") -> None:
    networks = services.networks

    engine.register("network_create", NetworkCreateArgs, lambda job: networks.create(job.args.body))
    engine.register("network_list", NetworkFiltersArgs,
                    lambda job: networks.list(parse_filters(job.args.filters, LIST_FILTERS)))
    engine.register("network_inspect", NetworkInspectArgs,
                    lambda job: inspect(networks, job.args.ref, job.args.verbose, job.args.scope))
    engine.register("network_remove", NetworkRefArgs, lambda job: networks.remove(job.args.ref))
    engine.register("network_prune", NetworkFiltersArgs,
                    lambda job: networks.prune(parse_filters(job.args.filters, PRUNE_FILTERS)))
    engine.register("network_connect", NetworkAttachArgs,
                    lambda job: networks.connect(job.args.ref, job.args.body))
    engine.register("network_disconnect", NetworkAttachArgs,
                    lambda job: networks.disconnect(job.args.ref, job.args.body))
