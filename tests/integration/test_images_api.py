"""The image routes against a real daemon (``$BARGE_TEST_DRIVER``, vfs by default)."""

from __future__ import annotations

import io
import json
import tarfile
import urllib.parse

import pytest

pytestmark = pytest.mark.daemon


def rootfs_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in {"etc/hostname": b"barge\n", "bin/hello": b"#!/bin/sh\necho hello\n"}.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o755, 1_700_000_000
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def messages(body: bytes) -> list[dict]:
    return [json.loads(line) for line in body.split(b"\r\n") if line.strip()]


def do_import(daemon, repo="busybox", tag="latest", changes=(), message=""):
    query = [("fromSrc", "-"), ("repo", repo), ("tag", tag), ("message", message)] + [("changes", c) for c in changes]
    status, headers, body = daemon.request(
        "POST", "/v1.45/images/create?" + urllib.parse.urlencode(query), rootfs_tar(),
        headers={"Content-Type": "application/x-tar"},
    )
    assert status == 200, body
    msgs = messages(body)
    assert msgs[-1]["status"].startswith("sha256:"), msgs
    return msgs[-1]["status"]


def error_of(daemon, method, path, expect):
    status, headers, body = daemon.request(method, path)
    assert status == expect, (status, body)
    assert headers["Content-Type"] == "application/json"
    return json.loads(body)["message"]


def test_import_list_inspect_history(daemon):
    image_id = do_import(daemon, changes=['CMD ["/bin/hello"]', "ENV PATH=/bin"], message="from test")
    listed = daemon.json("GET", "/v1.45/images/json")
    assert [s["Id"] for s in listed] == [image_id]
    assert listed[0]["RepoTags"] == ["busybox:latest"] and listed[0]["Size"] > 0 and listed[0]["Containers"] == -1
    info = daemon.json("GET", "/v1.45/images/busybox/json")
    assert info["Id"] == image_id and info["Config"]["Cmd"] == ["/bin/hello"] and info["Comment"] == "from test"
    assert info["GraphDriver"]["Name"] == daemon.driver or daemon.driver is None
    assert info["RootFS"]["Type"] == "layers" and len(info["RootFS"]["Layers"]) == 1
    hist = daemon.json("GET", f"/images/{image_id[7:19]}/history")
    assert hist[0]["Id"] == image_id and hist[0]["Tags"] == ["busybox:latest"] and hist[0]["Comment"] == "from test"


def test_tag_and_rmi_rules(daemon):
    image_id = do_import(daemon)
    status, _, body = daemon.request("POST", "/v1.45/images/busybox/tag?repo=example.com/team/app&tag=v1")
    assert status == 201, body
    assert daemon.json("GET", "/images/example.com/team/app:v1/json")["Id"] == image_id
    msg = error_of(daemon, "DELETE", f"/v1.45/images/{image_id[7:19]}", 409)
    assert msg == f"conflict: unable to delete {image_id[7:19]} (must be forced) - image is referenced in multiple repositories"
    assert daemon.json("DELETE", "/v1.45/images/example.com/team/app:v1") == [{"Untagged": "example.com/team/app:v1"}]
    records = daemon.json("DELETE", f"/v1.45/images/{image_id}?force=1")
    assert records[0] == {"Untagged": "busybox:latest"} and records[1] == {"Deleted": image_id}
    assert daemon.json("GET", "/images/json") == []
    graph = daemon.data_root / "graph"
    leftovers = [p for p in graph.rglob("*") if p.is_dir() and p.parent.parent == graph]
    assert not leftovers or all(not any(p.iterdir()) for p in leftovers)


def test_errors_are_docker_shaped(daemon):
    assert error_of(daemon, "GET", "/v1.45/images/nothere/json", 404) == "No such image: nothere:latest"
    assert error_of(daemon, "GET", "/v1.45/images/BusyBox:Latest/json", 400) == \
        "invalid reference format: repository name (library/BusyBox) must be lowercase"
    assert error_of(daemon, "GET", "/v1.45/images/json?filters=%7Bnope", 400).startswith("invalid filter")
    assert error_of(daemon, "GET", "/v1.45/images/json?filters=" + urllib.parse.quote('{"color":["red"]}'), 400) == "invalid filter 'color'"
    # a registry nobody listens on (port 1 of loopback): the daemon's answer, before any progress
    assert "connection refused" in error_of(daemon, "POST", "/v1.45/images/create?fromImage=127.0.0.1:1/x&tag=latest",
                                            500).lower()
    status, _, body = daemon.request("POST", "/v1.45/images/create?fromSrc=-&changes=RUN%20true", rootfs_tar())
    assert status == 400 and json.loads(body)["message"] == "run is not a valid change command"
    assert daemon.json("GET", "/images/json") == []


def test_filters_and_old_api_none_tags(daemon):
    tagged = do_import(daemon, "busybox", "1.36", changes=["LABEL tier=base"])
    dangling = do_import(daemon, "", "", changes=["LABEL tier=none"])
    q = urllib.parse.quote
    assert [s["Id"] for s in daemon.json("GET", "/v1.45/images/json?filters=" + q('{"dangling":{"true":true}}'))] == [dangling]
    assert [s["Id"] for s in daemon.json("GET", "/v1.45/images/json?filters=" + q('{"reference":["busy*"]}'))] == [tagged]
    assert [s["Id"] for s in daemon.json("GET", "/v1.45/images/json?filters=" + q('{"label":["tier=base"]}'))] == [tagged]
    new = {s["Id"]: s for s in daemon.json("GET", "/v1.45/images/json")}
    assert new[dangling]["RepoTags"] == [] and new[dangling]["RepoDigests"] == []
    old = {s["Id"]: s for s in daemon.json("GET", "/v1.41/images/json")}
    assert old[dangling]["RepoTags"] == ["<none>:<none>"]


def test_save_load_round_trip_over_http(daemon):
    image_id = do_import(daemon, "roundtrip", "1")
    status, headers, archive = daemon.request("GET", "/v1.45/images/get?names=roundtrip:1")
    assert status == 200, archive[:300]
    assert headers["Content-Type"] == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tf:
        names = tf.getnames()
        manifest = json.loads(tf.extractfile("manifest.json").read())
    assert {"index.json", "oci-layout", "manifest.json"} <= set(names)
    assert manifest[0]["RepoTags"] == ["roundtrip:1"]
    daemon.json("DELETE", "/v1.45/images/roundtrip:1")
    status, _, body = daemon.request("POST", "/v1.45/images/load?quiet=0", archive,
                                     headers={"Content-Type": "application/x-tar"})
    assert status == 200, body
    assert messages(body) == [{"stream": "Loaded image: roundtrip:1\n"}]
    assert daemon.json("GET", "/images/roundtrip:1/json")["Id"] == image_id
    assert not any((daemon.data_root / "tmp").glob("load-*"))


def test_load_of_a_bad_archive_reports_and_records_nothing(daemon):
    status, headers, body = daemon.request("POST", "/v1.45/images/load", b"x" * 4096)
    assert status == 200 and headers["Content-Type"] == "application/json"  # dockerd: the error in the stream
    (msg,) = messages(body)
    assert msg["error"] == msg["errorDetail"]["message"] and "invalid" in msg["error"]
    assert daemon.json("GET", "/images/json") == []


def test_docker_sdk_drives_images(daemon):
    docker = pytest.importorskip("docker", reason="the docker SDK for Python is not installed (pip install '.[test]')")
    client = docker.DockerClient(base_url=daemon.url, version="1.45")
    try:
        image_id = do_import(daemon, "sdk", "t")
        img = client.images.get("sdk:t")
        assert img.id == image_id and img.tags == ["sdk:t"]
        assert img.tag("sdk", "u")
        assert sorted(client.images.get(image_id).tags) == ["sdk:t", "sdk:u"]
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get("nothere")
        data = b"".join(img.save())
        client.images.remove("sdk:t")
        client.images.remove("sdk:u")
        loaded = client.images.load(data)
        assert [i.id for i in loaded] == [image_id]
    finally:
        client.close()


def test_import_from_a_loopback_url(daemon):
    import http.server
    import threading

    payload = rootfs_tar()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/rootfs.tar":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        q = urllib.parse.urlencode({"fromSrc": base + "/rootfs.tar", "repo": "fromurl"})
        status, _, body = daemon.request("POST", "/v1.45/images/create?" + q)
        assert status == 200, body
        msgs = messages(body)
        assert msgs[0]["status"] == "Downloading from " + base + "/rootfs.tar"
        info = daemon.json("GET", "/images/fromurl/json")
        assert info["Id"] == msgs[-1]["status"]
        assert info["Comment"] == "Imported from " + base + "/rootfs.tar"
        q = urllib.parse.urlencode({"fromSrc": base + "/missing.tar", "repo": "nope"})
        status, _, body = daemon.request("POST", "/v1.45/images/create?" + q)
        assert b"404" in body
        q = urllib.parse.urlencode({"fromSrc": "ftp://127.0.0.1/x.tar"})
        status, _, body = daemon.request("POST", "/v1.45/images/create?" + q)
        assert status == 400 and b"http(s) URL" in body
    finally:
        server.shutdown()
        server.server_close()
