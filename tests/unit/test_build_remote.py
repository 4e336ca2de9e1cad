"""Remote build contexts (``POST /build?remote=``, barge.builder.remote) against real servers on loopback.

HTTP contexts come from a ``ThreadingHTTPServer`` on 127.0.0.1 whose routes
each test sets; git contexts from a real ``git daemon`` on 127.0.0.1 (a free
port) and from a "dumb" http server over a bare repository. The expected texts
are dockerd 20.10's (Debian's docker.io 20.10.24), observed with ``curl -X POST
/build?remote=...`` against a private dockerd serving the same files; where
dockerd's text holds its own temporary path, only the shape is compared.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import shutil
import socket
import subprocess
import tarfile
import threading
import time
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator

import pytest

from barge.builder import remote_git, remote_http
from barge.builder.remote import RemoteCancelled, RemoteContext, fetch_remote, is_git_url, is_url
from barge.builder.remote_git import parse_git_url, resolve_in_scope
from barge.builder.remote_sniff import sniff_content_type
from barge.errors import BargeError, Forbidden, InvalidParameter, NotFound, Unauthorized
from barge.units import human_size

DOCKERFILE = b"FROM busybox\nRUN echo from-remote-dockerfile\n"

# ------------------------------------------------------------------ servers


class _Handler(BaseHTTPRequestHandler):
    server: "_Web"

    def do_GET(self) -> None:
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        try:
            route(self)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args) -> None:
        pass


class _Web(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, Callable[[_Handler], None]] = {}
        self.stop = threading.Event()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def serve(self, path: str, body: bytes, content_type: str | None = "application/octet-stream",
              status: int = 200, headers: dict[str, str] | None = None) -> str:
        def route(h: _Handler) -> None:
            h.send_response(status)
            if content_type is not None:
                h.send_header("Content-Type", content_type)
            h.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                h.send_header(key, value)
            h.end_headers()
            h.wfile.write(body)
        self.routes[path] = route
        return self.url(path)


def _serve_forever(server: ThreadingHTTPServer) -> Iterator[ThreadingHTTPServer]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        getattr(server, "stop", threading.Event()).set()
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def web() -> Iterator[_Web]:
    yield from _serve_forever(_Web())  # type: ignore[misc]


def _dribble(h: _Handler) -> None:
    """Headers for a big tar, then a byte every 50 ms until the client goes or the test ends."""
    h.send_response(200)
    h.send_header("Content-Type", "application/x-tar")
    h.send_header("Content-Length", str(10 ** 9))
    h.end_headers()
    while not h.server.stop.wait(0.05):
        h.wfile.write(b"\0")
        h.wfile.flush()


def _silent(h: _Handler) -> None:
    """Never answers."""
    h.server.stop.wait(30)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


CTX_TAR = _tar({"Dockerfile": b"FROM busybox\nCOPY a /a\n", "a": b"hello\n"})


def _fetch(url: str, tmp_path: Path, dockerfile: str = "", cancel: threading.Event | None = None
           ) -> tuple[RemoteContext, list[dict]]:
    scratch = tmp_path / f"scratch{len(list(tmp_path.iterdir()))}"
    scratch.mkdir()
    messages: list[dict] = []
    ctx = fetch_remote(url, dockerfile, scratch, progress=messages.append, cancel=cancel)
    for path in (ctx.tar, ctx.directory):
        assert path is None or path.resolve().is_relative_to(scratch.resolve())
    return ctx, messages


def _progress(url: str, current: int) -> dict:
    return {"status": url, "progressDetail": {"current": current}, "progress": f"{human_size(current):>8}",
            "id": "Downloading context"}


# ------------------------------------------------------------------ which kind of remote

@pytest.mark.parametrize("url", [
    "git://github.com/docker/docker", "git@github.com:docker/docker.git",
    "git@bitbucket.org:atlassianlabs/atlassian-docker.git", "https://github.com/docker/docker.git",
    "http://github.com/docker/docker.git", "http://github.com/docker/docker.git#branch",
    "http://github.com/docker/docker.git#:dir", "github.com/docker/docker",
    "http://h/legit",  # moby's regexp: its '.' before "git" is any character
])
def test_git_urls_as_moby_detects_them(url):
    assert is_git_url(url)


@pytest.mark.parametrize("url", [
    "http://github.com/docker/docker.git:#branch", "https://h/ctx.git#", "https://h/ctx.tar", "HTTP://h/x.git",
    "ssh://h/x.git", "file:///x.git", "gitlab.com/x/y", "http://h/x.git\n",
])
def test_not_git_urls(url):
    assert not is_git_url(url)


@pytest.mark.parametrize("url, expected", [
    ("http://h/x", True), ("https://h/x", True), ("HTTP://h/x", False), ("ftp://h/x", False),
    ("h/x", False), ("", False),
])
def test_http_urls(url, expected):
    assert is_url(url) is expected


@pytest.mark.parametrize("url", ["ftp://x/y", "ssh://x/y", "file:///tmp/ctx.tar", "tcp://x", "HTTP://x/y"])
def test_neither_git_nor_http_is_dockerds_500(url, tmp_path):
    with pytest.raises(BargeError) as err:
        _fetch(url, tmp_path)
    assert (err.value.status, str(err.value)) == (400, f"remoteURL ({url}) could not be recognized as URL")


def test_client_session_is_refused_as_dockerd_does(tmp_path):
    with pytest.raises(InvalidParameter, match="^experimental session with v1 builder is no longer supported, "
                       r"use builder version v2 \(BuildKit\) instead$"):
        _fetch("client-session", tmp_path)


@pytest.mark.parametrize("url, expected", [
    ("git://github.com/user/repo.git", ("git://github.com/user/repo.git", "master", "")),
    ("git://github.com/user/repo.git#mybranch:mydir/mysubdir/",
     ("git://github.com/user/repo.git", "mybranch", "mydir/mysubdir/")),
    ("https://github.com/user/repo.git#mybranch:mydir/mysubdir/",
     ("https://github.com/user/repo.git", "mybranch", "mydir/mysubdir/")),
    ("git@github.com:user/repo.git#mybranch:mydir/mysubdir/",
     ("git@github.com:user/repo.git", "mybranch", "mydir/mysubdir/")),
    ("ssh://foo%40barcorp.com@github.com/user/repo.git#mybranch:mydir/mysubdir/",
     ("ssh://foo%40barcorp.com@github.com/user/repo.git", "mybranch", "mydir/mysubdir/")),
    ("github.com/user/repo#:sub", ("https://github.com/user/repo", "master", "sub")),
    ("git://h/r.git#v1:", ("git://h/r.git", "v1", "")),
    ("git://h/r.git#v1:a:b", ("git://h/r.git", "v1", "a:b")),
    ("git://h/r.git#v%31:sub%20dir", ("git://h/r.git", "v1", "sub dir")),
])
def test_git_url_parts_as_moby_parses_them(url, expected):
    assert parse_git_url(url) == expected


@pytest.mark.parametrize("url", ["git://h/r.git#-x", "git@h:r.git#--upload-pack=touch /tmp/x:sub"])
def test_a_ref_that_would_be_an_option_is_refused(url, tmp_path):
    ref = url.split("#")[1].split(":")[0]
    with pytest.raises(BargeError, match=f"^invalid refspec: {ref}$"):
        _fetch(url, tmp_path)


# ------------------------------------------------------------------ http: tars and Dockerfiles

@pytest.mark.parametrize("name, pack, content_type", [
    ("plain", lambda b: b, "application/x-tar"),
    ("gzip", gzip.compress, "application/gzip"),
    ("bzip2", bz2.compress, "application/x-bzip2"),
    ("xz", lzma.compress, "application/x-xz"),
    ("gzip sniffed", gzip.compress, "application/octet-stream"),
    ("xz, no type", lzma.compress, None),
])
def test_a_tar_is_the_context_streamed_to_disk(web, tmp_path, name, pack, content_type):
    body = pack(CTX_TAR)
    url = web.serve("/ctx", body, content_type)
    ctx, messages = _fetch(url, tmp_path)
    assert ctx.directory is None and ctx.dockerfile == ""
    assert ctx.tar is not None and ctx.tar.read_bytes() == body
    # dockerd: a compressed tar ends with one progress message; a plain tar with none
    assert messages == ([] if name == "plain" else [_progress(url, len(body))])


def test_a_dockerfile_is_the_single_file_of_its_context(web, tmp_path):
    url = web.serve("/Dockerfile", DOCKERFILE, "text/plain; charset=utf-8")
    ctx, messages = _fetch(url, tmp_path)
    assert ctx.tar is None and ctx.dockerfile == ""
    assert ctx.directory is not None and [p.name for p in ctx.directory.iterdir()] == ["Dockerfile"]
    assert (ctx.directory / "Dockerfile").read_bytes() == DOCKERFILE
    # as dockerd sent it for a 45-byte Dockerfile, then "{}"
    assert messages == [{"status": url, "progressDetail": {"current": 45}, "progress": "     45B",
                         "id": "Downloading context"}, {}]


def test_a_remote_dockerfile_ignores_the_requested_name(web, tmp_path):
    url = web.serve("/df", DOCKERFILE, "text/plain")
    ctx, _ = _fetch(url, tmp_path, dockerfile="sub/Dockerfile.dev")
    assert ctx.dockerfile == "Dockerfile" and ctx.directory is not None
    assert (ctx.directory / ctx.dockerfile).read_bytes() == DOCKERFILE


@pytest.mark.parametrize("content_type, body, kind", [
    ("application/x-tar", CTX_TAR, "tar"),
    ("application/tar", CTX_TAR, "tar"),
    (None, CTX_TAR, "tar"),                                   # sniffed: binary
    ("application/octet-stream", DOCKERFILE, "dockerfile"),   # sniffed: text, as python's http.server serves one
    (None, DOCKERFILE, "dockerfile"),
    ("text/plain", CTX_TAR, "dockerfile"),                    # dockerd trusts the header (then fails to parse)
    ("application/x-tar", DOCKERFILE, "tar"),                 # ... either way (then "unexpected EOF")
    ("application/octet-stream; x=1", DOCKERFILE, "tar"),     # sniffed only when exactly octet-stream
    ("application/gzip", lzma.compress(CTX_TAR), "tar"),
    ("x/text/plainish", DOCKERFILE, "dockerfile"),            # moby's regexp is not anchored
    ("application/octet-stream", b"\x00\x01binary", "tar"),
])
def test_the_kind_comes_from_the_content_type_as_in_moby(web, tmp_path, content_type, body, kind):
    url = web.serve("/x", body, content_type)
    ctx, _ = _fetch(url, tmp_path)
    assert (ctx.tar is not None) is (kind == "tar")
    assert (ctx.directory is not None) is (kind == "dockerfile")


@pytest.mark.parametrize("content_type, body, quoted", [
    ("text/html", DOCKERFILE, '"text/html"'),
    ("application/json", CTX_TAR, '"application/json"'),
    ("application/octet-stream", b"<!DOCTYPE html>\nFROM busybox\n", '"application/octet-stream"'),
    (None, b"<!DOCTYPE html>\nFROM busybox\n", '""'),
    (None, b"%PDF-1.4 ...", '""'),
])
def test_an_unsupported_content_type_is_dockerds_error(web, tmp_path, content_type, body, quoted):
    url = web.serve("/x", body, content_type)
    with pytest.raises(BargeError) as err:
        _fetch(url, tmp_path)
    assert err.value.status == 500
    assert str(err.value) == f"error detecting content type for remote {url}: unsupported Content-Type {quoted}"


def test_an_empty_body_is_dockerds_error(web, tmp_path):
    url = web.serve("/empty", b"")
    with pytest.raises(BargeError) as err:
        _fetch(url, tmp_path)
    assert (err.value.status, str(err.value)) == (
        500, f"error detecting content type for remote {url}: empty response")


@pytest.mark.parametrize("status, reason, cls", [
    (404, "Not Found", NotFound), (400, "Bad Request", InvalidParameter), (401, "Unauthorized", Unauthorized),
    (403, "Forbidden", Forbidden), (500, "Internal Server Error", BargeError), (502, "Bad Gateway", BargeError),
])
def test_an_http_error_status_is_dockerds_error(web, tmp_path, status, reason, cls):
    url = web.serve("/status", b"  nope body  \n", "text/plain", status=status)
    with pytest.raises(BargeError) as err:
        _fetch(url, tmp_path)
    assert type(err.value) is cls
    assert err.value.status == (status if status < 500 else 500)
    assert str(err.value) == (f"error downloading remote context {url}: "
                              f"failed to GET {url} with status {status} {reason}: nope body")


def test_an_unreachable_port_is_dockerds_error(tmp_path):
    port = _free_port()
    url = f"http://127.0.0.1:{port}/ctx.tar"
    with pytest.raises(BargeError) as err:
        _fetch(url, tmp_path)
    assert err.value.status == 500
    assert str(err.value) == (f'error downloading remote context {url}: Get "{url}": '
                              f"dial tcp 127.0.0.1:{port}: connect: connection refused")


def test_a_connection_closed_without_an_answer_is_eof(web, tmp_path):
    web.routes["/drop"] = lambda h: h.wfile.flush()  # the handler returns: the connection closes, no status line
    url = web.url("/drop")
    with pytest.raises(BargeError, match=f'^error downloading remote context {url}: Get "{url}": EOF$'):
        _fetch(url, tmp_path)


def test_a_redirect_is_followed_but_not_to_another_scheme(web, tmp_path):
    web.serve("/ctx.tar", CTX_TAR, "application/x-tar")
    url = web.serve("/moved", b"", None, status=302, headers={"Location": "/ctx.tar"})
    ctx, _ = _fetch(url, tmp_path)
    assert ctx.tar is not None and ctx.tar.read_bytes() == CTX_TAR
    sneaky = web.serve("/sneaky", b"", None, status=302, headers={"Location": "file:///etc/passwd"})
    with pytest.raises(BargeError) as err:
        _fetch(sneaky, tmp_path)
    assert str(err.value) == (f"error downloading remote context {sneaky}: "
                              'Get "file:///etc/passwd": unsupported protocol scheme "file"')  # Go's words


def test_a_big_download_reports_progress_as_it_goes(web, tmp_path):
    body = _tar({"big": os.urandom(3 * 1024 * 1024)})

    def slow(h: _Handler) -> None:  # 256 KiB every 60 ms: past the 100 ms rate limit now and then
        h.send_response(200)
        h.send_header("Content-Type", "application/x-tar")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        for i in range(0, len(body), 256 * 1024):
            h.wfile.write(body[i:i + 256 * 1024])
            h.wfile.flush()
            time.sleep(0.06)
    web.routes["/big.tar"] = slow
    url = web.url("/big.tar")
    ctx, messages = _fetch(url, tmp_path)
    assert ctx.tar is not None and ctx.tar.read_bytes() == body
    currents = [m["progressDetail"]["current"] for m in messages]
    assert len(currents) >= 2 and currents == sorted(currents) and currents[-1] < len(body)
    assert messages == [_progress(url, c) for c in currents]


def test_the_read_timeout_fails_a_silent_server(web, tmp_path, monkeypatch):
    monkeypatch.setattr(remote_http, "HTTP_TIMEOUT", 0.5)
    web.routes["/silent"] = _silent
    url = web.url("/silent")
    with pytest.raises(BargeError, match=f'^error downloading remote context {url}: Get "{url}": i/o timeout$'):
        _fetch(url, tmp_path)


@pytest.mark.parametrize("route", [_dribble, _silent], ids=["mid-body", "before-headers"])
def test_cancel_stops_a_download_promptly(web, tmp_path, route):
    web.routes["/slow"] = route
    cancel = threading.Event()
    timer = threading.Timer(0.4, cancel.set)
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(RemoteCancelled):
            _fetch(web.url("/slow"), tmp_path, cancel=cancel)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 2.0
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all(p.stat().st_size < 1000 for p in written)  # it stopped writing too


def test_an_already_cancelled_fetch_does_nothing(web, tmp_path):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(RemoteCancelled) as err:
        _fetch(web.serve("/ctx.tar", CTX_TAR), tmp_path, cancel=cancel)
    assert err.value.status == 499
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


@pytest.mark.parametrize("size, text", [
    (0, "0B"), (45, "45B"), (224, "224B"), (999, "999B"), (1000, "1kB"), (3000, "3kB"), (10240, "10.24kB"),
    (1234567, "1.235MB"), (999999, "1000kB"), (10 ** 12, "1TB"),
])
def test_sizes_read_as_go_units_writes_them(size, text):
    assert human_size(size) == text


@pytest.mark.parametrize("data, kind", [
    (b"FROM busybox\n", "text/plain; charset=utf-8"), (b"  <html>x", "text/html; charset=utf-8"),
    (b"<!doctype html>", "text/html; charset=utf-8"), (b"<a href=x>", "text/html; charset=utf-8"),
    (b"<abbr>", "text/plain; charset=utf-8"), (b"\n<?xml x", "text/xml; charset=utf-8"),
    (b"\x1f\x8b\x08\x00", "application/x-gzip"), (b"BZh91AY&SY\x00\x01", "application/octet-stream"),
    (b"\xfd7zXZ\x00\x00", "application/octet-stream"), (CTX_TAR[:100], "application/octet-stream"),
    (b"PK\x03\x04", "application/zip"), (b"\xef\xbb\xbfFROM x", "text/plain; charset=utf-8"),
    (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", "video/mp4"), (b"", "text/plain; charset=utf-8"),
])
def test_sniffing_follows_gos_detect_content_type(data, kind):
    assert sniff_content_type(data) == kind


# ------------------------------------------------------------------ the subdir stays in the clone

def test_the_subdir_is_resolved_in_scope_as_moby_does(tmp_path):
    root = tmp_path / "repo"
    (root / "subdir" / "deeper").mkdir(parents=True)
    (root / "parentlink").symlink_to("../subdir")
    (root / "absolutelink").symlink_to("/subdir")
    (root / "up").symlink_to("../../../../..")
    (root / "loop").symlink_to("loop")
    assert resolve_in_scope(root, "subdir") == root / "subdir"
    assert resolve_in_scope(root, "/subdir/") == root / "subdir"
    assert resolve_in_scope(root, "parentlink") == root / "subdir"
    assert resolve_in_scope(root, "absolutelink/deeper") == root / "subdir" / "deeper"
    assert resolve_in_scope(root, "up") == root
    assert resolve_in_scope(root, "up/subdir/../subdir") == root / "subdir"
    assert resolve_in_scope(root, "subdir/..") == root
    with pytest.raises(ValueError, match=f"^evalSymlinksInScope: {tmp_path} is not in {root}$"):
        resolve_in_scope(root, "../repo/../")
    with pytest.raises(ValueError, match="too many links"):
        resolve_in_scope(root, "loop")


# ------------------------------------------------------------------ git

def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(cwd), "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    done = subprocess.run(["git", "-c", "init.defaultBranch=master", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, check=True)
    return done.stdout.strip()


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


class GitServer:
    def __init__(self, base: Path, port: int):
        self.base = base
        self.port = port
        self.shas: dict[str, str] = {}

    def url(self, repo: str) -> str:
        return f"git://127.0.0.1:{self.port}/{repo}"


def _make_repos(base: Path, server: GitServer) -> None:
    """repo.git: master (two commits, tag v1 on the first), a feature branch, a subdir, links leaving it;
    sub.git, served here; withsub.git and filesub.git, whose submodule is sub.git by git:// or by file://."""
    work = base / "work"
    work.mkdir()
    _git(work, "init", "-q")
    _write(work / "Dockerfile", "FROM busybox\nRUN echo v1\n")
    _write(work / "sub/dir/Dockerfile", "FROM busybox\nRUN echo subdir\n")
    _write(work / "sub/dir/file", "x\n")
    (work / "sub" / "esc").symlink_to("../..")
    (work / "sub" / "abs").symlink_to("/etc")
    _git(work, "add", "-A")
    _git(work, "commit", "-qm", "one")
    _git(work, "tag", "v1")
    server.shas["v1"] = _git(work, "rev-parse", "HEAD")
    _git(work, "checkout", "-qb", "feature")
    _write(work / "Dockerfile", "FROM busybox\nRUN echo feature\n")
    _git(work, "commit", "-qam", "feature")
    _git(work, "checkout", "-q", "master")
    _write(work / "Dockerfile", "FROM busybox\nRUN echo master\n")
    _git(work, "commit", "-qam", "two")
    _git(base, "clone", "-q", "--bare", str(work), "repo.git")
    _git(base / "repo.git", "update-server-info")

    sub = base / "subwork"
    sub.mkdir()
    _git(sub, "init", "-q")
    _write(sub / "subfile", "from the submodule\n")
    _git(sub, "add", "-A")
    _git(sub, "commit", "-qm", "sub")
    _git(base, "clone", "-q", "--bare", str(sub), "sub.git")
    for name, sub_url in (("withsub", server.url("sub.git")), ("filesub", f"file://{base}/sub.git")):
        parent = base / f"{name}work"
        parent.mkdir()
        _git(parent, "init", "-q")
        _write(parent / "Dockerfile", "FROM busybox\n")
        _git(parent, "-c", "protocol.file.allow=always", "submodule", "add", "-q", sub_url, "mod")
        _git(parent, "add", "-A")
        _git(parent, "commit", "-qm", "with a submodule")
        _git(base, "clone", "-q", "--bare", str(parent), f"{name}.git")


