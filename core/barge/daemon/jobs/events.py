"""The event hub's wiring and its one job: subscribing to ``GET /events``.

:func:`register` creates the :class:`barge.containers.events.EventsHub`,
registers it with the plugin manager (it implements the lifecycle hooks like
an extension plugin) and keeps it in ``services.extra["events"]``; the
volume store sends its events there too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from barge.containers.events import EventsHub
from barge.graph.filters import parse_filters

if TYPE_CHECKING:  # pragma: no cover
    from barge.daemon.services import Services
    from barge.engine import Engine


@dataclass
class SubscribeArgs:
    #: called with each new matching event (from whichever thread published it)
    deliver: Callable[[dict], None] = lambda msg: None
    filters: str | None = None
    since_ns: int | None = None


def hub_of(services: "Services") -> EventsHub:
    return services.extra["events"]


def make_hub(images, pm) -> EventsHub:
    """The hub, registered with the plugin manager (before containers are reconciled, so it sees it)."""
    hub = EventsHub(images)
    pm.register(hub, name="barge-events")
    return hub


def register(engine: "Engine", services: "Services") -> None:
    hub = services.extra.get("events")
    if hub is None:
        hub = services.extra["events"] = make_hub(services.images, services.pm)

    def subscribe(job):
        from barge.containers.events import EVENT_FILTERS

        a = job.args
        return hub.subscribe(a.deliver, parse_filters(a.filters, EVENT_FILTERS), a.since_ns)

    # returns (Subscription, backlog); the caller must hub.unsubscribe(subscription)
    engine.register("events_subscribe", SubscribeArgs, subscribe)
