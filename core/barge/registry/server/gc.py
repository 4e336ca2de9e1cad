"""``barge registry gc``: mark and sweep, as ``registry garbage-collect``.

Mark: in every repository, every manifest reachable from a revision (with
``--delete-untagged``: from a tag only, plus the children of kept indexes and
the referrers of kept manifests), and the config and layers of each. Sweep:
every blob not marked is deleted, with the repository links that pointed to
it; with ``--delete-untagged`` the revisions of untagged manifests go too.
Upload sessions untouched for an hour are removed.

Run it while nobody pushes: a blob pushed but whose manifest has not been
PUT yet is unreferenced and would be collected (distribution says the same).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from barge.registry.server import manifests
from barge.registry.server.names import Digest
from barge.registry.server.repos import Repos
from barge.registry.server.storage import BlobStore

#: upload sessions older than this are abandoned
UPLOAD_MAX_AGE = 3600.0


@dataclass
class Report:
    marked: set[Digest] = field(default_factory=set)
    blobs_deleted: list[Digest] = field(default_factory=list)
    manifests_deleted: list[tuple[str, Digest]] = field(default_factory=list)
    uploads_removed: list[str] = field(default_factory=list)


def _mark_repository(repos: Repos, name: str, delete_untagged: bool, report: Report,
                     say: Callable[[str], None]) -> set[Digest]:
    """Mark what ``name`` keeps; return the manifest revisions it keeps."""
    revisions = set(repos.revisions(name))
    if delete_untagged:
        todo = [d for d in (repos.tag(name, t) for t in repos.tags(name)) if d in revisions]
    else:
        todo = sorted(revisions, key=str)
    kept: set[Digest] = set()
    while todo:
        digest = todo.pop()
        if digest in kept or digest not in revisions:
            continue
        kept.add(digest)
        say(f"{name}: marking manifest {digest}")
        report.marked.add(digest)
        body = repos.blobs.read(digest)
        parsed = manifests.parse_stored(body, repos.revision(name, digest) or "") if body is not None else None
        if parsed is None:
            continue
        for desc in parsed.blobs:
            if desc.digest not in report.marked:
                say(f"{name}: marking blob {desc.digest}")
            report.marked.add(desc.digest)
        todo.extend(child.digest for child in parsed.children)
        todo.extend(repos.referrers(name, digest))
    return kept


def collect(root: Path, dry_run: bool = False, delete_untagged: bool = False,
            say: Callable[[str], None] = print) -> Report:
    root = Path(root)
    if not (root / "blobs").is_dir() and not (root / "repositories").is_dir():
        raise FileNotFoundError(f"{root} is not a registry storage directory")
    blobs = BlobStore(root)
    repos = Repos(root, blobs)
    report = Report()
    names = repos.catalog()
    for name in names:
        kept = _mark_repository(repos, name, delete_untagged, report, say)
        for digest in sorted(set(repos.revisions(name)) - kept, key=str):
            report.manifests_deleted.append((name, digest))
            say(f"{name}: manifest eligible for deletion: {digest}")
            if not dry_run:
                repos.remove_revision(name, digest)
    unreferenced = sorted((d for d in blobs.all_blobs() if d not in report.marked), key=str)
    say(f"\n{len(report.marked)} blobs marked, {len(unreferenced)} blobs and "
        f"{len(report.manifests_deleted)} manifests eligible for deletion")
    for digest in unreferenced:
        say(f"blob eligible for deletion: {digest}")
        if not dry_run:
            say(f"Deleting blob: {blobs.path(digest)}")
            blobs.delete(digest)
        report.blobs_deleted.append(digest)
    if not dry_run:
        gone = set(unreferenced)
        for name in names:
            for digest in repos.linked_blobs(name):
                if digest in gone:
                    repos.unlink_blob(name, digest)
    report.uploads_removed = blobs.remove_stale_uploads(UPLOAD_MAX_AGE, dry_run=dry_run)
    for uid in report.uploads_removed:
        say(f"{'stale upload session' if dry_run else 'Deleted upload session'}: {uid}")
    return report
