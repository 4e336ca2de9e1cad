"""The client against a tiny HTTP server on a unix socket (no daemon).

The server records each request (method, path, headers, body as received,
de-chunked) and answers from a per-test table, so negotiation, error shapes
and body streaming are checked on real sockets.
"""

from __future__ import annotations

import io
import json
import os
import socketserver
import threading
from http.server import BaseHTTPRequestHandler

import pytest

from barge.client import jsonmessage
from barge.client.api import Client, image_id_from
from barge.client.errors import APIError, DaemonUnreachable, StreamError
from barge.client.transport import TLSOptions, parse_host


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class FakeDaemon:
    def __init__(self, path: str):
        self.path = path
        self.requests: list[dict] = []
        self.routes: dict[tuple[str, str], tuple[int, dict, bytes]] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding") == "chunked":
                    out = b""
                    while True:
                        size = int(self.rfile.readline().strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def handle_one(self):
                body = self._body()
                fake.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body})
                key = (self.command, self.path.split("?")[0])
                status, headers, payload = fake.routes.get(key, (404, {"Content-Type": "application/json"}, b'{"message":"page not found"}'))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = do_HEAD = handle_one

        self.server = _Server(path, Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def route(self, method, path, status=200, body=b"", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        self.routes[(method, path)] = (status, headers or {}, body)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake(tmp_path):
    d = FakeDaemon(str(tmp_path / "fake.sock"))
    d.route("HEAD", "/_ping", headers={"Api-Version": "1.40"})
    yield d
    d.close()


def test_negotiates_down_to_server_version(fake):
    fake.route("GET", "/v1.40/version", body={"Version": "x"})
    c = Client("unix://" + fake.path)
    assert c.version() == {"Version": "x"}
    assert [r["path"] for r in fake.requests] == ["/_ping", "/v1.40/version"]
    assert fake.requests[0]["method"] == "HEAD"


def test_never_negotiates_up(fake):
    fake.route("HEAD", "/_ping", headers={"Api-Version": "9.99"})
    c = Client("unix://" + fake.path)
    assert c.api_version == c.client_version


def test_ping_falls_back_to_get_and_to_1_24(fake):
    fake.routes.pop(("HEAD", "/_ping"))
    fake.route("GET", "/_ping", body=b"OK")
    c = Client("unix://" + fake.path)
    assert c.api_version == "1.24"
    assert [r["method"] for r in fake.requests] == ["HEAD", "GET"]


def test_api_error_carries_the_daemon_message(fake):
    fake.route("GET", "/v1.40/images/nope/json", 404, {"message": "No such image: nope"})
    with pytest.raises(APIError) as err:
        Client("unix://" + fake.path).inspect_image("nope")
    assert err.value.status == 404
    assert str(err.value) == "Error response from daemon: No such image: nope"


def test_plain_text_errors_are_kept(fake):
    fake.route("GET", "/v1.40/info", 500, b"boom", {"Content-Type": "text/plain"})
    with pytest.raises(APIError, match="boom"):
        Client("unix://" + fake.path).info()


def test_unreachable_daemon(tmp_path):
    with pytest.raises(DaemonUnreachable) as err:
        Client(f"unix://{tmp_path}/absent.sock").info()
    assert str(err.value) == f"Cannot connect to the barge daemon at unix://{tmp_path}/absent.sock. Is the daemon running?"


def test_images_query(fake):
    fake.route("GET", "/v1.40/images/json", body=[])
    Client("unix://" + fake.path).images(all=True, filters={"reference": ["busybox"], "dangling": ["true"]})
    path = fake.requests[-1]["path"]
    from urllib.parse import parse_qs, urlsplit

    q = parse_qs(urlsplit(path).query)
    assert q["all"] == ["1"]
    assert json.loads(q["filters"][0]) == {"reference": {"busybox": True}, "dangling": {"true": True}}


def test_import_streams_a_pipe_chunked(fake):
    stream = b"".join(json.dumps(m).encode() for m in [{"status": "Importing"}, {"status": "sha256:" + "a" * 64}])
    fake.route("POST", "/v1.40/images/create", body=stream, headers={"Content-Type": "application/json"})
    payload = os.urandom(3 * (1 << 20) + 17)
    r, w = os.pipe()
    writer = threading.Thread(target=_write_all, args=(w, payload))
    writer.start()
    with os.fdopen(r, "rb") as src:
        resp = Client("unix://" + fake.path).import_image(src, repo="a/b:1", message="m", changes=['CMD ["sh"]', "ENV A=b"])
        assert image_id_from(resp.messages()) == "sha256:" + "a" * 64
    writer.join()
    req = fake.requests[-1]
    assert req["headers"]["Transfer-Encoding"] == "chunked"
    assert req["body"] == payload
    assert "fromSrc=-" in req["path"] and "repo=a%2Fb%3A1" in req["path"]
    assert req["path"].count("changes=") == 2


def _write_all(fd, data):
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def test_load_sends_a_regular_file_with_length(fake, tmp_path):
    fake.route("POST", "/v1.40/images/load", body=b'{"stream":"Loaded image: x:1\\n"}', headers={"Content-Type": "application/json"})
    data = os.urandom(2 * (1 << 20) + 5)
    path = tmp_path / "img.tar"
    path.write_bytes(data)
    with open(path, "rb") as fh:
        with Client("unix://" + fake.path).load(fh, quiet=True) as resp:
            assert list(resp.messages()) == [{"stream": "Loaded image: x:1\n"}]
    req = fake.requests[-1]
    assert req["headers"]["Content-Length"] == str(len(data)) and req["body"] == data
    assert "quiet=1" in req["path"]


def test_save_names_are_repeated(fake):
    fake.route("GET", "/v1.40/images/get", body=b"TAR", headers={"Content-Type": "application/x-tar"})
    with Client("unix://" + fake.path).save(["a", "b:1"]) as resp:
        assert b"".join(resp.chunks()) == b"TAR"
    assert fake.requests[-1]["path"] == "/v1.40/images/get?names=a&names=b%3A1"


def test_decode_handles_any_split():
    msgs = [{"status": "a"}, {"id": "x", "progressDetail": {"current": 1, "total": 2}}, {"stream": "é\n"}]
    raw = ("".join(json.dumps(m, ensure_ascii=False) for m in msgs) + "\n").encode()
    for size in (1, 2, 3, 7, len(raw)):
        chunks = [raw[i : i + size] for i in range(0, len(raw), size)]
        assert list(jsonmessage.decode(chunks)) == msgs
    with pytest.raises(StreamError):
        list(jsonmessage.decode([b'{"status": "trunc']))


def test_display_plain_and_errors():
    out = io.StringIO()
    msgs = [
        {"status": "Importing", "progressDetail": {"current": 5, "total": 10}, "id": "abc"},
        {"status": "Loading layer", "id": "abc"},
        {"stream": "Loaded image: x\n"},
        {"status": "sha256:1"},
    ]
    jsonmessage.display(msgs, out, tty=False)
    assert out.getvalue() == "abc: Loading layer\nLoaded image: x\nsha256:1\n"
    with pytest.raises(StreamError, match="bad tar"):
        jsonmessage.display([{"errorDetail": {"message": "bad tar"}, "error": "bad tar"}], io.StringIO())


def test_display_tty_redraws_progress_in_place():
    out = io.StringIO()
    jsonmessage.display(
        [{"status": "Extracting", "id": "l1", "progressDetail": {"current": 1000, "total": 2000}},
         {"status": "Extracting", "id": "l1", "progressDetail": {"current": 2000, "total": 2000}}],
        out, tty=True,
    )
    text = out.getvalue()
    assert text.count("\n") == 1  # one line for l1; the cursor rests below it, as docker's
    assert "\x1b[1A" in text and "1kB/2kB" in text and "2kB/2kB" in text


def test_progress_bar():
    assert jsonmessage.progress_bar({"current": 0, "total": 0}) == ""
    assert jsonmessage.progress_bar({"current": 1234}) == " 1.234kB"
    assert jsonmessage.progress_bar({"current": 50, "total": 100}, width=120).startswith("[" + "=" * 25 + ">")


def test_parse_host():
    assert parse_host(None).url == "unix:///run/barge/barge.sock"
    assert parse_host("tcp://127.0.0.1:2375").url == "tcp://127.0.0.1:2375"
    assert parse_host("localhost:1234").port == 1234
    assert parse_host("tcp://127.0.0.1").port == 2375
    assert parse_host("tcp://127.0.0.1", TLSOptions(enabled=True)).port == 2376
    with pytest.raises(Exception, match="Invalid bind address"):
        parse_host("ftp://x")


def test_tls_options_from_cert_path(tmp_path):
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("x")
    opts = TLSOptions.from_env({"BARGE_TLS_VERIFY": "1", "BARGE_CERT_PATH": str(tmp_path)})
    assert opts.enabled and opts.verify
    assert opts.cacert == str(tmp_path / "ca.pem") and opts.key == str(tmp_path / "key.pem")
    assert TLSOptions.from_env({}).enabled is False
    assert TLSOptions.from_env({"BARGE_CERT_PATH": str(tmp_path)}, cert="/given.pem", enabled=True).cert == "/given.pem"
