"""A git build context, cloned as dockerd 20.10 clones it (moby's ``gitutils``): ``#ref:subdir``, one
ref fetched shallow (unless the server is a "dumb" http one), submodules, the subdir kept inside the clone."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from barge.builder.remote_http import RemoteCancelled, _open, _Watch
from barge.errors import BargeError

GIT_TIMEOUT = 1800.0   # seconds one git command may take


# --- -----------------------------------------------------------------------------------------------------

#: Variables that would point git at another repository or configuration than the clone's own.
_GIT_LOCATION_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR",
                      "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_CEILING_DIRECTORIES", "GIT_NAMESPACE",
                      "GIT_DISCOVERY_ACROSS_FILESYSTEM", "XDG_CONFIG_HOME")


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _GIT_LOCATION_VARS and not k.startswith("GIT_CONFIG")}
    env.update(GIT_PROTOCOL_FROM_USER="0", GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null", HOME="/dev/null",
               GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    return env


def _git(root: Path, cancel: threading.Event, *args: str) -> tuple[int, str]:
    """One git command in ``root`` (its exit status and combined output); a cancel or the time limit kills it."""
    cmd = ["git", "-c", "protocol.file.allow=never", *args]
    try:
        proc = subprocess.Popen(cmd, cwd=root, env=_git_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
    except FileNotFoundError:
        return -1, 'exec: "git": executable file not found in $PATH'
    deadline = time.monotonic() + GIT_TIMEOUT
    while True:
        try:
            out, _ = proc.communicate(timeout=0.1)
            return proc.returncode, out.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            if cancel.is_set() or time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
                if cancel.is_set():
                    raise RemoteCancelled() from None
                return -1, f"git {args[0]} took more than {GIT_TIMEOUT:g}s: signal: killed"


def _must(root: Path, cancel: threading.Event, what: str, *args: str) -> None:
    code, out = _git(root, cancel, *args)
    if code:
        status = f"exit status {code}" if code > 0 else ""
        raise BargeError(f"{what}: {out}: {status}" if status else f"{what}: {out}")


def parse_git_url(url: str) -> tuple[str, str, str]:
    """moby's ``parseRemoteURL``: (remote, ref, subdir); the ref defaults to ``master``."""
    try:
        scheme = urllib.parse.urlsplit(url).scheme.lower()
    except ValueError:
        scheme = ""
    if not url.startswith("git@") and scheme not in ("git", "http", "https", "ssh"):
        url = "https://" + url
    remote, _, fragment = url.partition("#")
    if not url.startswith("git@"):
        try:
            urllib.parse.urlsplit(url)
        except ValueError as exc:
            raise BargeError(f'parse "{url}": {exc}') from None
        fragment = urllib.parse.unquote(fragment)
    ref, _, subdir = fragment.partition(":")
    ref = ref or "master"
    if ref.startswith("-"):
        raise BargeError(f"invalid refspec: {ref}")
    if remote.startswith("-"):
        raise BargeError(f"invalid remote: {remote}")
    return remote, ref, subdir


def _supports_shallow(remote: str, cancel: threading.Event) -> bool:
    """moby's ``supportsShallowClone``: any transport but a "dumb" http server."""
    if urllib.parse.urlsplit(remote).scheme.lower() not in ("http", "https"):
        return True
    service = remote + "/info/refs?service=git-upload-pack"
    with _Watch(cancel) as watch:
        for method in ("HEAD", "GET"):
            try:
                with _open(service, watch, method) as response:
                    if response.status == 200:
                        return response.headers.get("Content-Type") == "application/x-git-upload-pack-advertisement"
            except (OSError, http.client.HTTPException, ValueError):
                watch.check()
    return False


def clone(url: str, scratch: Path, cancel: threading.Event) -> Path:
    """moby's ``gitRepo.clone``: init, fetch the one ref, check it out, its submodules; the context directory."""
    remote, ref, subdir = parse_git_url(url)
    root = scratch / "git"
    root.mkdir()
    root = Path(os.path.realpath(root))
    _must(root, cancel, f"failed to init repo at {root}", "init", "--quiet")
    _must(root, cancel, f"failed add origin repo at {remote}", "remote", "add", "origin", remote)
    depth = ["--depth", "1"] if _supports_shallow(remote, cancel) else []
    _must(root, cancel, "error fetching", "fetch", *depth, "origin", "--", ref)
    code, out = _git(root, cancel, "checkout", ref, "--")
    if code and _git(root, cancel, "checkout", "FETCH_HEAD", "--")[0]:
        raise BargeError(f"error checking out {ref}: {out}: exit status {code}")
    context = _context_dir(root, subdir)
    _must(root, cancel, "error initializing submodules", "submodule", "update", "--init", "--recursive", "--depth=1")
    return context


def _context_dir(root: Path, subdir: str) -> Path:
    if not subdir:
        return root
    try:
        context = resolve_in_scope(root, subdir)
    except ValueError as exc:
        raise BargeError(f"error setting git context, {json.dumps(subdir, ensure_ascii=False)} not within git root: "
                         f"{exc}") from None
    try:
        is_dir = os.path.isdir(context)
        os.stat(context)
    except OSError as exc:
        raise BargeError(f"stat {context}: {os.strerror(exc.errno or 0).lower()}") from None
    if not is_dir:
        raise BargeError(f"error setting git context, not a directory: {context}")
    return context


def resolve_in_scope(root: Path, path: str) -> Path:
    """moby's ``symlink.FollowSymlinkInScope``: ``path`` under ``root``, symlinks followed as if ``root`` were ``/``.

    A path that leaves ``root`` before any link is read is an error (ValueError);
    a link's ``..`` stops at ``root`` and an absolute target restarts from it, so
    the result is always inside ``root``.
    """
    base = os.path.abspath(root)
    joined = os.path.normpath(base + "/" + path)
    if joined != base and not joined.startswith(base.rstrip("/") + "/"):
        raise ValueError(f"evalSymlinksInScope: {joined} is not in {base}")
    pending = [p for p in joined[len(base):].split("/") if p]
    resolved: list[str] = []
    links = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        full = os.path.join(base, *resolved, part)
        if not os.path.islink(full):
            resolved.append(part)
            continue
        links += 1
        if links > 255:
            raise ValueError(f"evalSymlinksInScope: too many links in {joined}")
        target = os.readlink(full)
        if target.startswith("/"):
            resolved = []
        pending[:0] = [p for p in target.split("/") if p]
    return Path(base, *resolved)
