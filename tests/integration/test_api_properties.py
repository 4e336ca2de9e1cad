"""Property-based tests (hypothesis) against a live daemon: whatever a client
sends, the answer is never a 500, never a hang, and every error is Docker's
``{"message": ...}`` with ``Content-Type: application/json``.

Bodies are generated from the same schemas the daemon decodes with
(:mod:`barge.api.bodies`): well-typed, well-shaped with wrong types in random
places, and arbitrary JSON; query strings and headers are random too. Bodies
that could create something real are pointed at a missing image, network,
container or driver (``shared_daemon``), except two properties on the
module's ``box`` (busybox made once): one creates containers from busybox and
removes each at once, one updates a created container. Each property runs
100-150 examples, about a second each.
"""

from __future__ import annotations

import json
import socket
import urllib.parse

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from barge import gojson
from barge.api import bodies

pytestmark = [pytest.mark.daemon]

#: Seconds any one answer may take: more is a hang.
TIMEOUT = 20
PROPERTY = settings(max_examples=150, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FEWER = settings(PROPERTY, max_examples=100)
MISSING = "barge-no-such-thing-0123"

# ---------------------------------------------------------------------------
# strategies
# ---------------------------------------------------------------------------

# Any text, lone surrogates included (JSON carries them as \\udxxx escapes).
TEXT = st.text(st.characters(exclude_categories=[]), max_size=12)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=-(1 << 70), max_value=1 << 70)
    | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


def valid(t: gojson.Type, junk: bool = False) -> st.SearchStrategy:
    """Values of type ``t``; with ``junk``, any node may instead be arbitrary JSON."""
    if isinstance(t, gojson.Nullable):
        strategy = st.none() | valid(t.of, junk)
    elif isinstance(t, gojson.Bool):
        strategy = st.booleans()
    elif isinstance(t, gojson.Int):
        strategy = st.integers(t.low, t.high) | st.sampled_from([t.low, t.high, 0, 1, -1 if t.low else 2])
    elif isinstance(t, gojson.Str):
        strategy = TEXT
    elif isinstance(t, gojson.StrSlice):
        strategy = TEXT | st.lists(TEXT, max_size=3)
    elif isinstance(t, gojson.Array):
        strategy = st.lists(valid(t.of, junk), max_size=t.length + 1)
    elif isinstance(t, gojson.List):
        strategy = st.lists(valid(t.of, junk), max_size=3)
    elif isinstance(t, gojson.Map):
        strategy = st.dictionaries(TEXT, valid(t.of, junk), max_size=3)
    elif isinstance(t, gojson.Obj):
        fields = {name: st.deferred(lambda f=f: valid(f, junk)) for name, f in t.fields.items()}
        strategy = st.fixed_dictionaries({}, optional=fields)
    else:  # pragma: no cover - a new type needs a strategy
        raise TypeError(t)
    return st.one_of(strategy, strategy, strategy, JSON) if junk else strategy


def bodies_of(schema: gojson.Obj) -> st.SearchStrategy:
    """Well-typed bodies, bodies with wrong types in random fields, and arbitrary JSON."""
    return valid(schema) | valid(schema, junk=True) | JSON


def _with(body, **fields):
    """``body`` with ``fields`` set: added if absent, replacing string values under any spelling.

    Values of other types stay: the daemon must refuse them (400) before it creates anything.
    """
    if body is None:
        body = {}  # the daemon reads null as an empty object
    if not isinstance(body, dict):
        return body
    out = dict(body)
    for name, replacement in fields.items():
        spellings = [key for key in body if key.casefold() == name.casefold()]
        for key in spellings:
            if isinstance(body[key], str) or body[key] is None:
                out[key] = replacement
        if not spellings:
            out[name] = replacement
    return out


# ---------------------------------------------------------------------------
# raw HTTP over the daemon's socket
# ---------------------------------------------------------------------------


def send(d, method: str, target: str, headers: list[tuple[bytes, bytes]] = (), body: bytes = b""):
    """One request, byte for byte; ``(status, headers, body)`` of the answer (``TIMEOUT`` bounds it)."""
    head = [f"{method} {target} HTTP/1.1".encode(), b"Host: docker", b"Connection: close"]
    head += [name + b": " + value for name, value in headers]
    head.append(b"Content-Length: %d" % len(body))
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(TIMEOUT)
        sock.connect(d.socket)
        try:
            sock.sendall(b"\r\n".join(head) + b"\r\n\r\n" + body)
        except BrokenPipeError:  # answered (400) and closed before reading it all
            pass
        data = read_all(sock)
    assert data, f"no answer to {method} {target}"
    head_bytes, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = head_bytes.decode("latin-1").split("\r\n")
    answer_headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines)}
    if answer_headers.get("transfer-encoding") == "chunked":
        rest = _dechunk(rest)
    return int(status_line.split()[1]), answer_headers, rest


