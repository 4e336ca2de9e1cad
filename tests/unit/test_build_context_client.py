"""``barge build`` against the real docker CLI (``DOCKER_BUILDKIT=0 docker build``).

A small HTTP server on a unix socket stands in for the daemon: it answers
``/_ping`` and records ``POST /build`` (path, query, headers, the body as
received) and answers a canned JSON stream. Both CLIs run as processes on
the same contexts and flags; what they send is compared - the query string,
the headers, the tar's members (names, types, modes, owners, link targets,
contents, mtimes, the capability xattr) - and so is what they print and
their exit status. Where docker's tar is truncated (an added Dockerfile:
docker CLI 28 closes its pipe before its tar writer), its members are read
after padding it.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.server
import io
import json
import os
import pty
import re
import select
import shutil
import socket
import socketserver
import stat
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest

from barge.client import build as b
from barge.client import buildcontext, contexttar

DOCKER = shutil.which("docker")
needs_docker = pytest.mark.skipif(DOCKER is None, reason="the docker CLI is not installed")
IMAGE_ID = "sha256:" + "ab" * 32
RANDOM_NAME = re.compile(r"\.dockerfile\.[0-9a-f]{20}")
DEPRECATION = re.compile(r"DEPRECATED: The legacy builder.*?environment-variable\.\n\n?", re.S)


def stream(*messages) -> bytes:
    return b"".join(json.dumps(m).encode() + b"\r\n" for m in messages)


SUCCESS = stream({"stream": "Step 1/2 : FROM busybox\n"}, {"stream": " ---> 0123456789ab\n"},
                 {"stream": "Step 2/2 : RUN echo hi\n"}, {"stream": "hi\n"}, {"aux": {"ID": IMAGE_ID}},
                 {"stream": "Successfully built abababababab\n"}, {"stream": "Successfully tagged x:1\n"})


# ---------------------------------------------------------------- the stand-in daemon

class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class FakeDaemon:
    """Answers ``/_ping`` (API 1.41, as dockerd 20.10) and records each ``POST /build``.

    ``reply`` is the build's answer: a list of byte parts, sent as chunks;
    an ``threading.Event`` in the list is waited for before the next part.
    """

    def __init__(self, path: str):
        self.path = path
        self.builds: list[dict] = []
        self.status = 200
        self.reply: list = [SUCCESS]
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _body(self) -> bytes:
                if "chunked" in (self.headers.get("Transfer-Encoding") or ""):
                    out = bytearray()
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            return bytes(out)
                        out += self.rfile.read(size)
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _ping(self):
                self.send_response(200)
                for key, value in (("Api-Version", "1.41"), ("OSType", "linux"), ("Content-Type", "text/plain"),
                                   ("Content-Length", "2")):
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(b"OK")

            def _build(self):
                fake.builds.append({"path": self.path, "headers": dict(self.headers), "body": self._body()})
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for part in fake.reply:
                    if isinstance(part, threading.Event):
                        part.wait(20)
                        continue
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")

            def handle_any(self):
                route = self.path.split("?")[0]
                if route.endswith("/_ping"):
                    return self._ping()
                if re.fullmatch(r"/v[\d.]+/build", route) and self.command == "POST":
                    return self._build()
                payload = b'{"message":"page not found"}'
                self.send_response(404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_HEAD = handle_any

        self.server = _Server(path, Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def last(self) -> dict:
        assert self.builds, "no POST /build was received"
        return self.builds[-1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake(tmp_path):
    d = FakeDaemon(str(tmp_path / "d.sock"))
    yield d
    d.close()


@pytest.fixture
def cfg(tmp_path):
    path = tmp_path / "dockercfg"
    path.mkdir()
    return path


def _env(fake: FakeDaemon, cfg: Path, extra: dict | None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "BARGE_"))}
    env.update({"DOCKER_CONFIG": str(cfg), "DOCKER_BUILDKIT": "0", "DOCKER_HOST": "unix://" + fake.path,
                "BARGE_HOST": "unix://" + fake.path})
    env.update(extra or {})
    return env


def run_cli(which: str, fake, cfg, args, cwd, input: bytes | None = None, env: dict | None = None):
    """One ``docker build`` or ``barge build``: (exit code, stdout, stderr, the request)."""
    command = [DOCKER, "build"] if which == "docker" else [sys.executable, "-m", "barge", "build"]
    before = len(fake.builds)
    proc = subprocess.run(command + list(args), cwd=cwd, input=input, capture_output=True, timeout=60,
                          env=_env(fake, cfg, env), stdin=None if input is not None else subprocess.DEVNULL)
    err = DEPRECATION.sub("", proc.stderr.decode()) if which == "docker" else proc.stderr.decode()
    request = fake.builds[-1] if len(fake.builds) > before else None
    return proc.returncode, proc.stdout.decode(), err, request


def both(fake, cfg, args, cwd, input: bytes | None = None, env: dict | None = None):
    return (run_cli("docker", fake, cfg, args, cwd, input, env), run_cli("barge", fake, cfg, args, cwd, input, env))


# ---------------------------------------------------------------- reading what was sent

def members(body: bytes) -> list[dict]:
    """The tar's entries as comparable records (a truncated tar is padded first)."""
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    body += b"\0" * (-len(body) % 512) + b"\0" * 1024
    out = []
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:") as tar:
        for m in tar:
            data = tar.extractfile(m).read() if m.isreg() else b""
            out.append({"name": m.name + "/" * m.isdir(), "type": m.type, "mode": oct(m.mode), "uid": m.uid,
                        "gid": m.gid, "uname": m.uname, "gname": m.gname, "size": m.size, "link": m.linkname,
                        "dev": (m.devmajor, m.devminor) if m.ischr() or m.isblk() else None,
                        "sha": hashlib.sha256(data).hexdigest()[:16], "data": data if len(data) < 200 else None,
                        "mtime": int(m.mtime),
                        "xattrs": {k: v for k, v in m.pax_headers.items() if k.startswith("SCHILY.xattr.")}})
    return out


