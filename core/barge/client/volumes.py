"""Volume calls of the Engine API (create, ls, inspect, rm, prune).

Mixed into :class:`barge.client.api.Client`, which supplies ``request`` and
``get_json``.
"""

from __future__ import annotations

import json

from barge.client.query import _filters_json, _quote_all


class VolumeAPI:
    def create_volume(self, name: str = "", driver: str = "local", driver_opts: dict[str, str] | None = None,
                      labels: dict[str, str] | None = None) -> dict:
        body = {"Name": name, "Driver": driver, "DriverOpts": driver_opts or {}, "Labels": labels or {}}
        return self.request("POST", "/volumes/create", None, json.dumps(body).encode(),
                            {"Content-Type": "application/json"}).json() or {}

    def volumes(self, filters: dict[str, list[str]] | None = None) -> dict:
        return self.get_json("/volumes", {"filters": _filters_json(filters)}) or {}

    def inspect_volume(self, name: str) -> dict:
        return self.get_json(f"/volumes/{_quote_all(name)}")

    def remove_volume(self, name: str, force: bool = False) -> None:
        self.request("DELETE", f"/volumes/{_quote_all(name)}", {"force": "1" if force else None}).close()

    def prune_volumes(self, filters: dict[str, list[str]] | None = None) -> dict:
        return self.request("POST", "/volumes/prune", {"filters": _filters_json(filters)}).json() or {}