def read_all(sock: socket.socket) -> bytes:
    """Everything until the daemon closes. A close with our request still
    unread (a head it refused) reads as a reset after its answer: the end too."""
    data = b""
    try:
        while chunk := sock.recv(1 << 16):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2:]
    return out


def assert_docker_answer(status: int, headers: dict, body: bytes, what) -> None:
    assert status < 500, f"{status} for {what!r}: {body[:300]!r}"
    if status >= 400:
        assert headers.get("content-type") == "application/json", (status, headers, what)
        assert isinstance(json.loads(body)["message"], str)


def post_json(d, target: str, body) -> tuple[int, dict, bytes]:
    raw = json.dumps(body).encode()
    status, headers, answer = send(d, "POST", target, [(b"Content-Type", b"application/json")], raw)
    assert_docker_answer(status, headers, answer, (target, body))
    event(f"{status}")  # --hypothesis-show-statistics shows how the answers spread
    return status, headers, answer


# ---------------------------------------------------------------------------
# bodies
# ---------------------------------------------------------------------------


@FEWER
@given(body=bodies_of(bodies.CONTAINER_CREATE))
def test_create_with_busybox_never_500(box, body):
    body = _with(body, Image="busybox")
    status, _, answer = post_json(box, "/v1.47/containers/create", body)
    if status == 201:
        box.request("DELETE", f"/containers/{json.loads(answer)['Id']}?force=1&v=1", timeout=TIMEOUT)


@PROPERTY
@given(body=bodies_of(bodies.CONTAINER_CREATE))
def test_create_never_500(shared_daemon, body):
    status, _, _ = post_json(shared_daemon, "/v1.47/containers/create", _with(body, Image=MISSING))
    assert status != 201


@pytest.fixture(scope="module")
def stopped(box):
    """A created, never started container for update bodies."""
    status, _, data = box.request("POST", "/containers/create?name=prop-update", {"Image": "busybox", "Cmd": ["true"]})
    assert status == 201, data
    yield json.loads(data)["Id"]
    box.request("DELETE", "/containers/prop-update?force=1&v=1")


@PROPERTY
@given(body=bodies_of(bodies.CONTAINER_UPDATE))
def test_update_never_500(box, stopped, body):
    post_json(box, f"/containers/{stopped}/update", body)


@PROPERTY
@given(route=st.sampled_from([
    (f"/containers/{MISSING}/exec", bodies.EXEC_CREATE),
    (f"/exec/{MISSING}/start", bodies.EXEC_START),
    (f"/containers/{MISSING}/update", bodies.CONTAINER_UPDATE),
    (f"/networks/{MISSING}/connect", bodies.NETWORK_CONNECT),
    (f"/networks/{MISSING}/disconnect", bodies.NETWORK_DISCONNECT),
    (f"/commit?container={MISSING}", bodies.COMMIT),
]), data=st.data())
def test_bodies_for_missing_objects_never_500(shared_daemon, route, data):
    target, schema = route
    status, _, _ = post_json(shared_daemon, target, data.draw(bodies_of(schema)))
    assert status in (400, 404)


@PROPERTY
@given(route=st.sampled_from([("/networks/create", bodies.NETWORK_CREATE), ("/volumes/create", bodies.VOLUME_CREATE)]),
       data=st.data())
def test_network_and_volume_create_never_500(shared_daemon, route, data):
    target, schema = route
    status, _, _ = post_json(shared_daemon, target, _with(data.draw(bodies_of(schema)), Driver=MISSING))
    assert status != 201  # a well-typed body meets the missing driver


@settings(PROPERTY, max_examples=40)
@given(route=st.sampled_from(["/containers/create", "/networks/create", "/volumes/create", "/exec/x/start"]),
       depth=st.integers(90, 5000), kind=st.sampled_from("[{"))
def test_deep_bodies_are_400(shared_daemon, route, depth, kind):
    opening = b"[" * depth if kind == "[" else b'{"a":' * depth
    closing = b"]" * depth if kind == "[" else b"}" * depth
    status, headers, answer = send(shared_daemon, "POST", route, [(b"Content-Type", b"application/json")],
                                   b'{"Image": ' + opening + b"1" + closing + b"}")
    assert_docker_answer(status, headers, answer, (route, depth))
    if depth > gojson.MAX_DEPTH:
        assert status == 400 and b"nested deeper" in answer


# ---------------------------------------------------------------------------
# query strings
# ---------------------------------------------------------------------------

