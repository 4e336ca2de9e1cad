"""``docker commit``: a container's rw layer becomes a new image on top of its image.

The diff of the rw layer against the image's top layer
(``barge_graph_diff``) is stored as a layer through the layer store (hashed
while it is applied, crash-safe through ``pending_layers``); the new image
config is the parent image's config with the container's config (merged
with the request's config and ``changes`` as moby's ``merge`` does), a
history entry whose ``created_by`` is the container's command, and the new
diff ID appended to ``rootfs.diff_ids``. Layer, image and tag are recorded
in one transaction. A container without changes gives an image without a
new layer (``empty_layer`` in its history), as Docker's does.

A running container is paused meanwhile (``pause=true``, the default), so
the layer is a consistent snapshot.
"""

from __future__ import annotations

import copy
import logging
from typing import TYPE_CHECKING, Any

from barge import reference
from barge.containers.views import config_view
from barge.graph import changes as changes_mod
from barge.graph.child import ChildSpec, commit_child

if TYPE_CHECKING:  # pragma: no cover
    from barge.containers.lifecycle import Lifecycle
    from barge.containers.runtime import RuntimeTable

log = logging.getLogger("barge.commit")

def merge_config(user: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """moby's ``merge(userConf, imageConf)``: fields the user left empty come from ``base``."""
    out = copy.deepcopy(user)
    if not out.get("User"):
        out["User"] = base.get("User") or ""
    ports = dict(out.get("ExposedPorts") or {})
    for port, value in (base.get("ExposedPorts") or {}).items():
        ports.setdefault(port, value)
    out["ExposedPorts"] = ports
    if not ports:
        del out["ExposedPorts"]  # ``omitempty`` in moby's container.Config
    env = list(out.get("Env") or [])
    if not env:
        env = list(base.get("Env") or [])
    else:
        keys = {e.split("=", 1)[0] for e in env}
        env += [e for e in base.get("Env") or [] if e.split("=", 1)[0] not in keys]
    out["Env"] = env or None
    labels = dict(out.get("Labels") or {})
    for key, value in (base.get("Labels") or {}).items():
        labels.setdefault(key, value)
    out["Labels"] = labels
    if not out.get("Entrypoint"):
        if not out.get("Cmd"):
            out["Cmd"] = base.get("Cmd")
        if out.get("Entrypoint") is None:
            out["Entrypoint"] = base.get("Entrypoint")
    if base.get("Healthcheck") and not out.get("Healthcheck"):
        out["Healthcheck"] = base["Healthcheck"]
    if not out.get("WorkingDir"):
        out["WorkingDir"] = base.get("WorkingDir") or ""
    volumes = dict(out.get("Volumes") or {})
    volumes.update(base.get("Volumes") or {})
    out["Volumes"] = volumes or None
    if not out.get("StopSignal") and base.get("StopSignal"):
        out["StopSignal"] = base["StopSignal"]
    return out


#: In the container's dir while a commit holds it paused: a daemon killed before the unpause leaves it,
#: and recovery unpauses what only the commit paused (:class:`barge.containers.recovery.Recovery`).
COMMIT_PAUSE = "commit-paused"


class CommitService:
    """``POST /commit`` over the container records (held still under their runtime locks), the
    image store, and the lifecycle's pause and unpause."""

    def __init__(self, table: "RuntimeTable", images, pm, lifecycle: "Lifecycle"):
        self.table = table
        self.images = images
        self.pm = pm
        self.lifecycle = lifecycle

    def commit(self, ref: str, *, repo: str = "", tag: str = "", comment: str = "", author: str = "",
               pause: bool = True, changes: list[str] | None = None, config: dict | None = None) -> str:
        """``POST /commit`` (``config`` decoded): the new image's id. Bad input is refused before
        anything is written."""
        target = reference.parse_repo_and_tag(repo, tag) if repo else None
        changes = [c for c in (changes or []) if c.strip()]
        c = self.table.get(ref)
        with self.table.locked(c.id) as c:
            # moby decodes the posted config into a whole container.Config: the keys it left out are zero
            user = {**changes_mod.empty_container_config(), **copy.deepcopy(config)} if config \
                else copy.deepcopy(c.config)
            new_config = merge_config(changes_mod.apply_changes(user, changes), c.config)
            paused = False
            marker = self.lifecycle.ctx.store.container_dir(c.id) / COMMIT_PAUSE
            if pause and c.state.Running and not c.state.Paused and not c.state.Restarting:
                marker.touch()
                self.lifecycle.pause(c.id)
                paused = True
            try:
                image_id = self._commit_layer(c, new_config, comment, author, target)
                self._announce(c, image_id, comment, target)  # before the unpause, as dockerd's events come
            finally:
                if paused:
                    try:
                        self.lifecycle.unpause(c.id)
                    except Exception:  # noqa: BLE001 - the image is committed; a failed unpause is logged, not raised over it
                        log.exception("unpausing container %s after commit failed", c.short_id)
                marker.unlink(missing_ok=True)
        return image_id

    def _announce(self, c, image_id: str, comment: str, target) -> None:
        """dockerd's order: the image's ``tag``, then the container's ``commit``."""
        if target is not None:
            self.images.event("tag", image_id, target.familiar())
        attrs = c.event_attributes(comment=comment, imageID=image_id, imageRef=target.familiar() if target else "")
        try:
            self.pm.hook.barge_container_event(action="commit", container_id=c.id, attributes=attrs)
        except Exception:  # noqa: BLE001 - an extension plugin must not fail the commit
            log.exception("barge_container_event(commit) failed in an extension plugin")

    def _commit_layer(self, c, new_config: dict, comment: str, author: str, target) -> str:
        layers = self.images.layers
        top = layers.get(c.top_layer) if c.top_layer else None
        diff = self.pm.hook.barge_graph_diff(layer_id=c.rw_layer, parent=top.cache_id if top else None)
        # dockerd's image.ChildConfig: the container and its config are the image's container/container_config
        spec = ChildSpec(config=new_config, created_by=" ".join(c.config.get("Cmd") or []), author=author,
                         comment=comment, container=c.id, container_config=copy.deepcopy(config_view(c.config)))
        return commit_child(self.images, self.images.get(c.image_id), c.top_layer, diff, spec, target)
