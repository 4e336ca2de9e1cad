"""``docker diff``: what changed between two trees, or in an overlay upper dir.

:func:`changes_dirs` follows moby's ``ChangesDirs`` rules: a non-directory is
modified when its type, permissions, owner, device number, size or mtime
differ (or its ``security.capability``); a directory only when its mode or
owner differ, or when something inside it changed.
"""

from __future__ import annotations

import os
import stat

from barge.archive.change import Change, ChangeKind
from barge.archive.pack import is_opaque, is_whiteout_device


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _capability(path: str) -> bytes | None:
    try:
        return os.getxattr(path, "security.capability", follow_symlinks=False)
    except OSError:
        return None


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except (FileNotFoundError, NotADirectoryError):
        return []


def _differs(old: os.stat_result, new: os.stat_result, old_path: str, new_path: str) -> bool:
    if (old.st_mode, old.st_uid, old.st_gid, old.st_rdev) != (new.st_mode, new.st_uid, new.st_gid, new.st_rdev):
        return True
    if not stat.S_ISDIR(new.st_mode):
        if old.st_size != new.st_size or old.st_mtime_ns != new.st_mtime_ns:
            return True
        if old.st_ino == new.st_ino and old.st_dev == new.st_dev:
            return False
    return _capability(old_path) != _capability(new_path)


def changes_dirs(old_root, new_root) -> list[Change]:
    """Changes of ``new_root`` against ``old_root`` (``None``: all added), sorted by path."""
    new_root = os.fspath(new_root)
    out: list[Change] = []
    if old_root is None:
        _all_added(new_root, "", out)
    else:
        _compare(os.fspath(old_root), new_root, "", out)
    return sorted(out)


def _all_added(root: str, rel: str, out: list[Change]) -> None:
    for name in _listdir(root + rel):
        child = f"{rel}/{name}"
        out.append(Change(child, ChangeKind.ADD))
        st = os.lstat(root + child)
        if stat.S_ISDIR(st.st_mode):
            _all_added(root, child, out)


def _compare(old_root: str, new_root: str, rel: str, out: list[Change]) -> bool:
    """Append changes below ``rel``; return whether anything below changed."""
    before = len(out)
    new_names = _listdir(new_root + rel if rel else new_root)
    old_names = set(_listdir(old_root + rel if rel else old_root))
    for name in new_names:
        child = f"{rel}/{name}"
        new_path, old_path = new_root + child, old_root + child
        new_st = os.lstat(new_path)
        old_st = _lstat(old_path) if name in old_names else None
        if old_st is None:
            out.append(Change(child, ChangeKind.ADD))
            if stat.S_ISDIR(new_st.st_mode):
                _all_added(new_root, child, out)
            continue
        mark = len(out)
        changed = _differs(old_st, new_st, old_path, new_path)
        both_dirs = stat.S_ISDIR(new_st.st_mode) and stat.S_ISDIR(old_st.st_mode)
        inner = False
        if stat.S_ISDIR(new_st.st_mode):
            if both_dirs:
                inner = _compare(old_root, new_root, child, out)
            else:
                _all_added(new_root, child, out)
                inner = True
        elif stat.S_ISDIR(old_st.st_mode):
            pass  # a directory replaced by a file: the file's change covers it
        if changed or inner:
            out.insert(mark, Change(child, ChangeKind.MODIFY))
    for name in sorted(old_names - set(new_names)):
        out.append(Change(f"{rel}/{name}", ChangeKind.DELETE))
    return len(out) > before


def changes_size(root, changes: list[Change]) -> int:
    """Bytes of the added or modified non-directories (hard links counted once)."""
    root = os.fspath(root)
    seen: set[tuple[int, int]] = set()
    size = 0
    for change in changes:
        if change.kind == ChangeKind.DELETE:
            continue
        st = _lstat(root + change.path)
        if st is None or stat.S_ISDIR(st.st_mode):
            continue
        if st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            if key in seen:
                continue
            seen.add(key)
        size += st.st_size
    return size


# -- overlay upper dirs --------------------------------------------------


def lower_lookup(lowers: list[str], rel: str) -> os.stat_result | None:
    """Stat ``rel`` in the merged view of overlay lower dirs (top first),
    honouring whiteout devices, opaque dirs and non-dirs that hide what lies
    below them."""
    parts = rel.strip("/").split("/")
    for layer in lowers:
        path = layer
        hidden_below = False
        for i, comp in enumerate(parts):
            path = f"{path}/{comp}"
            st = _lstat(path)
            if st is None:
                break
            if is_whiteout_device(st):
                return None
            if i == len(parts) - 1:
                return st
            if not stat.S_ISDIR(st.st_mode):
                return None
            if is_opaque(path):
                hidden_below = True
        if hidden_below:
            return None
    return None


def _lower_names(lowers: list[str], rel: str) -> set[str]:
    names: set[str] = set()
    for layer in lowers:
        names.update(_listdir(f"{layer}{rel}"))
    return {n for n in names if lower_lookup(lowers, f"{rel}/{n}") is not None}


def overlay_changes(lowers: list[str], upper) -> list[Change]:
    """Changes recorded in an overlay upper dir over ``lowers`` (top first).

    A 0:0 character device is a deletion; an entry absent from the lowers is
    an addition, else a modification (a directory only when its mode, owner
    or mtime differ, or something inside changed); an opaque directory that
    exists below also deletes the lower entries it hides.
    """
    upper = os.fspath(upper)
    out: list[Change] = []
    _overlay_walk(lowers, upper, "", out)
    return sorted(out)


def _overlay_walk(lowers: list[str], upper: str, rel: str, out: list[Change]) -> bool:
    before = len(out)
    names = _listdir(upper + rel if rel else upper)
    for name in names:
        child = f"{rel}/{name}"
        st = os.lstat(upper + child)
        low = lower_lookup(lowers, child)
        if is_whiteout_device(st):
            if low is not None:
                out.append(Change(child, ChangeKind.DELETE))
            continue
        if low is None:
            out.append(Change(child, ChangeKind.ADD))
            if stat.S_ISDIR(st.st_mode):
                _all_added_upper(upper, child, out)
            continue
        mark = len(out)
        is_dir = stat.S_ISDIR(st.st_mode)
        if is_dir and stat.S_ISDIR(low.st_mode):
            changed = (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns) != (low.st_mode, low.st_uid, low.st_gid, low.st_mtime_ns)
            inner = _overlay_walk(lowers, upper, child, out)
            if is_opaque(upper + child):
                present = set(_listdir(upper + child))
                for gone in sorted(_lower_names(lowers, child) - present):
                    out.append(Change(f"{child}/{gone}", ChangeKind.DELETE))
                inner = True
            if changed or inner:
                out.insert(mark, Change(child, ChangeKind.MODIFY))
            continue
        out.append(Change(child, ChangeKind.MODIFY))
        if is_dir:
            _all_added_upper(upper, child, out)
    return len(out) > before


def _all_added_upper(upper: str, rel: str, out: list[Change]) -> None:
    for name in _listdir(upper + rel):
        child = f"{rel}/{name}"
        st = os.lstat(upper + child)
        if is_whiteout_device(st):
            continue
        out.append(Change(child, ChangeKind.ADD))
        if stat.S_ISDIR(st.st_mode):
            _all_added_upper(upper, child, out)
