"""``POST /containers/create``: a record and a rw layer; nothing runs yet.

The request is normalised (:mod:`.request`, checked against the machine),
the name reserved, and the creation journaled: the journal row is committed
before the rw layer or the container's directory exist, so a daemon killed
midway undoes it at its next start (:meth:`Creator.undo`).
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import socket
import threading
import time
from pathlib import Path
from typing import Any

from barge.containers import links, names, propagation, sharing, volumes_from
from barge.containers.context import ContainerContext
from barge.containers.logs import with_default_log
from barge.containers.request import Normalized, command_of, mount_points, normalize_create
from barge.containers.state import State
from barge.containers.store import Container, name_in_use
from barge.errors import InvalidParameter, NotFound
from barge.timefmt import rfc3339_nano

log = logging.getLogger("barge.containers")


class Creator:
    def __init__(self, ctx: ContainerContext):
        self.ctx = ctx
        #: generated names handed to creates not yet recorded: two concurrent creates drew the same
        #: one about twice in 200 (moby's name registrar reserves them the same way)
        self._reserved: set[str] = set()
        self._reserving = threading.Lock()

    def create(self, body: dict[str, Any], name: str = "") -> dict[str, Any]:
        """``POST /containers/create`` (``body`` decoded): a record and a rw layer; nothing runs yet."""
        ctx = self.ctx
        ctx.require_driver()
        image_ref = body.get("Image") or ""
        if not image_ref:
            raise InvalidParameter("Config cannot be empty in order to create a container")
        img = ctx.images.resolve(image_ref)
        body = with_default_log(body, ctx.default_log)
        norm = normalize_create(body, (img.config or {}).get("config"), exists=os.path.exists, sysinfo=ctx.sysinfo)
        full_name = self._name(name)
        try:
            return self._create(body, full_name, image_ref, img, norm)
        finally:
            if not name:
                with self._reserving:
                    self._reserved.discard(full_name)

    def _create(self, body: dict[str, Any], full_name: str, image_ref: str, img, norm: Normalized) -> dict[str, Any]:
        ctx = self.ctx
        cid = secrets.token_hex(32)
        host = norm.host_config
        sharing.check_network_join(body, host)  # the request's fields, not the image's
        sharing.resolve_create_modes(host, ctx.get)
        if ctx.networking is not None:
            norm.networking_config = ctx.networking.check_create(full_name, norm.config, host, norm.networking_config)
        elif host["NetworkMode"] not in ("none", "host") and not host["NetworkMode"].startswith("container:"):
            raise NotFound(f"network {host['NetworkMode']} not found")
        sharing.check_exposure(body, host)
        children = links.resolve_children(host, ctx.get)
        c = self._record(cid, full_name, image_ref, img, norm)
        top = ctx.images.layers.get(img.top_layer) if img.top_layer else None
        self._materialize(c, top.cache_id if top else None, children)
        ctx.event("create", c)
        return {"Id": cid, "Warnings": norm.warnings}

    def _name(self, name: str) -> str:
        """The requested name checked and free, or a generated one."""
        store = self.ctx.store
        if not name:
            with self._reserving:
                full = names.generate_name(lambda n: n in self._reserved or store.name_owner(n) is not None)
                self._reserved.add(full)
            return full
        full_name = names.validate_name(name)
        owner = store.name_owner(full_name)
        if owner is not None:
            raise name_in_use(full_name, owner)
        return full_name

    def _record(self, cid: str, full_name: str, image_ref: str, img, norm: Normalized) -> Container:
        """The container's record, its mount points resolved (anonymous volumes named)."""
        ctx = self.ctx
        config, host = norm.config, norm.host_config
        config["Image"] = image_ref
        if not config.get("Hostname"):
            config["Hostname"] = socket.gethostname() if host["NetworkMode"] == "host" else cid[:12]
        host["Runtime"] = ctx.exec_driver
        points = volumes_from.merge(mount_points(host, config, os.path.exists), host.get("VolumesFrom"), ctx.get)
        propagation.check(points)
        for p in points:
            if p["Type"] == "volume":
                if not p.get("Name"):
                    p["Name"], p["Anonymous"] = secrets.token_hex(32), True
                p["Source"] = str(ctx.store.data_root / "volumes" / p["Name"] / "_data")
        path, args = command_of(config)
        now_ns = time.time_ns()
        return Container(
            id=cid, name=full_name, image_id=img.id, top_layer=img.top_layer, rw_layer=cid, config=config,
            host_config=host, network_config=norm.networking_config, mounts=points,
            created=rfc3339_nano(now_ns), created_unix=now_ns / 1e9, state=State(), path=path, args=args,
            log_path=str(ctx.store.container_dir(cid) / f"{cid}-json.log"), graph_driver=ctx.graph_driver,
        )

    def _materialize(self, c: Container, parent: str | None, children: list[tuple[str, str]]) -> None:
        """Journal, rw layer, directory, files, volumes, then the record; all undone on failure."""
        ctx = self.ctx
        ctx.store.begin_create(c.id)
        try:
            ctx.pm.hook.barge_graph_create_rw(layer_id=c.id, parent=parent)
            ctx.store.container_dir(c.id).mkdir(parents=True, mode=0o710)
            ctx.write_files(c)
            for p in c.mounts:
                if p["Type"] == "volume":
                    if ctx.volumes is not None:
                        vol = ctx.volumes.ensure(p["Name"], anonymous=bool(p.get("Anonymous")),
                                                 driver=p.get("Driver") or "", options=p.get("DriverOpts"),
                                                 announce=True)
                        p["Driver"] = vol.driver
                        if vol.driver != "local":
                            p["Source"] = ""  # a plugin's volume is where its driver mounts it, at start
                    else:
                        Path(p["Source"]).mkdir(parents=True, exist_ok=True)
            ctx.store.finish_create(c, children)
        except BaseException:
            self.undo(c.id)
            if ctx.volumes is not None:
                ctx.volumes.remove_unused([p["Name"] for p in c.mounts if p.get("Anonymous")])
            raise

    def undo(self, cid: str) -> None:
        """A creation that did not finish: its rw layer, directories and journal row, gone."""
        ctx = self.ctx
        try:
            ctx.pm.hook.barge_graph_remove(layer_id=cid)
        except Exception:  # noqa: BLE001 - best-effort undo; recover() retries at the next start
            log.exception("removing the rw layer of unfinished container %s failed; recover() retries", cid)
            return
        shutil.rmtree(ctx.store.container_dir(cid), ignore_errors=True)
        shutil.rmtree(ctx.store.state_dir(cid), ignore_errors=True)
        ctx.store.drop_journal(cid)