QUERY_KEYS = ["all", "limit", "size", "filters", "since", "before", "until", "name", "t", "signal", "h", "w", "force",
              "v", "link", "stream", "stdout", "stderr", "tail", "timestamps", "ps_args", "path", "container", "repo",
              "tag", "comment", "author", "pause", "changes", "verbose", "scope", "condition", "digests", "platform"]
GET_PATHS = ["/containers/json", "/images/json", "/networks", "/volumes", "/version", "/_ping", "/info",
             "/containers/{x}/json", "/containers/{x}/top", "/containers/{x}/changes", "/containers/{x}/logs",
             "/containers/{x}/archive", "/images/{x}/json", "/images/{x}/history", "/networks/{x}", "/volumes/{x}",
             "/exec/{x}/json", "/system/df"]
POST_PATHS = ["/containers/{x}/stop", "/containers/{x}/kill", "/containers/{x}/restart", "/containers/{x}/resize",
              "/containers/{x}/rename", "/containers/{x}/wait", "/containers/{x}/pause", "/exec/{x}/resize",
              "/commit", "/images/{x}/tag", "/containers/prune", "/networks/prune", "/volumes/prune"]
QUERY_VALUES = TEXT | st.integers().map(str) | JSON.map(json.dumps) | st.sampled_from(["", "1", "true", "-1", "all"])


@PROPERTY
@given(method_path=st.sampled_from([("GET", p) for p in GET_PATHS] + [("POST", p) for p in POST_PATHS]
                                   + [("DELETE", "/containers/{x}"), ("DELETE", "/images/{x}")]),
       ref=TEXT,
       query=st.lists(st.tuples(st.sampled_from(QUERY_KEYS) | TEXT, QUERY_VALUES), max_size=5),
       version=st.sampled_from(["", "/v1.47", "/v1.24", "/v1.12", "/v9.99"]))
def test_random_query_strings_never_500(shared_daemon, method_path, ref, query, version):
    method, path = method_path
    # "nx-" names nothing: no random ref may stop, remove or wait on anything the other tests made.
    target = version + path.replace("{x}", urllib.parse.quote("nx-" + ref, safe="", errors="surrogatepass"))
    encoded = urllib.parse.urlencode([(k.encode("utf-8", "surrogatepass"), v.encode("utf-8", "surrogatepass"))
                                      for k, v in query])
    if encoded:
        target += "?" + encoded
    status, headers, answer = send(shared_daemon, method, target)
    assert_docker_answer(status, headers, answer, target)


# ---------------------------------------------------------------------------
# headers
# ---------------------------------------------------------------------------

# Header names that change the framing would make the server (rightly) wait for more.
FRAMING = {b"content-length", b"transfer-encoding", b"connection", b"expect", b"host", b"upgrade"}
TOKEN = st.binary(min_size=1, max_size=20).map(lambda b: bytes(c for c in b if 33 <= c < 127 and c != ord(":")))
HEADER_NAME = (st.sampled_from([b"Content-Type", b"X-Registry-Auth", b"X-Registry-Config", b"Accept", b"User-Agent",
                                b"Authorization", b"Cookie"]) | TOKEN).filter(lambda n: n and n.lower() not in FRAMING)
HEADER_VALUE = (st.binary(max_size=40) | st.builds(lambda n: b"a" * n, st.integers(0, 200_000))).map(
    lambda b: b.replace(b"\r", b"").replace(b"\n", b""))


@PROPERTY
@given(headers=st.lists(st.tuples(HEADER_NAME, HEADER_VALUE), max_size=6),
       route=st.sampled_from([("GET", "/_ping", b""), ("GET", "/version", b""),
                              ("POST", "/containers/create", json.dumps({"Image": MISSING}).encode()),
                              ("POST", f"/images/{MISSING}/push", b"{}")]))
def test_random_headers_never_500(shared_daemon, headers, route):
    method, target, body = route
    status, answer_headers, answer = send(shared_daemon, method, target, headers, body)
    assert_docker_answer(status, answer_headers, answer, (target, headers))


@settings(PROPERTY, max_examples=30)
@given(line=st.binary(max_size=200).map(lambda b: b.replace(b"\n", b"")))
def test_garbage_requests_are_json_400(shared_daemon, line):
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(TIMEOUT)
        sock.connect(shared_daemon.socket)
        sock.sendall(line + b"\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)
        data = read_all(sock)
    if not data:
        return  # an incomplete head the client gave up on: nothing to answer
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    assert status < 500, data[:300]
    if status >= 400:
        assert b"\r\nContent-Type: application/json\r\n" in head + b"\r\n"
        assert json.loads(body)["message"]
