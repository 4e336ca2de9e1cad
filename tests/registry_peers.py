"""Registry peers for the pull/push tests, all on 127.0.0.1.

* :class:`Distribution`: Debian's ``docker-registry`` (CNCF distribution
  2.8) started by PID on a free port, optionally behind htpasswd.
* :class:`FakeRegistry`: a small registry on :mod:`http.server` in a thread
  that serves crafted manifests and blobs, and lets a test replace the
  answer to any request (wrong bytes, a cut connection, 401/403/429/500,
  a registry that goes down and comes back on the same port).
* Image building blocks: layer tars, configs, manifests, and an uploader
  that pushes blobs and manifests over plain HTTP (no barge code involved).
* What a daemon has recorded (graph db rows read-only, driver layer dirs,
  pull temp dirs), so a failed pull can be shown to leave nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tarfile
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

import pytest

from barge.testing.wait import WaitTimeout, wait_for

REGISTRY = "/usr/bin/docker-registry"
HTPASSWD = "/usr/bin/htpasswd"

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------
# Debian's docker-registry
# ---------------------------------------------------------------------------


class Distribution:
    """``docker-registry serve <config>`` on 127.0.0.1:<free port>; :meth:`stop` by PID."""

    def __init__(self, root: Path, auth: tuple[str, str] | None = None):
        if not os.path.exists(REGISTRY):
            pytest.skip(f"{REGISTRY} missing (apt-get install docker-registry)")
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        lines = [
            "version: 0.1",
            "log: {level: error}",
            f"storage: {{filesystem: {{rootdirectory: {self.root / 'data'}}}, delete: {{enabled: true}}}}",
            f"http: {{addr: '{self.host}'}}",
        ]
        if auth:
            if not os.path.exists(HTPASSWD):
                pytest.skip(f"{HTPASSWD} missing (apt-get install apache2-utils)")
            line = subprocess.run([HTPASSWD, "-Bbn", *auth], check=True, capture_output=True, text=True).stdout
            (self.root / "htpasswd").write_text(line.strip() + "\n")
            lines.append(f"auth: {{htpasswd: {{realm: barge-test, path: {self.root / 'htpasswd'}}}}}")
        (self.root / "config.yml").write_text("\n".join(lines) + "\n")
        self._log = open(self.root / "registry.log", "wb")
        self.proc = subprocess.Popen([REGISTRY, "serve", str(self.root / "config.yml")], stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            wait_for(lambda: self.proc.poll() is not None or self._answers(), 15, ignore=(OSError,),
                     what="docker-registry to answer")
            started = self.proc.poll() is None
        except WaitTimeout:
            started = False
        if not started:
            self.stop()
            pytest.fail(f"docker-registry did not start: {(self.root / 'registry.log').read_text()}")

    def _answers(self) -> bool:
        try:
            urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1).close()
        except urllib.error.HTTPError:
            pass  # 401: up, wants auth
        return True

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


# ---------------------------------------------------------------------------
# images made by hand
# ---------------------------------------------------------------------------


def layer_tar(files: dict[str, bytes], symlinks: dict[str, str] | None = None,
              mode: int = 0o644) -> bytes:
    """An uncompressed layer: regular files (parent dirs added) and symlinks, fixed mtimes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        dirs = sorted({str(Path(p).parent) for p in list(files) + list(symlinks or {})} - {"."})
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1_700_000_000
            tf.addfile(info)
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), mode, 1_700_000_000
            tf.addfile(info, io.BytesIO(data))
        for path, target in (symlinks or {}).items():
            info = tarfile.TarInfo(path)
            info.type, info.linkname, info.mtime = tarfile.SYMTYPE, target, 1_700_000_000
            tf.addfile(info)
    return buf.getvalue()