def _wait_port(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    proc.kill()
    proc.wait()
    pytest.skip(f"git daemon did not listen on 127.0.0.1:{port}")


@pytest.fixture(scope="module")
def gitd(tmp_path_factory) -> Iterator[GitServer]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed (apt-get install git)")
    base = tmp_path_factory.mktemp("gitd")
    port = _free_port()
    proc = subprocess.Popen(["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={base}",
                             "--listen=127.0.0.1", f"--port={port}", str(base)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_port(port, proc)
        server = GitServer(base, port)
        _make_repos(base, server)
        yield server
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 15)
            proc.wait(10)


@pytest.fixture(scope="module")
def dumb_http(gitd) -> Iterator[str]:
    """The same repositories over "dumb" http (static files): no shallow fetch there."""
    handler = partial(SimpleHTTPRequestHandler, directory=str(gitd.base))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    for running in _serve_forever(server):
        yield f"http://127.0.0.1:{running.server_address[1]}"


def _dockerfile(ctx: RemoteContext) -> str:
    assert ctx.directory is not None and ctx.tar is None and ctx.dockerfile == ""
    return (ctx.directory / "Dockerfile").read_text()


@pytest.mark.parametrize("fragment, expected", [
    ("", "master"), ("#master", "master"), ("#feature", "feature"), ("#v1", "v1"), ("#feature:", "feature"),
])
def test_a_git_ref_is_checked_out(gitd, tmp_path, fragment, expected):
    ctx, messages = _fetch(gitd.url("repo.git") + fragment, tmp_path)
    assert _dockerfile(ctx) == f"FROM busybox\nRUN echo {expected}\n"
    assert sorted(p.name for p in ctx.directory.iterdir()) == [".git", "Dockerfile", "sub"]  # .git too, as dockerd
    assert messages == []


@pytest.mark.parametrize("fragment", ["#v1:sub/dir", "#:sub/dir", "#v1:/sub/./dir/", "#v1:sub/esc/sub/dir"])
def test_a_git_subdir_is_the_context(gitd, tmp_path, fragment):
    ctx, _ = _fetch(gitd.url("repo.git") + fragment, tmp_path)
    assert _dockerfile(ctx) == "FROM busybox\nRUN echo subdir\n"
    assert ctx.directory.name == "dir" and sorted(p.name for p in ctx.directory.iterdir()) == ["Dockerfile", "file"]


def test_a_full_commit_sha_is_fetched(gitd, tmp_path):
    ctx, _ = _fetch(gitd.url("repo.git") + "#" + gitd.shas["v1"], tmp_path)
    assert _dockerfile(ctx) == "FROM busybox\nRUN echo v1\n"


@pytest.mark.parametrize("ref", ["nope", "SHORT"])
def test_a_missing_ref_is_dockerds_error(gitd, tmp_path, ref):
    ref = gitd.shas["v1"][:7] if ref == "SHORT" else ref  # dockerd cannot fetch an abbreviated sha either
    with pytest.raises(BargeError) as err:
        _fetch(gitd.url("repo.git") + "#" + ref, tmp_path)
    assert (err.value.status, str(err.value)) == (
        500, f"error fetching: fatal: couldn't find remote ref {ref}\n: exit status 128")


def test_a_missing_repository_is_dockerds_error(gitd, tmp_path):
    with pytest.raises(BargeError) as err:
        _fetch(gitd.url("nope.git"), tmp_path)
    assert str(err.value) == ("error fetching: fatal: remote error: access denied or repository not exported: "
                              "/nope.git\n: exit status 128")


def test_a_subdir_escaping_the_clone_is_refused(gitd, tmp_path):
    with pytest.raises(BargeError) as err:
        _fetch(gitd.url("repo.git") + "#v1:../..", tmp_path)
    assert err.value.status == 500
    assert str(err.value).startswith('error setting git context, "../.." not within git root: evalSymlinksInScope: ')


def test_a_symlinked_subdir_stays_in_the_clone(gitd, tmp_path):
    ctx, _ = _fetch(gitd.url("repo.git") + "#v1:sub/esc", tmp_path)  # sub/esc -> ../.. : the clone's root
    assert ctx.directory is not None and (ctx.directory / ".git").is_dir()
    with pytest.raises(BargeError, match=r"^stat .*/git/etc: no such file or directory$"):
        _fetch(gitd.url("repo.git") + "#v1:sub/abs", tmp_path)  # sub/abs -> /etc : <clone>/etc


@pytest.mark.parametrize("subdir, pattern", [
    ("nodir", r"^stat .*/git/nodir: no such file or directory$"),
    ("sub/dir/file", r"^error setting git context, not a directory: .*/git/sub/dir/file$"),
])
def test_a_subdir_that_is_no_directory_is_dockerds_error(gitd, tmp_path, subdir, pattern):
    with pytest.raises(BargeError, match=pattern):
        _fetch(gitd.url("repo.git") + "#v1:" + subdir, tmp_path)


def test_submodules_are_fetched_but_never_from_files(gitd, tmp_path):
    ctx, _ = _fetch(gitd.url("withsub.git"), tmp_path)
    assert ctx.directory is not None and (ctx.directory / "mod" / "subfile").read_text() == "from the submodule\n"
    with pytest.raises(BargeError, match=r"(?s)^error initializing submodules: .*transport 'file' not allowed"):
        _fetch(gitd.url("filesub.git"), tmp_path)


def test_git_ignores_the_callers_git_environment(gitd, tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", "'protocol.file.allow'='always'")
    ctx, _ = _fetch(gitd.url("repo.git") + "#feature", tmp_path)
    assert _dockerfile(ctx) == "FROM busybox\nRUN echo feature\n"


@pytest.mark.parametrize("fragment, expected", [
    ("", "FROM busybox\nRUN echo master\n"), ("#v1:sub/dir", "FROM busybox\nRUN echo subdir\n"),
    ("#SHA", "FROM busybox\nRUN echo v1\n"),
])
def test_git_over_dumb_http(gitd, dumb_http, tmp_path, fragment, expected):
    url = f"{dumb_http}/repo.git" + fragment.replace("SHA", gitd.shas["v1"])
    assert is_git_url(url)
    ctx, _ = _fetch(url, tmp_path)
    assert _dockerfile(ctx) == expected


def test_git_over_http_unreachable_is_dockerds_error(tmp_path):
    port = _free_port()
    with pytest.raises(BargeError) as err:
        _fetch(f"http://127.0.0.1:{port}/x.git", tmp_path)
    assert str(err.value).startswith(f"error fetching: fatal: unable to access 'http://127.0.0.1:{port}/x.git/': ")
    assert str(err.value).endswith(": exit status 128")


def test_cancel_kills_a_stalled_git(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed (apt-get install git)")
    with socket.socket() as listener:  # accepts, never speaks: git fetch waits
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        cancel = threading.Event()
        timer = threading.Timer(0.5, cancel.set)
        timer.start()
        started = time.monotonic()
        try:
            with pytest.raises(RemoteCancelled):
                _fetch(f"git://127.0.0.1:{listener.getsockname()[1]}/repo.git", tmp_path, cancel=cancel)
        finally:
            timer.cancel()
        assert time.monotonic() - started < 3.0


@pytest.mark.parametrize("answer, shallow", [
    ("application/x-git-upload-pack-advertisement", True),  # a smart server: --depth 1
    ("application/octet-stream", False),                    # a dumb one (static files)
    (None, False),                                          # nothing there (404)
])
def test_only_a_smart_http_server_gets_a_shallow_fetch(web, answer, shallow):
    if answer is not None:
        web.serve("/r.git/info/refs?service=git-upload-pack", b"001e# service=git-upload-pack\n", answer)
    assert remote_git._supports_shallow(web.url("/r.git"), threading.Event()) is shallow
    assert remote_git._supports_shallow("git://127.0.0.1:1/r.git", threading.Event()) is True
