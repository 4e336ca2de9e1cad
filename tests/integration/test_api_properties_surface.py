"""Property-based tests for the endpoints the API-parity work added or changed:
build, build prune and cancel, system df, distribution inspect, events with
filters, swarm, plugins, websocket attach, exec with detach keys.

The promise is the one of ``test_api_properties``: whatever a client sends,
the answer is never a 500 and never a hang, and every error is Docker's
``{"message": ...}``. Nothing here may reach past loopback: every image
reference points at ``127.0.0.1:1`` (nothing listens there) and no query
may carry ``remote=`` (a build context fetched from a URL).
"""

from __future__ import annotations

import io
import json
import tarfile
import time
import urllib.parse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.integration.test_api_properties import (
    FEWER,
    JSON,
    PROPERTY,
    QUERY_VALUES,
    TEXT,
    assert_docker_answer,
    post_json,
    send,
)

pytestmark = [pytest.mark.daemon]

#: A registry nobody answers for: a pull, a pin or a cache lookup fails at once, on loopback.
NOWHERE = "127.0.0.1:1/nx"


def _quote(text: str) -> str:
    return urllib.parse.quote(text, safe="", errors="surrogatepass")


def _encode(query: list[tuple[str, str]]) -> str:
    pairs = [(k.encode("utf-8", "surrogatepass"), v.encode("utf-8", "surrogatepass")) for k, v in query]
    encoded = urllib.parse.urlencode(pairs)
    return "?" + encoded if encoded else ""


def _without(query: list[tuple[str, str]], *keys: str) -> list[tuple[str, str]]:
    """``query`` less every spelling of ``keys`` (Go's form lookup is case-sensitive, barge's too, but be safe)."""
    return [(k, v) for k, v in query if k.casefold() not in keys]


QUERY = st.lists(st.tuples(st.sampled_from([
    "filters", "all", "force", "id", "name", "remote", "type", "verbose", "since", "until", "t", "q", "nocache",
    "pull", "rm", "forcerm", "buildargs", "labels", "cachefrom", "networkmode", "platform", "target", "dockerfile",
    "keep-storage", "stream", "stdin", "stdout", "stderr", "logs", "detachKeys", "timeout",
]) | TEXT, QUERY_VALUES), max_size=5)

# ---------------------------------------------------------------------------
# read-only and error paths, random queries
# ---------------------------------------------------------------------------

GET_PATHS = ["/system/df", "/plugins", "/plugins/{x}/json", "/plugins/privileges", "/swarm", "/swarm/unlockkey",
             "/nodes", "/nodes/{x}", "/services", "/services/{x}", "/services/{x}/logs", "/tasks", "/tasks/{x}",
             "/secrets", "/secrets/{x}", "/configs", "/configs/{x}", "/containers/{x}/attach/ws",
             "/distribution/{ref}/json"]
POST_PATHS = ["/build/prune", "/build/cancel", "/plugins/{x}/enable", "/plugins/{x}/disable", "/plugins/{x}/set",
              "/plugins/{x}/push", "/plugins/{x}/upgrade", "/swarm/leave", "/swarm/update", "/swarm/unlock",
              "/swarm/init", "/swarm/join", "/services/create", "/secrets/create", "/configs/create",
              "/containers/{x}/attach"]
SWARM = {"swarm", "nodes", "services", "tasks", "secrets", "configs"}
DELETE_PATHS = ["/plugins/{x}", "/nodes/{x}", "/services/{x}", "/secrets/{x}", "/configs/{x}"]


@PROPERTY
@given(method_path=st.sampled_from([("GET", p) for p in GET_PATHS] + [("POST", p) for p in POST_PATHS]
                                   + [("DELETE", p) for p in DELETE_PATHS]),
       name=TEXT, query=QUERY, version=st.sampled_from(["", "/v1.41", "/v1.47", "/v1.24"]))