def raw_tar(members: list[tarfile.TarInfo], payloads: dict[str, bytes] | None = None) -> bytes:
    """A tar of exactly these headers (names kept as given: ``../x``, ``/abs``...)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for info in members:
            data = (payloads or {}).get(info.name)
            if data is not None:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            else:
                tf.addfile(info)
    return buf.getvalue()


def compress(tar: bytes, kind: str) -> tuple[bytes, str]:
    """(blob, OCI media type) of ``tar`` as ``gzip``, ``zstd`` or ``none``."""
    if kind == "gzip":
        return gzip.compress(tar, compresslevel=1, mtime=0), OCI_LAYER_GZIP
    if kind == "zstd":
        import zstandard

        return zstandard.ZstdCompressor(level=3).compress(tar), OCI_LAYER_ZSTD
    return tar, OCI_LAYER


@dataclass
class Image:
    """A hand-made image: blobs by digest, the manifest and its digest."""

    config: bytes
    manifest: bytes
    media_type: str
    blobs: dict[str, bytes] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return digest_of(self.manifest)

    @property
    def id(self) -> str:
        return digest_of(self.config)

    @property
    def layer_digests(self) -> list[str]:
        return [x["digest"] for x in json.loads(self.manifest)["layers"]]


def make_image(layers: list[tuple[bytes, bytes, str]] | list[bytes], arch: str = "amd64", os_: str = "linux",
               oci: bool = True, cmd: list[str] | None = None, note: str = "") -> Image:
    """An image of ``layers``: each either an uncompressed tar (gzip'ed here) or
    ``(tar, blob, media_type)``. ``note`` makes otherwise equal configs differ."""
    triples = []
    for layer in layers:
        if isinstance(layer, bytes):
            blob, media_type = compress(layer, "gzip")
            triples.append((layer, blob, media_type if oci else DOCKER_LAYER))
        else:
            triples.append(layer)
    config = {"architecture": arch, "os": os_, "created": "2024-01-01T00:00:00Z",
              "config": {"Cmd": cmd or ["/bin/sh"], "Env": ["PATH=/bin"], "Labels": {"note": note} if note else None},
              "rootfs": {"type": "layers", "diff_ids": [digest_of(t) for t, _, _ in triples]}}
    config_bytes = json.dumps(config, sort_keys=True).encode()
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST if oci else DOCKER_MANIFEST,
                "config": {"mediaType": OCI_CONFIG if oci else DOCKER_CONFIG, "digest": digest_of(config_bytes),
                           "size": len(config_bytes)},
                "layers": [{"mediaType": mt, "digest": digest_of(b), "size": len(b)} for _, b, mt in triples]}
    img = Image(config_bytes, json.dumps(manifest).encode(), manifest["mediaType"])
    img.blobs[digest_of(config_bytes)] = config_bytes
    for _, blob, _ in triples:
        img.blobs[digest_of(blob)] = blob
    return img


def busybox_tar(extra: dict[str, bytes] | None = None) -> bytes:
    """A runnable root: the host's static busybox as /bin/busybox with sh and cat links."""
    from barge.client.mkimage import find_busybox

    path = find_busybox()
    if path is None:
        pytest.skip("busybox-static is not installed")
    return layer_tar({"bin/busybox": Path(path).read_bytes(), **(extra or {})},
                     {"bin/sh": "busybox", "bin/cat": "busybox", "bin/ls": "busybox"}, mode=0o755)


def http_upload(base: str, repo: str, image: Image, ref: str, auth: str | None = None) -> str:
    """Blobs and manifest of ``image`` to ``base`` (``http://127.0.0.1:port``) with plain
    HTTP requests: monolithic ``POST`` + ``PUT ?digest=``; returns the manifest digest."""
    for blob in image.blobs.values():
        put_blob(base, repo, blob, auth)
    return put_manifest(base, repo, ref, image.manifest, image.media_type, auth)


def _open(req: urllib.request.Request, auth: str | None):
    if auth:
        req.add_header("Authorization", auth)
    return urllib.request.urlopen(req, timeout=60)


def put_blob(base: str, repo: str, blob: bytes, auth: str | None = None) -> str:
    digest = digest_of(blob)
    with _open(urllib.request.Request(f"{base}/v2/{repo}/blobs/uploads/", method="POST", data=b""), auth) as r:
        location = r.headers["Location"]
    if location.startswith("/"):
        location = base + location
    sep = "&" if "?" in location else "?"
    req = urllib.request.Request(f"{location}{sep}digest={digest}", method="PUT", data=blob,
                                 headers={"Content-Type": "application/octet-stream"})
    with _open(req, auth) as r:
        assert r.status == 201, r.status
    return digest


def put_manifest(base: str, repo: str, ref: str, body: bytes, media_type: str, auth: str | None = None) -> str:
    req = urllib.request.Request(f"{base}/v2/{repo}/manifests/{ref}", method="PUT", data=body,
                                 headers={"Content-Type": media_type})
    with _open(req, auth) as r:
        assert r.status == 201, r.status
    return digest_of(body)


def get_manifest(base: str, repo: str, ref: str, accept: str) -> tuple[bytes, str]:
    req = urllib.request.Request(f"{base}/v2/{repo}/manifests/{ref}", headers={"Accept": accept})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read(), r.headers["Content-Type"]


# ---------------------------------------------------------------------------
# the fake registry
# ---------------------------------------------------------------------------

#: a rule sees (handler, method, repo, kind, ref) and returns True when it answered
Rule = Callable[["_Handler", str, str, str, str], bool]
_PATH_RE = re.compile(r"^/v2/(?P<repo>.+)/(?P<kind>manifests|blobs|tags)/(?P<ref>[^/?]+)$")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self.server.fake.dispatch(self, "GET")

    def do_HEAD(self) -> None:
        self.server.fake.dispatch(self, "HEAD")

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              method: str = "GET") -> None:
        self.send_response(status)
        headers = dict(headers or {})
        headers.setdefault("Content-Length", str(len(body)))
        headers.setdefault("Docker-Distribution-API-Version", "registry/2.0")
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if method != "HEAD" and body:
            self.wfile.write(body)

    def error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        body = json.dumps({"errors": [{"code": code, "message": message, "detail": None}]}).encode()
        self.reply(status, body, {"Content-Type": "application/json", **(headers or {})})

    def cut(self, body: bytes, total: int, after: int) -> None:
        """Announce ``total`` bytes, send the first ``after`` of ``body``, drop the connection."""
        self.send_response(200)
        self.send_header("Content-Length", str(total))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        self.wfile.write(body[:after])
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: "FakeRegistry"


