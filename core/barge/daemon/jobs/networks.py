"""Network jobs: create, list, inspect, remove, prune, connect, disconnect.

Thin: each job parses the filters the API handed it, or takes the request
body it decoded, and calls :class:`barge.network.service.NetworkService`
(``services.networks``), which owns the records, addresses and drivers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from barge.errors import InvalidParameter, NotFound, Unavailable
from barge.graph.filters import parse_filters

if TYPE_CHECKING:  # pragma: no cover
    from barge.daemon.services import Services
    from barge.engine import Engine

#: The filters ``GET /networks`` and ``POST /networks/prune`` accept (moby's
#: ``acceptedNetworkFilters`` and the prune route's).
LIST_FILTERS = frozenset({"dangling", "driver", "id", "label", "name", "scope", "type"})
PRUNE_FILTERS = frozenset({"label", "label!", "until"})
SCOPES = ("local", "swarm", "global")


@dataclass
class NetworkCreateArgs:
    body: dict[str, Any] = field(default_factory=dict)


@dataclass
class NetworkFiltersArgs:
    filters: str | None = None


@dataclass
class NetworkInspectArgs:
    ref: str = ""
    verbose: bool = False
    scope: str = ""


@dataclass
class NetworkRefArgs:
    ref: str = ""


@dataclass
class NetworkAttachArgs:
    """connect/disconnect: the network and the request body (``Container`` ...)."""

    ref: str = ""
    body: dict[str, Any] = field(default_factory=dict)


def inspect(networks, ref: str, verbose: bool = False, scope: str = "") -> dict:
    """``GET /networks/{id}``: a network of another scope is not found, as moby answers."""
    if scope and scope not in SCOPES:
        raise InvalidParameter(f"invalid scope: {scope}")
    found = networks.inspect(ref, verbose)
    if scope and found.get("Scope", "local") != scope:
        raise NotFound(f"network {ref} not found")
    return found


def register(engine: "Engine", services: "Services") -> None:
    def service():
        """``services.networks``, looked up per job: the daemon may set it after registering."""
        networks = getattr(services, "networks", None)
        if networks is None:
            raise Unavailable("networking is not available on this daemon")
        return networks

    engine.register("network_create", NetworkCreateArgs, lambda job: service().create(job.args.body))
    engine.register("network_list", NetworkFiltersArgs,
                    lambda job: service().list(parse_filters(job.args.filters, LIST_FILTERS)))
    engine.register("network_inspect", NetworkInspectArgs,
                    lambda job: inspect(service(), job.args.ref, job.args.verbose, job.args.scope))
    engine.register("network_remove", NetworkRefArgs, lambda job: service().remove(job.args.ref))
    engine.register("network_prune", NetworkFiltersArgs,
                    lambda job: service().prune(parse_filters(job.args.filters, PRUNE_FILTERS)))
    engine.register("network_connect", NetworkAttachArgs,
                    lambda job: service().connect(job.args.ref, job.args.body))
    engine.register("network_disconnect", NetworkAttachArgs,
                    lambda job: service().disconnect(job.args.ref, job.args.body))