def raw_names(body: bytes) -> list[str]:
    """Header names as written (directories keep their ``/``): ustar entries only."""
    names, offset = [], 0
    while offset + 512 <= len(body):
        block = body[offset:offset + 512]
        if block == bytes(512):
            break
        size = int(block[124:136].rstrip(b"\0 ") or b"0", 8)
        if block[156:157] not in (b"x", b"g"):
            prefix = block[345:500].rstrip(b"\0").decode()
            name = block[:100].rstrip(b"\0").decode("utf-8", "replace")
            names.append(f"{prefix}/{name}" if prefix else name)
        offset += 512 + size + (-size % 512)
    return names


def same_members(docker_body: bytes, barge_body: bytes, fresh: tuple[str, ...] = ()) -> list[dict]:
    """Docker's and barge's entries agree; entries the CLI adds at the end
    (random name, now as mtime) and files it writes (``fresh``) agree up to
    their name and a few seconds."""
    ours, theirs = members(barge_body), members(docker_body)

    def normal(entries):
        fixed = []
        for e in entries:
            e = dict(e)
            if e["name"] in fresh or "*" in fresh:
                e["mtime"] = abs(e["mtime"] - time.time()) < 60
            if RANDOM_NAME.search(e["name"]) or (e["data"] and RANDOM_NAME.search(e["data"].decode("latin-1"))):
                e["mtime"] = abs(e["mtime"] - time.time()) < 60
                e["name"] = RANDOM_NAME.sub(".dockerfile.X", e["name"])
                e["data"] = RANDOM_NAME.sub(".dockerfile.X", e["data"].decode()).encode()
                e["sha"] = None
            fixed.append(e)
        return fixed

    a, d = normal(ours), normal(theirs)
    tail = sum(1 for e in d if e["name"] in (".dockerfile.X", ".dockerignore") and e["uid"] == 0 and e["mode"] == "0o600")
    walked = len(d) - tail if tail and d[-1]["name"] in (".dockerfile.X", ".dockerignore") else len(d)
    assert a[:walked] == d[:walked]
    key = lambda e: e["name"]  # noqa: E731 - Go adds these from a map: any order
    assert sorted(a[walked:], key=key) == sorted(d[walked:], key=key)
    return a


def query(request) -> str:
    path = RANDOM_NAME.sub(".dockerfile.X", request["path"].replace("%2E", "."))
    return path.partition("?")[2]