class FakeRegistry:
    """A registry that answers exactly what the test put in it.

    ``images[(repo, ref)]`` (tag or digest) -> (body, media type); ``blobs``
    by digest (any repository). ``rules`` run first, in order; a rule that
    answers returns True. ``requests`` logs (method, path) of every request
    that reached the HTTP layer (plain HTTP only: barge tries TLS first).
    """

    def __init__(self) -> None:
        self.manifests: dict[tuple[str, str], tuple[bytes, str]] = {}
        self.blobs: dict[str, bytes] = {}
        self.rules: list[Rule] = []
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.port = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        """Listen (again, on the same port once one was chosen)."""
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.fake = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fake-registry-{self.port}", daemon=True)
        self._thread.start()

    def go_down(self) -> None:
        """Stop listening: new connections are refused until :meth:`start`."""
        server, self._server = self._server, None
        if server is not None:
            threading.Thread(target=lambda: (server.shutdown(), server.server_close()), daemon=True).start()
            wait_for(self._refuses, 5, interval=0.02, what=f"port {self.port} to refuse connections")

    def _refuses(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
        except OSError:
            return True
        return False

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    # -- content -----------------------------------------------------------------

    def add(self, repo: str, tag: str | None, image: Image, media_type: str | None = None) -> None:
        mt = media_type or image.media_type
        self.manifests[(repo, image.digest)] = (image.manifest, mt)
        if tag:
            self.manifests[(repo, tag)] = (image.manifest, mt)
        self.blobs.update(image.blobs)

    def count(self, method: str, path_part: str) -> int:
        with self.lock:
            return sum(1 for m, p in self.requests if m == method and path_part in p)

    # -- serving -------------------------------------------------------------------

    def dispatch(self, h: _Handler, method: str) -> None:
        path = h.path.split("?", 1)[0]
        with self.lock:
            self.requests.append((method, h.path))
        m = _PATH_RE.match(path)
        repo, kind, ref = (m["repo"], m["kind"], m["ref"]) if m else ("", "", path)
        for rule in list(self.rules):
            if rule(h, method, repo, kind, ref):
                return
        if path in ("/v2/", "/v2"):
            h.reply(200, b"{}", {"Content-Type": "application/json"}, method)
        elif kind == "manifests":
            found = self.manifests.get((repo, ref))
            if found is None:
                h.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
                return
            body, mt = found
            h.reply(200, body, {"Content-Type": mt, "Docker-Content-Digest": digest_of(body)}, method)
        elif kind == "blobs":
            blob = self.blobs.get(ref)
            if blob is None:
                h.error(404, "BLOB_UNKNOWN", "blob unknown to registry")
                return
            self.serve_blob(h, method, blob, ref)
        elif kind == "tags":
            tags = sorted(t for (r, t) in self.manifests if r == repo and not t.startswith("sha256:"))
            h.reply(200, json.dumps({"name": repo, "tags": tags}).encode(), {"Content-Type": "application/json"},
                    method)
        else:
            h.error(404, "NOT_FOUND", "not found")

    @staticmethod
    def serve_blob(h: _Handler, method: str, blob: bytes, digest: str) -> None:
        rng = re.match(r"bytes=(\d+)-$", h.headers.get("Range", ""))
        headers = {"Content-Type": "application/octet-stream", "Docker-Content-Digest": digest,
                   "Accept-Ranges": "bytes"}
        if rng and method == "GET":
            start = int(rng.group(1))
            headers["Content-Range"] = f"bytes {start}-{len(blob) - 1}/{len(blob)}"
            h.reply(206, blob[start:], headers, method)
        else:
            h.reply(200, blob, headers, method)


# ---------------------------------------------------------------------------
# what a daemon has recorded
# ---------------------------------------------------------------------------


def db_rows(d, table: str) -> list[tuple]:
    """Rows of the daemon's graph db, opened read-only."""
    conn = sqlite3.connect(f"file:{d.data_root / 'barge.db'}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(f"SELECT * FROM {table}").fetchall()
    finally:
        conn.close()


def layer_dirs(d) -> set[str]:
    """Layer directories the graph driver holds (vfs: ``dir/``; overlay: its top, without ``l``)."""
    root = d.data_root / "graph"
    out: set[str] = set()
    for driver in root.iterdir() if root.is_dir() else []:
        base = driver / "dir" if driver.name == "vfs" else driver
        if base.is_dir():
            out |= {f"{driver.name}/{p.name}" for p in base.iterdir() if p.name != "l" and not p.name.startswith(".")}
    return out


def temp_dirs(d) -> list[str]:
    tmp = d.data_root / "tmp"
    return sorted(p.name for p in tmp.iterdir() if p.name.startswith(("pull-", "push-"))) if tmp.is_dir() else []


def recorded(d) -> dict:
    """Everything a pull may leave: db rows, driver dirs, temp dirs, the images API."""
    status, _, body = d.request("GET", "/images/json?all=1")
    assert status == 200, body
    return {
        "images": sorted(r[0] for r in db_rows(d, "images")),
        "layers": len(db_rows(d, "layers")),
        "tags": sorted(r[:3] for r in db_rows(d, "tags")),
        "repo_digests": sorted(r[:3] for r in db_rows(d, "repo_digests")),
        "blob_digests": len(db_rows(d, "blob_digests")),
        "pending_layers": db_rows(d, "pending_layers"),
        "layer_dirs": layer_dirs(d),
        "temp_dirs": temp_dirs(d),
        "api": sorted(i["Id"] for i in json.loads(body)),
    }


# ---------------------------------------------------------------------------
# the API and the CLI
# ---------------------------------------------------------------------------


def api_pull(d, image: str, tag: str = "", platform: str = "", auth: str = "",
             timeout: float = 180) -> tuple[int, list[dict], str]:
    """``POST /images/create?fromImage=``: (status, JSON messages, error or "")."""
    from urllib.parse import urlencode

    query = {"fromImage": image}
    if tag:
        query["tag"] = tag
    if platform:
        query["platform"] = platform
    headers = {"X-Registry-Auth": auth} if auth else {}
    status, _, body = d.request("POST", "/v1.47/images/create?" + urlencode(query), headers=headers,
                                timeout=timeout)
    if status != 200:
        try:
            return status, [], json.loads(body)["message"]
        except ValueError:
            return status, [], body.decode(errors="replace")
    msgs = [json.loads(line) for line in body.splitlines() if line.strip()]
    errors = [m.get("error") or m.get("errorDetail", {}).get("message") for m in msgs
              if "error" in m or "errorDetail" in m]
    return status, msgs, (errors[0] if errors else "")


def cli_env(d, docker_config: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BARGE_", "DOCKER_"))}
    env["BARGE_HOST"] = d.url
    if docker_config is not None:
        env["DOCKER_CONFIG"] = str(docker_config)
        env["HOME"] = str(docker_config.parent)
    return env


def barge(d, *args: str, docker_config: Path | None = None, input: bytes | None = None,
          check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess:
    """The ``barge`` CLI as a process against daemon ``d`` (text output)."""
    proc = subprocess.run([sys.executable, "-m", "barge", *args], input=input, capture_output=True,
                          env=cli_env(d, docker_config), timeout=timeout)
    proc.stdout, proc.stderr = proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
    if check:
        assert proc.returncode == 0, f"barge {' '.join(args)}: {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc
