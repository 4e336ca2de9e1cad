"""One dockerd and one barge for the whole differential suite, and ``diff``, which asks both.

``diff.check("GET /containers/{c}/json")`` sends the same request to the
reference dockerd (tests/reference_dockerd.py: private data root and socket,
no bridge) and to barge (``busybox_daemon``), each with its own value for
the ``{c}`` placeholder (``diff.make("c", ...)``), and records every
difference that ``accepted.toml`` does not accept; the test fails at its end
with all of them listed. Both daemons get the same ``busybox:latest``
(barge's mkimage root file system and changes, imported into dockerd too).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tests.conftest import UnixHTTPConnection
from tests.differential.compare import Accepted, load_accepted, normalize, shape_diff, unaccepted
from tests.integration.helpers import busybox_daemon
from tests.reference_dockerd import reference_dockerd

#: The API version both are asked in: the newest dockerd 20.10 speaks.
API = "/v1.41"


@dataclass
class Answer:
    status: int
    headers: Any
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def message(self) -> str | None:
        try:
            data = json.loads(self.body)
        except ValueError:
            return None
        return data.get("message") if isinstance(data, dict) else None

    @property
    def media_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip()


def json_stream(body: bytes) -> list[Any]:
    """The JSON messages of a streamed answer (one object after another, newlines or not)."""
    decoder, text, out, i = json.JSONDecoder(), body.decode(errors="replace"), [], 0
    while True:
        while i < len(text) and text[i] in " \r\n\t":
            i += 1
        if i >= len(text):
            return out
        value, i = decoder.raw_decode(text, i)
        out.append(value)


@dataclass
class Side:
    """One daemon as the suite speaks to it: its socket, and its values for the placeholders."""

    name: str
    socket: str
    ids: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, body: Any = None, headers: dict | None = None,
                timeout: float = 60) -> Answer:
        headers = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):  # JSON text, maybe broken on purpose
            body = body.encode()
            headers.setdefault("Content-Type", "application/json")
        conn = UnixHTTPConnection(self.socket, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return Answer(resp.status, resp.headers, resp.read())
        finally:
            conn.close()

    def call(self, request: str, body: Any = None, headers: dict | None = None, timeout: float = 60) -> Answer:
        """``request`` is ``"METHOD /path"`` with ``{placeholders}``; the path is under :data:`API`.
        A callable ``body`` is called with this side (for bodies that name its ids)."""
        method, _, template = request.partition(" ")
        if callable(body):
            body = body(self)
        path = re.sub(r"\{(\w+)\}", lambda m: self.ids.get(m[1], m[0]), template)
        return self.request(method, API + path, body, headers, timeout)

    def names(self) -> dict[str, str]:
        """Ids and their short forms -> ``<placeholder>``, to neutralise error texts."""
        out = {}
        for key, value in self.ids.items():
            bare = value.removeprefix("sha256:")
            if len(bare) == 64:
                out[bare], out[bare[:12]] = f"<{key}>", f"<{key}>"
        return out


class Diff:
    """Both daemons, and the differences found so far in one test."""

    def __init__(self, ref: Side, barge: Side, accepted: Accepted):
        self.ref, self.barge = ref, barge
        self.sides = (ref, barge)
        self.accepted = accepted
        self.problems: list[str] = []

    def make(self, key: str, fn: Callable[[Side], str]) -> None:
        """Run ``fn`` on each side and keep what it returns as that side's ``{key}``."""
        for side in self.sides:
            side.ids[key] = fn(side)

    def both(self, request: str, body: Any = None, headers: dict | None = None,
             timeout: float = 60) -> tuple[Answer, Answer]:
        return (self.ref.call(request, body, headers, timeout), self.barge.call(request, body, headers, timeout))

    def check(self, request: str, body: Any = None, headers: dict | None = None, expect: int | None = None,
              json_body: bool = True, timeout: float = 60) -> tuple[Answer, Answer]:
        """Ask both and compare status, error text, media type and (``json_body``) the JSON's shape.

        ``expect``: the status dockerd must give (guards the test's own premise)."""
        r, b = self.both(request, body, headers, timeout)
        if expect is not None and not (expect in (400, 409) and r.status == 500):
            assert r.status == expect, f"{request}: dockerd answered {r.status} {r.body[:300]!r}"
        self.compare(request, r, b, json_body)
        return r, b

    def compare(self, request: str, r: Answer, b: Answer, json_body: bool = True) -> None:
        lines = []
        client_error = r.status == 500 and self.accepted.rule(f"dockerd 500, barge {b.status}")
        if r.status != b.status and not client_error:
            lines.append(f"status: dockerd {r.status}, barge {b.status} {b.body[:200]!r}")
        if r.status >= 400 and b.status >= 400:
            mr, mb = normalize(r.message or "", self.ref.names()), normalize(b.message or "", self.barge.names())
            if mr != mb and not self.accepted.same_text(mr, mb):
                lines.append(f"message: dockerd {mr!r}, barge {mb!r}")
        elif r.status == b.status and json_body and r.media_type == "application/json" and r.body:
            if b.media_type != "application/json":
                lines.append(f"body: dockerd has JSON, barge has {b.media_type!r} {b.body[:100]!r}")
            else:
                lines += shape_diff(r.json, b.json)
        if r.status == b.status and r.body and r.media_type != b.media_type:
            lines.append(f"Content-Type: dockerd {r.media_type!r}, barge {b.media_type!r}")
        self.record(request, lines)

    def compare_values(self, request: str, ref_value: Any, barge_value: Any, where: str) -> None:
        """Values that must be equal on both sides (what the test set up the same way)."""
        if ref_value != barge_value:
            self.record(request, [f"{where}: dockerd {ref_value!r}, barge {barge_value!r}"])

    def compare_shapes(self, request: str, ref_value: Any, barge_value: Any) -> None:
        self.record(request, shape_diff(ref_value, barge_value))

    def record(self, request: str, lines: list[str]) -> None:
        self.problems += unaccepted(request, lines, self.accepted)


