"""The one event job: subscribing to ``GET /events``.

The hub (:class:`barge.containers.events.EventsHub`, ``services.events``)
is built and registered with the plugin manager by the daemon's composition
root; the subscription returned is an
:class:`barge.contracts.events.EventSubscription` the route closes when
its client goes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from barge.containers.events import Feed
from barge.contracts.events import SubscribeArgs
from barge.filters import parse_filters

if TYPE_CHECKING:  # pragma: no cover
    from barge.daemon.services import Services
    from barge.engine import Engine


def register(engine: "Engine", services: "Services") -> None:
    hub = services.events

    def subscribe(job) -> Feed:
        a = job.args
        sub, backlog = hub.subscribe(a.deliver, parse_filters(a.filters, None), a.since_ns)
        return Feed(hub, sub, backlog)

    engine.register("events_subscribe", SubscribeArgs, subscribe)