def assert_same_request(docker, ours, fresh: tuple[str, ...] = ()) -> dict:
    """Same query, same build headers, same tar members; returns barge's request."""
    d_req, b_req = docker[3], ours[3]
    assert docker[0] == ours[0] == 0, (docker, ours)
    assert d_req is not None and b_req is not None
    assert query(b_req) == query(d_req)
    assert b_req["path"].partition("?")[0] == d_req["path"].partition("?")[0] == "/v1.41/build"
    for header in ("Content-Type", "X-Registry-Config", "Transfer-Encoding"):
        assert b_req["headers"].get(header) == d_req["headers"].get(header), header
    same_members(d_req["body"], b_req["body"], fresh)
    return b_req


# ---------------------------------------------------------------- contexts

def make_tree(root: Path) -> None:
    """Every kind of entry the CLI tars, with modes, times and names that show differences."""
    (root / "sub" / "deep").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "sticky").mkdir(mode=0o777)
    os.chmod(root / "sticky", 0o1777)
    (root / "Dockerfile").write_text("FROM busybox\nCOPY . /ctx\n")
    (root / "sub" / "a.txt").write_text("a\n")
    (root / "sub" / "deep" / "b.log").write_text("b" * 3000)
    (root / "private").write_bytes(b"\x00\x01secret")
    os.chmod(root / "private", 0o600)
    (root / "tool").write_text("#!/bin/sh\n")
    os.chmod(root / "tool", 0o4755)
    os.symlink("sub/a.txt", root / "rel-link")
    os.symlink("/etc/hostname", root / "abs-link")
    os.symlink("missing", root / "dangling")
    os.link(root / "sub" / "a.txt", root / "hard")
    os.link(root / "sub" / "a.txt", root / "sub" / "deep" / "hard2")
    os.mkfifo(root / "fifo")
    long_dir = root / ("d" * 60) / ("e" * 60)
    long_dir.mkdir(parents=True)
    (long_dir / "long-name.txt").write_text("long\n")
    (root / "zé-ünïcode.txt").write_text("u\n")
    (root / "big.bin").write_bytes(os.urandom(1 << 20) * 3)
    os.utime(root / "private", (86400, 86400.75))
    os.utime(root / "sub" / "a.txt", ns=(1_600_000_000_123_456_789, 1_600_000_000_987_654_321))
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(root / "sock"))
    finally:
        sock.close()
    try:
        os.setxattr(root / "tool", "security.capability", b"\x01\x00\x00\x02" + b"\x00\x04\x00\x00" + bytes(12))
        os.setxattr(root / "sub" / "a.txt", "user.other", b"not sent")
    except OSError:
        pass  # no xattrs here: the rest of the tree still counts
    try:
        os.mknod(root / "null", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except OSError:
        pass


@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "ctx"
    root.mkdir()
    make_tree(root)
    return root


@pytest.fixture
def simple(tmp_path) -> Path:
    """A context without a socket (the docker CLI logs a line for each one)."""
    root = tmp_path / "ctx"
    root.mkdir()
    (root / "Dockerfile").write_text("FROM busybox\n")
    (root / "file").write_text("x" * 5000)
    return root


# ---------------------------------------------------------------- what is sent: directories

@needs_docker
def test_a_directory_goes_as_the_cli_tars_it(fake, cfg, tree):
    docker, ours = both(fake, cfg, ["-t", "x:1", "ctx"], tree.parent)
    request = assert_same_request(docker, ours)
    entries = {e["name"]: e for e in members(request["body"])}
    assert entries["hard"]["type"] == tarfile.REGTYPE  # the first name walked holds the data
    assert entries["sub/a.txt"]["link"] == entries["sub/deep/hard2"]["link"] == "hard"
    assert entries["tool"]["mode"] == "0o4755" and entries["sticky/"]["mode"] == "0o1777"
    assert entries["private"]["mtime"] == 86400 and entries["sub/deep/b.log"]["mtime"] > 1_600_000_000
    assert "sock" not in entries and all(e["uid"] == e["gid"] == 0 and e["uname"] == "" for e in entries.values())
    if os.path.exists(tree / "null"):
        assert entries["null"]["dev"] == (1, 3)
    if "SCHILY.xattr.security.capability" in entries["tool"]["xattrs"]:
        assert entries["sub/a.txt"]["xattrs"] == {}
    assert "empty/" in raw_names(request["body"]) and request["body"].endswith(bytes(1024))
    assert ours[1] == docker[1]  # "Sending build context to Docker daemon  3.16MB\r\r\n" and the stream


IGNORES = [
    "*.log\n!sub/deep/b.log\nsub/deep\n",
    "Dockerfile\n.dockerignore\n",
    "# comment\n**/*.txt\n!sub/a.txt\n/empty/\n",
    "sub\n!sub/deep/*.log\n",
    "dddd*\n!" + "d" * 60 + "/" + "e" * 60 + "/long-name.txt\n",
    "*\n!Dockerfile\n!tool\n",
    "./sub/../private\n  fifo  \n\n! hard\n",
    "**\n!**/*.txt\n",
]


@needs_docker
@pytest.mark.parametrize("ignore", IGNORES)
def test_dockerignore_is_applied_as_the_cli_applies_it(fake, cfg, tree, ignore):
    (tree / ".dockerignore").write_text(ignore)
    docker, ours = both(fake, cfg, ["ctx"], tree.parent)
    assert_same_request(docker, ours)


@needs_docker
def test_dockerfile_inside_the_context_excluded_or_lowercase(fake, cfg, tree):
    (tree / "sub" / "Dockerfile.dev").write_text("FROM dev\n")
    (tree / ".dockerignore").write_text("sub\n")
    docker, ours = both(fake, cfg, ["-f", "ctx/sub/Dockerfile.dev", "ctx"], tree.parent)
    request = assert_same_request(docker, ours)
    assert "dockerfile=sub%2FDockerfile.dev" in request["path"]
    os.rename(tree / "Dockerfile", tree / "dockerfile")
    docker, ours = both(fake, cfg, ["."], tree)
    assert "dockerfile=dockerfile" in assert_same_request(docker, ours)["path"]


@needs_docker
@pytest.mark.parametrize("ignore", [None, "sub\n", ".dockerignore\n"])
def test_dockerfile_outside_the_context_is_added_under_a_random_name(fake, cfg, tree, ignore):
    (tree.parent / "outside.Dockerfile").write_text("FROM outside\n")
    if ignore is not None:
        (tree / ".dockerignore").write_text(ignore)
    docker, ours = both(fake, cfg, ["-f", "outside.Dockerfile", "ctx"], tree.parent)
    request = assert_same_request(docker, ours)
    name = re.search(r"dockerfile=(\.dockerfile\.[0-9a-f]{20})", request["path"]).group(1)
    entries = {e["name"]: e for e in members(request["body"])}
    assert entries[name]["data"] == b"FROM outside\n" and entries[name]["mode"] == "0o600"
    assert entries[".dockerignore"]["data"].endswith(f"\n{name}\n".encode())


@needs_docker
def test_dockerfile_from_stdin_with_a_directory(fake, cfg, tree):
    (tree / ".dockerignore").write_text("Dockerfile\n")
    docker, ours = both(fake, cfg, ["-f", "-", "ctx"], tree.parent, input=b"FROM stdin\n")
    request = assert_same_request(docker, ours)
    entries = {e["name"]: e for e in members(request["body"])}
    assert "Dockerfile" not in entries and b"FROM stdin\n" in [e["data"] for e in entries.values()]


@needs_docker
def test_compressed_context(fake, cfg, tree):
    docker, ours = both(fake, cfg, ["--compress", "ctx"], tree.parent)
    request = assert_same_request(docker, ours)
    assert request["body"][:3] == b"\x1f\x8b\x08"
    assert ours[1].startswith("Sending build context to Docker daemon ")


# ---------------------------------------------------------------- what is sent: stdin and URLs

def _tar_of(root: Path, fmt=tarfile.USTAR_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        tar.add(root, arcname=".")
    return buf.getvalue()


@needs_docker
def test_stdin_archives_go_as_they_are(fake, cfg, tree):
    archive = _tar_of(tree / "sub")
    for data, args in ((archive, ["-"]), (gzip.compress(archive), ["-"]), (archive, ["-f", "deep/x", "-"])):
        docker, ours = both(fake, cfg, args, tree, input=data)
        assert docker[3]["body"] == ours[3]["body"] == data
        assert query(ours[3]) == query(docker[3])
        assert ours[:3] == docker[:3]
    # A tar starting with a PAX header longer than Go's peek is not recognised: a "Dockerfile" for both.
    docker, ours = both(fake, cfg, ["-"], tree, input=_tar_of(tree / "sub", tarfile.PAX_FORMAT))
    assert [e["name"] for e in members(assert_same_request(docker, ours, ("Dockerfile",))["body"])] == ["Dockerfile"]


@needs_docker
def test_stdin_dockerfile_is_tarred_alone(fake, cfg, tmp_path):
    docker, ours = both(fake, cfg, ["-"], tmp_path, input=b"FROM busybox\nRUN true\n")
    request = assert_same_request(docker, ours, fresh=("Dockerfile",))
    assert [e["name"] for e in members(request["body"])] == ["Dockerfile"]
    assert query(request) == "dockerfile=Dockerfile&version=1"


class _Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def web(tmp_path):
    """A file server on loopback: (base URL, its directory)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = lambda *a, **k: _Files(*a, directory=str(root), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


@needs_docker
def test_url_contexts_are_downloaded_by_the_client(fake, cfg, tree, web):
    base, root = web
    (root / "ctx.tar").write_bytes(_tar_of(tree / "sub"))
    (root / "Dockerfile").write_text("FROM url\n")
    docker, ours = both(fake, cfg, [f"{base}/ctx.tar"], tree)
    assert docker[3]["body"] == ours[3]["body"] == (root / "ctx.tar").read_bytes()
    assert query(ours[3]) == query(docker[3]) == "version=1"
    assert "remote=" not in ours[3]["path"]
    docker, ours = both(fake, cfg, [f"{base}/Dockerfile"], tree)
    request = assert_same_request(docker, ours, fresh=("Dockerfile",))
    assert [e["data"] for e in members(request["body"])] == [b"FROM url\n"]
    assert ours[1].startswith(f"Downloading build context from remote url: {base}/Dockerfile [")
    docker, ours = both(fake, cfg, ["-f", "-", f"{base}/ctx.tar"], tree, input=b"FROM stdin\n")
    assert_same_request(docker, ours)
    (root / "ctx.tgz").write_bytes(gzip.compress(_tar_of(tree / "sub")))
    docker, ours = both(fake, cfg, ["-f", "-", f"{base}/ctx.tgz"], tree, input=b"FROM stdin\n")
    assert ours[0] == docker[0] == 1  # Go's tar reader takes no gzip: both fail (in their own words)
    assert "unable to add the Dockerfile to the context: " in ours[2]
    docker, ours = both(fake, cfg, [f"{base}/absent"], tree)
    assert ours[0] == docker[0] == 1 and ours[3] is None
    assert ours[2].splitlines()[0] == docker[2].splitlines()[0]
    assert ours[2].startswith(f"unable to prepare context: unable to download remote context {base}/absent: "
                              f"failed to GET {base}/absent with status 404 ")


def _git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(cwd)})


@pytest.fixture
def git_server(tmp_path):
    """A repository served by ``git daemon`` on loopback: its base URL."""
    if shutil.which("git") is None or subprocess.run(["git", "daemon", "-h"], capture_output=True).returncode == 127:
        pytest.skip("git (with git daemon) is not installed")
    work = tmp_path / "work"
    (work / "app" / "sub").mkdir(parents=True)
    (work / "app" / "Dockerfile").write_text("FROM git\n")
    (work / "app" / "sub" / "file").write_text("f\n")
    (work / "README").write_text("r\n")
    _git(work, "init", "-q", "-b", "main")
    _git(work, "add", ".")
    _git(work, "commit", "-qm", "one")
    _git(tmp_path, "clone", "-q", "--bare", str(work), str(tmp_path / "repos" / "r.git"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(["git", "daemon", "--export-all", "--reuseaddr", "--listen=127.0.0.1", f"--port={port}",
                             f"--base-path={tmp_path / 'repos'}", str(tmp_path / "repos")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"git://127.0.0.1:{port}/r.git"
    finally:
        proc.terminate()
        proc.wait(10)


@needs_docker
def test_git_contexts_are_cloned_by_the_client(fake, cfg, tmp_path, git_server):
    temp = tmp_path / "tmpdir"  # where both clone: docker leaves clones behind, barge must not
    temp.mkdir()
    env = {"TMPDIR": str(temp)}
    docker, ours = both(fake, cfg, [git_server + "#main:app"], tmp_path, env=env)
    request = assert_same_request(docker, ours, fresh=("*",))  # a checkout: every file is new
    assert sorted(e["name"] for e in members(request["body"])) == ["Dockerfile", "sub/", "sub/file"]
    docker, ours = both(fake, cfg, [git_server + "#main"], tmp_path, env=env)  # no Dockerfile at the top
    assert ours[0] == docker[0] == 1 and ours[3] is None
    assert re.sub(r"/\S+/Dockerfile", "X", ours[2]) == re.sub(r"/\S+/Dockerfile", "X", docker[2])
    docker, ours = both(fake, cfg, ["-f", "app/Dockerfile", git_server + "#main"], tmp_path, env=env)
    names = [{e["name"] for e in members(r[3]["body"]) if not e["name"].startswith(".git/")} for r in (docker, ours)]
    assert names[0] == names[1] and ".git/" in {e["name"] for e in members(ours[3]["body"])}
    docker, ours = both(fake, cfg, ["-f", "Dockerfile", git_server + "#nope"], tmp_path, env=env)
    assert ours[0] == docker[0] == 1 and ours[3] is None
    assert ours[2].startswith("unable to prepare context: unable to 'git clone' to temporary context directory: "
                              "error fetching: ")
    assert not list(temp.glob("barge-build-git*"))


# ---------------------------------------------------------------- the query and headers

@needs_docker
def test_every_flag_becomes_the_same_query(fake, cfg, tree):
    args = ["-t", "a:1", "-t", "b/c:2", "--build-arg", "A=1", "--build-arg", "B=x y<&>", "--build-arg", "FROM_ENV",
            "--build-arg", "UNSET_HERE", "--target", "t1", "--no-cache", "--pull", "--rm=false", "--force-rm",
            "--label", "l1=v1", "--label", "l2", "--network", "host", "--add-host", "h1:1.2.3.4",
            "--add-host", "h2=[::1]", "--add-host", "gw:host-gateway", "--cache-from", "c1", "--cache-from", "c2,c3",
            "--shm-size", "64m", "-m", "128m", "--memory-swap", "-1", "-c", "512", "--cpuset-cpus", "0-1",
            "--cpuset-mems", "0", "--cpu-period", "100000", "--cpu-quota", "0x10", "--cgroup-parent", "cg",
            "--ulimit", "nofile=100:200", "--security-opt", "seccomp=unconfined", "--isolation", "default",
            "--platform", "Linux/AMD64", "ctx"]
    docker, ours = both(fake, cfg, args, tree.parent, env={"FROM_ENV": "from env"})
    request = assert_same_request(docker, ours)
    assert "q=1" not in request["path"] and "rm=0" in request["path"]
    docker, ours = both(fake, cfg, ["--network=default", "--rm=true", "-q", "ctx"], tree.parent,
                        env={"DOCKER_DEFAULT_PLATFORM": "linux/arm64"})
    assert_same_request(docker, ours)


@needs_docker
def test_credentials_and_proxies_from_config_json(fake, cfg, tree):
    auth = base64.b64encode(b"user:pass&<>").decode()
    (cfg / "config.json").write_text(json.dumps({
        "auths": {"127.0.0.1:5000": {"auth": auth}, "https://index.docker.io/v1/": {"identitytoken": "tok"}},
        "proxies": {"default": {"httpProxy": "http://proxy:3128", "noProxy": "localhost"}}}))
    docker, ours = both(fake, cfg, ["--build-arg", "no_proxy=mine", "ctx"], tree.parent)
    request = assert_same_request(docker, ours)
    sent = json.loads(base64.urlsafe_b64decode(request["headers"]["X-Registry-Config"]))
    assert sent["127.0.0.1:5000"] == {"username": "user", "password": "pass&<>", "serveraddress": "127.0.0.1:5000"}
    assert json.loads(base64.urlsafe_b64decode(docker[3]["headers"]["X-Registry-Config"])) == sent


BAD_FLAGS = [["-m", "abc"], ["--memory-swap", "1x"], ["--shm-size", "-1"], ["-c", "ten"], ["--cpu-quota", "1.5"],
             ["--add-host", "foo"], ["--add-host", "h:999.1.1.1"], ["--build-arg", "=x"], ["-t", "UPPER"],
             ["-t", "a:b:c"], ["--label", " a b=1"], ["--label", "=v"], ["--ulimit", "nope=1"]]


@needs_docker
@pytest.mark.parametrize("flag", BAD_FLAGS, ids=lambda f: " ".join(f))
def test_bad_flag_values_are_refused_as_docker_refuses_them(fake, cfg, tree, flag):
    docker, ours = both(fake, cfg, [*flag, "ctx"], tree.parent)
    assert ours[0] == docker[0] == 125
    assert ours[2] == docker[2].replace("docker build", "barge build")
    assert ours[3] is None


@needs_docker
@pytest.mark.parametrize("args,cwd", [
    (["empty"], "."), (["ctx/Dockerfile"], "."), (["-f", "-", "-"], "."), (["absent-dir"], "."),
    (["-f", "nope", "ctx"], "."), (["-f", "x", "-"], "stdin"), (["bad"], "."),
])
def test_context_errors_match(fake, cfg, tree, args, cwd):
    (tree.parent / "empty").mkdir()
    (tree.parent / "bad").mkdir()
    (tree.parent / "bad" / "Dockerfile").write_text("FROM x\n")
    (tree.parent / "bad" / ".dockerignore").write_text("[\n")
    stdin = b"FROM x\n" if cwd == "stdin" else None
    docker, ours = both(fake, cfg, args, tree.parent, input=stdin)
    assert ours[0] == docker[0] == 1
    assert ours[2] == docker[2]
    assert ours[3] is None


# ---------------------------------------------------------------- what is printed

@needs_docker
@pytest.mark.parametrize("reply,args", [
    (SUCCESS, []),
    (SUCCESS, ["-q"]),
    (stream({"aux": {"ID": IMAGE_ID}}, {"stream": IMAGE_ID + "\n"}), ["-q"]),
    (stream({"stream": "Step 1/2 : FROM busybox\n"}, {"status": "Pulling", "id": "x", "progressDetail": {}},
            {"errorDetail": {"code": 3, "message": "The command '/bin/sh -c exit 3' returned a non-zero code: 3"},
             "error": "The command '/bin/sh -c exit 3' returned a non-zero code: 3"}), []),
    (stream({"stream": "Step 1/1 : FROM nope\n"}, {"errorDetail": {"message": "pull access denied"},
                                                   "error": "pull access denied"}), ["-q"]),
    (stream({"stream": "x\n"}, {"errorDetail": {}}), []),
    (stream({"error": "only the old field"}, {"stream": "after\n"}, {"aux": {"ID": IMAGE_ID}}), []),
])
def test_the_stream_is_shown_as_docker_shows_it(fake, cfg, simple, reply, args):
    fake.reply = [reply]
    iid = simple.parent / "iid"
    results = []
    for which in ("docker", "barge"):
        iid.write_text("stale")
        results.append(run_cli(which, fake, cfg, [*args, "--iidfile", str(iid), "ctx"], simple.parent)
                       + (iid.read_text() if iid.exists() else None,))
    docker, ours = results
    assert ours[:3] == docker[:3]
    assert ours[4] == docker[4]


@needs_docker
def test_daemon_refusals_and_missing_ids(fake, cfg, simple):
    fake.reply = [stream({"stream": "no id\n"})]
    docker, ours = both(fake, cfg, ["--iidfile", str(simple.parent / "iid"), "ctx"], simple.parent)
    assert ours[:3] == docker[:3] and ours[0] == 1
    fake.status = 500
    fake.reply = [b'{"message":"builder broke"}']
    docker, ours = both(fake, cfg, ["-q", "ctx"], simple.parent)
    assert ours[0] == docker[0] == 1
    assert ours[2].endswith("Error response from daemon: builder broke\n")
    assert ours[2] == docker[2]


def test_output_is_live_on_a_terminal(fake, cfg, tree):
    """A step's output shows while the build goes on (nothing is held back)."""
    go = threading.Event()
    fake.reply = [stream({"stream": "Step 1/2 : RUN sleep\n"}, {"stream": "first line\n"}), go,
                  stream({"aux": {"ID": IMAGE_ID}}, {"stream": "Successfully built abababababab\n"})]
    pid, fd = pty.fork()
    if pid == 0:  # the child: barge on a terminal
        env = _env(fake, cfg, None)
        os.chdir(tree.parent)
        os.execve(sys.executable, [sys.executable, "-m", "barge", "build", "ctx"], env)
    seen = b""
    try:
        deadline = time.monotonic() + 30
        while b"first line" not in seen and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.2)[0]:
                seen += os.read(fd, 4096)
        assert b"first line" in seen, seen
        assert b"Successfully built" not in seen
        # progress redrawn in place, then the last count and docker's "\r\r\n" (the terminal adds a \r)
        assert re.match(rb"(Sending build context to Docker daemon +[\d.]+[kM]B\r)+\r\r\nStep 1/2", seen), seen
    finally:
        go.set()
        while True:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            seen += data
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0 and b"Successfully built abababababab" in seen


# ---------------------------------------------------------------- the pieces, without docker

def test_query_order_and_encoding_are_go_s():
    options = b.BuildOptions(tags=["b:1", "a:1"], build_args={"Z": None, "A": "<x>"}, labels={"k": "v"},
                             remove=False, network_mode="none", memory=5, platform="Linux/ARM64")
    assert b.build_query(options, "Dockerfile") == [
        ("buildargs", '{"A":"\\u003cx\\u003e","Z":null}'), ("dockerfile", "Dockerfile"), ("labels", '{"k":"v"}'),
        ("memory", "5"), ("networkmode", "none"), ("platform", "linux/arm64"), ("rm", "0"), ("t", "b:1"),
        ("t", "a:1"), ("version", "1")]


@pytest.mark.parametrize("text,value", [("10", 10), ("0x10", 16), ("010", 8), ("0o10", 8), ("0b11", 3),
                                        ("-5", -5), ("+5", 5), ("1_000", 1000)])
def test_go_integers(text, value):
    assert b.parse_go_int(text) == value


@pytest.mark.parametrize("text", ["", " 1", "1.5", "--1", "0x", "9223372036854775808"])
def test_go_integers_refused(text):
    with pytest.raises(ValueError):
        b.parse_go_int(text)


def test_archive_detection():
    plain = _tar_of_bytes({"a": b"x"})
    assert contexttar.is_archive(plain[:1024])
    assert contexttar.is_archive(gzip.compress(plain)[:1024])
    assert not contexttar.is_archive(b"FROM busybox\n")
    assert not contexttar.is_archive(b"")
    assert not contexttar.is_archive(bytes(1024))
    # Go's reader needs the header after a PAX one, which lies past the 1024 bytes peeked
    long_name = _tar_of_bytes({"n" * 300: b"x"}, tarfile.PAX_FORMAT)
    assert not contexttar.is_archive(long_name[:1024])
    assert contexttar.is_archive(_tar_of_bytes({"n" * 300: b"x"}, tarfile.GNU_FORMAT)[:1024]) is False


def _tar_of_bytes(files: dict, fmt=tarfile.USTAR_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_a_large_context_streams_in_bounded_memory(tmp_path):
    """100 MB of context never sits in memory: chunks stay at most 1 MiB."""
    root = tmp_path / "big"
    root.mkdir()
    (root / "Dockerfile").write_text("FROM scratch\n")
    with open(root / "blob", "wb") as fh:
        fh.truncate(100 << 20)
    context = buildcontext.prepare(str(root), "", io.BytesIO(), lambda *a: None)
    try:
        sizes = [len(chunk) for chunk in context.chunks]
    finally:
        context.close()
    assert max(sizes) <= 1 << 20 and sum(sizes) > 100 << 20


def test_progress_reader_reports_like_docker():
    reports = []
    chunks = [b"x" * (300 * 1024)] * 4
    assert list(buildcontext.Progress(lambda *r: reports.append(r)).count(iter(chunks))) == chunks
    assert reports[0] == (600 * 1024, 0, False) and reports[-1] == (1200 * 1024, 0, True)


def test_small_pieces_are_joined_into_bigger_chunks():
    pieces = [b"h" * 512, b"d" * 100, b"x" * (2 << 20), b"h" * 512] + [b"s" * 512] * 300
    out = list(contexttar.coalesced(iter(pieces)))
    assert b"".join(out) == b"".join(pieces)
    assert [len(c) for c in out[:2]] == [612, 2 << 20] and all(len(c) <= 64 * 1024 for c in out[2:])