_ACCEPTED = load_accepted()


@pytest.fixture(scope="session")
def accepted() -> Accepted:
    return _ACCEPTED


def pytest_report_header(config) -> list[str]:
    dockerd = shutil.which("dockerd")
    return [f"differential reference: {dockerd or 'no dockerd (apt-get install docker.io): tests/differential skipped'}"]


_RUNS: dict[str, set[str]] = {"collected": set(), "ran": set()}


def pytest_collection_modifyitems(session, config, items):
    _RUNS["collected"] = {i.nodeid for i in items if "diff" in getattr(i, "fixturenames", ())}


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Name the accepted entries no difference needed, when every test of the suite ran in this process."""
    modules = {p.name for p in Path(__file__).parent.glob("test_*.py")}
    seen = {nodeid.split("::")[0].rpartition("/")[2] for nodeid in _RUNS["ran"]}
    if _RUNS["ran"] and _RUNS["ran"] == _RUNS["collected"] and seen == modules:
        unused = sorted(_ACCEPTED.entries() - _ACCEPTED.used)
        if unused:
            terminalreporter.write_line("differential: accepted.toml entries no difference needed: "
                                        + ", ".join(unused))


@pytest.fixture(scope="session")
def ref_side() -> Iterator[Side]:
    """Debian's dockerd with barge's busybox as ``busybox:latest`` (skipped, saying why, without dockerd)."""
    from barge.client.mkimage import CHANGES, applets, build_rootfs, find_busybox

    binary = find_busybox()
    if binary is None:
        pytest.skip("no static busybox for the image (apt-get install busybox-static)")
    with reference_dockerd() as ref:
        assert ref.docker("rmi", "busybox").returncode == 0
        changes = [arg for change in CHANGES for arg in ("-c", change)]
        made = ref.docker("import", *changes, "-", "busybox:latest", input=build_rootfs(binary, applets(binary)))
        assert made.returncode == 0, made.stderr
        yield Side("dockerd", str(ref.root / "docker.sock"))


@pytest.fixture(scope="session")
def barge_side() -> Iterator[Side]:
    with busybox_daemon(f"barge-df{os.getpid() % 1000}-") as d:
        yield Side("barge", d.socket)


@pytest.fixture
def diff(request, ref_side, barge_side, accepted) -> Iterator[Diff]:
    """Both daemons for one test; the placeholders it made are forgotten afterwards."""
    d = Diff(ref_side, barge_side, accepted)
    _RUNS["ran"].add(request.node.nodeid)
    yield d
    for side in d.sides:
        side.ids.clear()
        tidy(side)


def tidy(side: Side) -> None:
    """Remove every container, user network and unused volume a test left on ``side``."""
    for c in side.call("GET /containers/json?all=1").json or []:
        side.call(f"DELETE /containers/{c['Id']}?force=1&v=1")
    for n in side.call("GET /networks").json or []:
        if n["Name"] not in ("bridge", "host", "none"):
            side.call(f"DELETE /networks/{n['Id']}")
    side.call("POST /volumes/prune")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A test fails, listing them, when it found differences no accepted spot covers."""
    result = yield
    d = item.funcargs.get("diff") if hasattr(item, "funcargs") else None
    if isinstance(d, Diff) and d.problems:
        raise AssertionError("differences from dockerd:\n  " + "\n  ".join(d.problems))
    return result
