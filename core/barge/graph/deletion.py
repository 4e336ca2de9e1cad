"""``docker rmi``: moby's ``ImageDelete``, its reference rules and conflicts, in one transaction.

Kept apart from :class:`~barge.graph.store.ImageStore` because the rules are
long and only delete needs them: which references a name removes, when the
image itself goes, what blocks it (children, containers), and pruning the
parents left dangling.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from barge import reference
from barge.errors import Conflict, ImageNotFound, InvalidParameter
from barge.graph.layers import Layer

if TYPE_CHECKING:  # pragma: no cover
    from barge.graph.store import Image, ImageStore


class DeleteConflict(Conflict):
    """Docker's ``imageDeleteConflict``; ``hard`` ones cannot be forced."""

    def __init__(self, image_id: str, reason: str, hard: bool = False, used: bool = False):
        force = "cannot be forced" if hard else "must be forced"
        super().__init__(f"conflict: unable to delete {reference.short_id(image_id)} ({force}) - {reason}")
        self.image_id, self.reason, self.hard, self.used = image_id, reason, hard, used


class ImageDeletion:
    """One ``rmi`` against ``store``: :meth:`run` returns Docker's ``Untagged``/``Deleted`` records."""

    def __init__(self, store: "ImageStore"):
        self.store = store

    def _users(self, image_id: str) -> list[tuple[str, bool]]:
        out = []
        for user in self.store.users(image_id) or []:
            if isinstance(user, str):
                out.append((user, False))
            else:
                cid, running = user
                out.append((str(cid), bool(running)))
        return out

    @staticmethod
    def _single_reference(refs: list[reference.Reference]) -> bool:
        """At most one tag, and every reference in one repository (Docker's isSingleReference)."""
        if not refs:
            return False
        tagged = [r for r in refs if r.tag]
        if len(tagged) > 1:
            return False
        return len({r.name for r in refs}) == 1

    def _untag(self, conn, ref: reference.Reference) -> None:
        if ref.digest:
            conn.execute("DELETE FROM repo_digests WHERE repo = ? AND digest = ?", (ref.name, ref.digest))
        else:
            conn.execute("DELETE FROM tags WHERE repo = ? AND tag = ?", (ref.name, ref.tag))

    def run(self, name: str, force: bool = False, prune: bool = True) -> list[dict[str, str]]:
        """``docker rmi``: untag, then delete the image when nothing refers to it.

        Follows moby's ``ImageDelete``: a name removes that reference first;
        an ID removes all references of a single-repository image; the image
        itself goes when no reference, child or container remains (force
        skips the soft checks). Returns ``[{"Untagged": ...}, {"Deleted": ...}]``.
        """
        img = self.store.resolve(name)
        records: list[dict[str, str]] = []
        released: list[Layer] = []
        events: list[tuple[str, str]] = []
        by_id = reference.is_image_id_prefix(name) and img.id.startswith(
            name if name.startswith("sha256:") else "sha256:" + name
        ) and not self._names_tag(name, img)
        quiet = False
        with self.store.db.write() as conn:
            if conn.execute("SELECT 1 FROM images WHERE id = ?", (img.id,)).fetchone() is None:
                raise ImageNotFound(name)  # deleted meanwhile by another request
            refs = self._refs_in(conn, img.id)
            if not by_id:
                given = reference.parse(name)
                given = given if given.digest else given.with_default_tag()
                if not force and self._single_reference(refs):
                    users = self._users(img.id)
                    if users:
                        raise Conflict(
                            f'conflict: unable to remove repository reference "{name}" (must force) - container '
                            f"{users[0][0][:12]} is using its referenced image {reference.short_id(img.id)}"
                        )
                self._untag(conn, given)
                records.append({"Untagged": given.familiar()})
                events.append(("untag", given.familiar()))
                remaining = [r for r in refs if r != given]
                if not given.digest and not any(r.tag and r.name == given.name for r in remaining):
                    for r in [r for r in remaining if r.digest and r.name == given.name]:
                        self._untag(conn, r)
                        records.append({"Untagged": r.familiar()})
                        remaining.remove(r)
                if remaining:
                    pass  # other references keep the image
                else:
                    quiet = True
                    released = self._delete_helper(conn, img, force, prune, quiet, records, events)
            else:
                if self._single_reference(refs):
                    conflict = self._conflict_in(conn, img, hard_only=force, check_refs=False)
                    if conflict is not None:
                        raise conflict
                    for r in refs:
                        self._untag(conn, r)
                        records.append({"Untagged": r.familiar()})
                        events.append(("untag", r.familiar()))
                released = self._delete_helper(conn, img, force, prune, quiet, records, events)
        self.store.layers.remove_driver_layers(released)
        for action, ev_name in events:
            image_id = ev_name if action == "delete" else img.id
            self.store.event(action, image_id, ev_name)
        return records

    def _names_tag(self, name: str, img: Image) -> bool:
        """A hex-looking name like ``abc123`` may be a repository name that is tagged."""
        if name.startswith("sha256:"):
            return False
        try:
            ref = reference.parse(name).with_default_tag()
        except InvalidParameter:
            return False
        return any(r == ref for r in self.store.tags_of(img.id))

    def _delete_helper(self, conn, img: Image, force: bool, prune: bool, quiet: bool,
                       records: list[dict[str, str]], events: list[tuple[str, str]]) -> list[Layer]:
        conflict = self._conflict_in(conn, img, hard_only=force)
        if conflict is not None:
            if quiet and (not self._dangling_in(conn, img.id) or conflict.used):
                return []
            raise conflict
        for r in self._refs_in(conn, img.id):
            self._untag(conn, r)
            records.append({"Untagged": r.familiar()})
            events.append(("untag", r.familiar()))
        conn.execute("DELETE FROM images WHERE id = ?", (img.id,))
        released = self.store.layers.release_unused(conn, img.top_layer)
        records.append({"Deleted": img.id})
        events.append(("delete", img.id))
        records.extend({"Deleted": layer.chain_id} for layer in released)
        if prune and img.parent:
            parent_row = conn.execute("SELECT * FROM images WHERE id = ?", (img.parent,)).fetchone()
            if parent_row is not None:
                released += self._delete_helper(conn, self.store._row_image(parent_row), False, True, True, records, events)
        return released

    # transaction-local variants of the reads above (the write lock is held)
    def _refs_in(self, conn, image_id: str) -> list[reference.Reference]:
        tags = conn.execute("SELECT repo, tag FROM tags WHERE image_id = ?", (image_id,)).fetchall()
        digests = conn.execute("SELECT repo, digest FROM repo_digests WHERE image_id = ?", (image_id,)).fetchall()
        return [self.store._ref(r["repo"], tag=r["tag"]) for r in tags] + [self.store._ref(r["repo"], digest=r["digest"]) for r in digests]

    def _dangling_in(self, conn, image_id: str) -> bool:
        """Docker's ``imageIsDangling``: no references and no child images."""
        if conn.execute("SELECT 1 FROM images WHERE parent = ? LIMIT 1", (image_id,)).fetchone():
            return False
        return not self._refs_in(conn, image_id)

    def _conflict_in(self, conn, img: Image, hard_only: bool, check_refs: bool = True) -> DeleteConflict | None:
        """Docker's ``checkImageDeleteConflict``; hard ones: children, running containers."""
        if conn.execute("SELECT 1 FROM images WHERE parent = ? LIMIT 1", (img.id,)).fetchone():
            return DeleteConflict(img.id, "image has dependent child images", hard=True)
        users = self._users(img.id)
        for cid, running in users:
            if running:
                return DeleteConflict(img.id, f"image is being used by running container {cid[:12]}", hard=True, used=True)
        if hard_only:
            return None
        if check_refs and self._refs_in(conn, img.id):
            return DeleteConflict(img.id, "image is referenced in multiple repositories")
        for cid, _ in users:
            return DeleteConflict(img.id, f"image is being used by stopped container {cid[:12]}", used=True)
        return None
