"""``POST /build?remote=`` through a real daemon: a git repository served by ``git daemon`` on loopback
(``#ref:subdir`` honoured), and a tarball and a lone Dockerfile served over http."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import socket
import subprocess
import threading
from urllib.parse import quote

import pytest

from barge.testing.wait import wait_for
from tests.integration.build_helpers import built_id, context_tar, stream_text
from tests.integration.helpers import create, rm

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _git(cwd, *args: str) -> None:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(cwd), "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


@pytest.fixture(scope="module")
def git_repo(tmp_path_factory):
    """``git://127.0.0.1:<port>/app.git``: master has a root Dockerfile, tag v1 a ``sub/`` context."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed (apt-get install git)")
    base = tmp_path_factory.mktemp("git")
    work = base / "work"
    (work / "sub").mkdir(parents=True)
    _git(work, "init", "-q", "-b", "master")
    (work / "Dockerfile").write_text("FROM busybox\nCOPY msg /msg\n")
    (work / "msg").write_text("from master\n")
    (work / "sub" / "Dockerfile").write_text("FROM busybox\nCOPY msg /msg\n")
    (work / "sub" / "msg").write_text("from v1:sub\n")
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "-m", "one")
    _git(work, "tag", "v1")
    _git(base, "clone", "-q", "--bare", str(work), str(base / "app.git"))
    port = _free_port()
    proc = subprocess.Popen(["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={base}",
                             "--listen=127.0.0.1", f"--port={port}", str(base)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def listening() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_for(listening, 10, what="git daemon to listen")
        yield f"git://127.0.0.1:{port}/app.git"
    finally:
        proc.terminate()
        proc.wait(10)


def remote_build(d, remote: str, **query) -> list[dict]:
    q = "&".join(f"{k}={quote(str(v))}" for k, v in {"remote": remote, "networkmode": "none", **query}.items())
    status, _, body = d.request("POST", f"/v1.41/build?{q}", b"", timeout=120)
    assert status == 200, body
    return [json.loads(line) for line in body.splitlines()]


def cat(d, image: str, path: str) -> str:
    cid = create(d, Image=image, Cmd=["cat", path], HostConfig={"NetworkMode": "none"})
    try:
        d.request("POST", f"/containers/{cid}/start")
        d.request("POST", f"/containers/{cid}/wait")
        _, _, logs = d.request("GET", f"/containers/{cid}/logs?stdout=1")
        return logs[8:].decode()
    finally:
        rm(d, cid)


def test_git_contexts_with_ref_and_subdir(box, git_repo):
    assert cat(box, built_id(remote_build(box, git_repo)), "/msg") == "from master\n"
    assert cat(box, built_id(remote_build(box, git_repo + "#v1:sub")), "/msg") == "from v1:sub\n"
    status, _, body = box.request("POST", "/v1.41/build?remote=" + quote(git_repo + "#nosuch"), b"")
    assert status >= 400 and "couldn't find remote ref nosuch" in json.loads(body)["message"]
    status, _, body = box.request("POST", "/v1.41/build?remote=" + quote(git_repo + "#v1:../.."), b"")
    assert status >= 400 and "not within git root" in json.loads(body)["message"]


def test_http_tarball_and_dockerfile(box, tmp_path):
    (tmp_path / "ctx.tar").write_bytes(context_tar({"Dockerfile": "FROM busybox\nCOPY f /f\n", "f": "remote tar\n"}))
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo from a remote Dockerfile\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert cat(box, built_id(remote_build(box, f"{base}/ctx.tar")), "/f") == "remote tar\n"
        msgs = remote_build(box, f"{base}/Dockerfile")
        assert "from a remote Dockerfile\n" in stream_text(msgs)
        status, _, body = box.request("POST", "/v1.41/build?remote=" + quote(f"{base}/missing.tar"), b"")
        assert status == 404 and "404" in json.loads(body)["message"]
    finally:
        server.shutdown()
        server.server_close()