def test_new_endpoints_never_500(shared_daemon, method_path, name, query, version):
    method, path = method_path
    # "nx-" names nothing: no random name may disable, remove or attach to anything.
    target = version + path.replace("{x}", _quote("nx-" + name)).replace("{ref}", _quote(f"{NOWHERE}{name}"))
    target += _encode(_without(query, "remote"))
    status, headers, answer = send(shared_daemon, method, target)
    if status == 503 and path.split("/")[1] in SWARM:
        status = 400  # dockerd's answer off a swarm, which clients read as "nothing to do"; the shape still holds
    if status == 500 and path.startswith("/distribution/") and b"dial tcp 127.0.0.1:1: connect" in answer:
        status = 400  # the registry nobody serves, said as dockerd says it (tests/differential compares the status)
    if path.endswith("/attach") and status >= 400:  # dockerd refuses an attach in plain text under the stream's type
        assert status < 500 and headers.get("content-type") == "application/vnd.docker.raw-stream", (status, target)
        return
    assert_docker_answer(status, headers, answer, target)


@FEWER
@given(query=QUERY, filters=JSON)
def test_events_with_random_filters_end(shared_daemon, query, filters):
    """A bounded events request ends (``until`` is now), whatever the filters and other parameters."""
    bounded = _without(query, "since", "until", "remote") + [("filters", json.dumps(filters)),
                                                             ("until", str(int(time.time())))]
    target = "/events" + _encode(bounded)
    status, headers, answer = send(shared_daemon, "GET", target)
    assert_docker_answer(status, headers, answer, target)


# ---------------------------------------------------------------------------
# bodies
# ---------------------------------------------------------------------------


@PROPERTY
@given(path=st.sampled_from(["/plugins/{x}/set", "/plugins/{x}/upgrade", "/plugins/pull", "/swarm/init",
                             "/swarm/join", "/swarm/update", "/swarm/unlock", "/services/create",
                             "/secrets/create", "/configs/create", "/containers/{x}/exec"]),
       name=TEXT, body=JSON)
def test_new_endpoint_bodies_never_500(shared_daemon, path, name, body):
    target = path.replace("{x}", _quote("nx-" + name))
    if target.startswith("/plugins/pull") or target.startswith("/plugins/nx-"):
        target += "?remote=" + _quote(NOWHERE)  # a plugin reference, not a build context: loopback only
    raw = json.dumps(body).encode()
    status, headers, answer = send(shared_daemon, "POST", target, [(b"Content-Type", b"application/json")], raw)
    if status == 503 and target.split("/")[1] in SWARM:
        status = 400  # off a swarm, as dockerd
    assert_docker_answer(status, headers, answer, (target, body))


def _context(dockerfile: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tf.addfile(info, io.BytesIO(dockerfile))
    return buf.getvalue()


#: Each fails before it runs a step: a base image nobody serves, or a line the parser refuses.
CONTEXTS = [_context(f"FROM {NOWHERE}\nRUN true\n".encode()), _context(b"FROM\n"), _context(b"RUN true\n"),
            _context(f"ARG X\nFROM {NOWHERE}:$X\n".encode()), b"", b"not a tar at all", _context(b"")]


@settings(PROPERTY, max_examples=80)
@given(query=QUERY, context=st.sampled_from(CONTEXTS),
       headers=st.lists(st.tuples(st.sampled_from([b"X-Registry-Config", b"Content-Type"]),
                                  st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))),
                        max_size=2))
def test_build_never_500(shared_daemon, query, context, headers):
    """A build whose query, context and headers are random answers 200 with an error in the stream, or 4xx."""
    target = "/build" + _encode(_without(query, "remote"))
    status, answer_headers, answer = send(shared_daemon, "POST", target, headers, context)
    assert_docker_answer(status, answer_headers, answer, (target, headers))


@FEWER
@given(keys=TEXT | st.sampled_from(["ctrl-p,ctrl-q", "ctrl-", "ctrl-@,a", "", ",", "ctrl-\\"]), body=JSON)
def test_exec_detach_keys_never_500(box, exec_target, keys, body):
    config = {"Cmd": ["true"], "DetachKeys": keys}
    if isinstance(body, dict):
        config = {**body, **config}
    post_json(box, f"/containers/{exec_target}/exec", config)


@pytest.fixture(scope="module")
def exec_target(box):
    """A running container random execs may be created in (they are never started)."""
    status, _, data = box.request("POST", "/containers/create?name=prop-exec",
                                  {"Image": "busybox", "Cmd": ["sleep", "600"]})
    assert status == 201, data
    status, _, data = box.request("POST", "/containers/prop-exec/start")
    assert status == 204, data
    yield "prop-exec"
    box.request("DELETE", "/containers/prop-exec?force=1&v=1")
