"""The daemon's event stream (``GET /events``), fed by the lifecycle hooks.

:class:`EventsHub` is an in-daemon plugin: it implements
``barge_container_event`` and ``barge_image_event`` like any extension
plugin, turns each call into Docker's event message, keeps the last
:data:`BACKLOG` of them (for ``since``) and hands each to the live
subscribers. Volume events come from the volume store directly
(:meth:`EventsHub.volume_event`), network events from the network service,
and ``daemon reload`` from :mod:`barge.daemon.reload` (:meth:`EventsHub.publish`).

Message shape (Docker 28): ``{"status", "id", "from", "Type", "Action",
"Actor": {"ID", "Attributes"}, "scope": "local", "time", "timeNano"}``; the
legacy ``status``/``id`` (and ``from``, the image, for containers) are set
for container and image events only, as moby's ``events.Log`` does.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from barge.contracts.events import encode, parse_time  # noqa: F401 (the stream's wire helpers, kept importable here)
from barge.filters import labels_match
from barge.hooks import hookimpl

#: Events kept for ``since`` (moby keeps 256; a few more cost little).
BACKLOG = 1024
_FUZZY_EVENTS = ("health_status", "exec_create", "exec_start")
#: Image events whose actor is the reference the client named, not an image id.
_BY_REFERENCE = frozenset({"pull", "push"})


def _strip_tag(name: str) -> str:
    if "@" in name:
        return name.split("@", 1)[0]
    head, sep, tail = name.rpartition(":")
    if sep and "/" not in tail:
        return head
    return name


def _fuzzy(values: list[str], source: str) -> bool:
    return any(source == v or (source and source.startswith(v)) for v in values)


def matches(msg: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    """moby's ``events.Filter.Include``."""
    if not filters:
        return True
    actor = msg["Actor"]
    attrs = actor.get("Attributes") or {}
    action = msg["Action"]
    if "event" in filters:
        wanted = filters["event"]
        if any(v in _FUZZY_EVENTS for v in wanted):
            if not _fuzzy(wanted, action):
                return False
        elif action not in wanted:
            return False
    if "type" in filters and msg["Type"] not in filters["type"]:
        return False
    if "scope" in filters and msg.get("scope", "local") not in filters["scope"]:
        return False
    for key in ("container", "volume", "network", "plugin", "daemon", "node", "service", "secret", "config"):
        if key in filters and not (_fuzzy(filters[key], actor["ID"]) or _fuzzy(filters[key], attrs.get("name", ""))):
            return False
    if "image" in filters:
        name = attrs.get("name" if msg["Type"] == "image" else "image", "")
        wanted = filters["image"]
        if not any(v in wanted for v in (actor["ID"], name, _strip_tag(actor["ID"]), _strip_tag(name))):
            return False
    if "label" in filters and not labels_match(attrs, filters["label"]):
        return False
    return True


@dataclass
class Subscription:
    deliver: Callable[[dict], None]
    filters: dict[str, list[str]] = field(default_factory=dict)


class EventsHub:
    def __init__(self, images=None, backlog: int = BACKLOG):
        self.images = images
        self._lock = threading.Lock()
        self._recent: collections.deque = collections.deque(maxlen=backlog)
        self._subs: list[Subscription] = []

    # -- sources ------------------------------------------------------------

    @hookimpl
    def barge_container_event(self, action: str, container_id: str, attributes: dict) -> None:
        self.publish("container", action, container_id, attributes)

    @hookimpl
    def barge_image_event(self, action: str, image_id: str, name: str) -> None:
        """dockerd 20.10's image events: ``name`` is the reference only for ``tag``; ``pull`` and
        ``push`` are the reference asked for (its repository as ``name``), without the image's labels."""
        if action in _BY_REFERENCE:
            self.publish("image", action, name, {"name": _strip_tag(name)})
            return
        if action == "prune":  # no actor; ``name`` carries the bytes reclaimed
            self.publish("image", action, "", {"reclaimed": name})
            return
        attrs: dict[str, Any] = {}
        if self.images is not None and action != "delete":
            try:
                img = self.images.get(image_id)
                if img is not None:
                    attrs.update(img.labels)
            except Exception:  # noqa: BLE001 - the store may be closing; the event still goes out
                pass
        attrs["name"] = name if action == "tag" else image_id
        self.publish("image", action, image_id, attrs)

    def volume_event(self, action: str, name: str, attributes: dict) -> None:
        self.publish("volume", action, name, attributes)

    # -- fan-out --------------------------------------------------------------

    def publish(self, kind: str, action: str, actor_id: str, attributes: dict) -> dict[str, Any]:
        now = time.time_ns()
        attrs = {str(k): str(v) for k, v in (attributes or {}).items()}
        msg: dict[str, Any] = {}
        if kind in ("container", "image"):
            msg["status"] = action
            msg["id"] = actor_id
            if kind == "container" and attrs.get("image"):
                msg["from"] = attrs["image"]
        msg.update({"Type": kind, "Action": action, "Actor": {"ID": actor_id, "Attributes": attrs},
                    "scope": "local", "time": now // 1_000_000_000, "timeNano": now})
        with self._lock:
            self._recent.append(msg)
            subs = list(self._subs)
        for sub in subs:
            if matches(msg, sub.filters):
                try:
                    sub.deliver(msg)
                except Exception:  # noqa: BLE001 - a subscriber gone mid-delivery must not stop the others
                    pass
        return msg

    def subscribe(self, deliver: Callable[[dict], None], filters: dict[str, list[str]] | None = None,
                  since_ns: int | None = None) -> tuple[Subscription, list[dict]]:
        """Register a live subscriber; return it with the kept events from ``since_ns`` on (no gap, no repeat)."""
        filters = filters or {}  # any key, as dockerd 20.10 takes them: one no event has filters nothing
        sub = Subscription(deliver, filters)
        with self._lock:
            backlog = [] if since_ns is None else [m for m in self._recent
                                                  if m["timeNano"] >= since_ns and matches(m, filters)]
            self._subs.append(sub)
        return sub, backlog

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def listeners(self) -> int:
        """Live subscriptions (``NEventsListener``)."""
        with self._lock:
            return len(self._subs)

    def recent(self) -> list[dict]:
        with self._lock:
            return list(self._recent)


@dataclass
class Feed:
    """A subscription as ``events_subscribe`` hands it out (:class:`barge.contracts.events.EventSubscription`)."""

    hub: EventsHub
    subscription: Subscription
    backlog: list[dict]

    def close(self) -> None:
        self.hub.unsubscribe(self.subscription)
