"""A git URL as a build context: moby's ``git.Clone``, which the docker CLI
runs itself (``git`` on the PATH): ``URL#ref:subdir``, a shallow fetch when
the remote allows it, the ref checked out (else ``FETCH_HEAD``), submodules,
file-protocol submodules refused."""

from __future__ import annotations

import os
import subprocess

from barge.client.errors import ClientError


def _git(directory: str, *args: str, guarded: bool = True) -> tuple[bool, str]:
    """One git command in ``directory``; (success, combined output)."""
    command = ["git", "-c", "protocol.file.allow=never", *args] if guarded else ["git", *args]
    env = {**os.environ, "GIT_PROTOCOL_FROM_USER": "0"} if guarded else None
    proc = subprocess.run(command, cwd=directory, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = proc.stdout.decode("utf-8", "replace")
    return proc.returncode == 0, output + ("" if proc.returncode == 0 else f": exit status {proc.returncode}")


def parse_git_url(url: str) -> tuple[str, str, str]:
    """moby's ``parseRemoteURL``: (remote, ref, subdir) from ``URL#ref:subdir``."""
    from urllib.parse import urlsplit

    transport = url.startswith("git@") or urlsplit(url).scheme in ("git", "http", "https", "ssh")
    if not transport:
        url = "https://" + url
    remote, _, fragment = url.partition("#")
    ref, _, subdir = fragment.partition(":")
    ref = ref or "master"
    if ref.startswith("-"):
        raise ClientError(f"invalid refspec: {ref}")
    return remote, ref, subdir


def _shallow(remote: str) -> bool:
    """Non-HTTP remotes, and smart HTTP servers, take ``--depth 1``."""
    import urllib.request

    if not remote.startswith(("http://", "https://")):
        return True
    service = remote + "/info/refs?service=git-upload-pack"
    for method in ("HEAD", "GET"):
        try:
            with urllib.request.urlopen(urllib.request.Request(service, method=method)) as response:  # noqa: S310
                if response.status == 200:
                    return response.headers.get("Content-Type") == "application/x-git-upload-pack-advertisement"
        except (OSError, ValueError):
            continue
    return False


def clone(url: str, top: str) -> str:
    """moby's ``git.Clone`` into ``top``: init, fetch the ref, check it out,
    submodules; returns the context directory (``subdir`` if given)."""
    remote, ref, subdir = parse_git_url(url)
    steps = [(("init",), f"failed to init repo at {top}"),
             (("remote", "add", "origin", remote), f"failed add origin repo at {remote}"),
             (("fetch", *(("--depth", "1") if _shallow(remote) else ()), "origin", "--", ref), "error fetching")]
    for args, what in steps:
        ok, output = _git(top, *args)
        if not ok:
            raise ClientError(f"{what}: {output}")
    ok, output = _git(top, "checkout", ref)
    if not ok and not _git(top, "checkout", "FETCH_HEAD")[0]:
        raise ClientError(f"error checking out {ref}: {output}")
    context = _subdir(top, subdir) if subdir else top
    ok, output = _git(top, "submodule", "update", "--init", "--recursive", "--depth=1", guarded=False)
    if not ok:
        raise ClientError(f"error initializing submodules: {output}")
    return context


def _subdir(top: str, subdir: str) -> str:
    """The ``:subdir`` of a git URL, which must stay inside the clone."""
    root = os.path.realpath(top)
    target = os.path.realpath(os.path.join(top, subdir))
    if os.path.commonpath([target, root]) != root:
        raise ClientError(f'error setting git context, "{subdir}" not within git root')
    if not os.path.isdir(target):
        if not os.path.exists(target):
            raise ClientError(f"stat {target}: no such file or directory")
        raise ClientError(f"error setting git context, not a directory: {target}")
    return target
