"""``GET /distribution/{name}/json`` against Debian's docker-registry on loopback: the manifest's descriptor
and the platforms, without pulling; credentials from X-Registry-Auth; docker manifest's view of it."""

from __future__ import annotations

import base64
import hashlib
import json

from tests.conftest import remove_tree
from tests.registry_peers import Distribution, busybox_tar, http_upload, make_image

USER = ("bob", "hunter2")


def test_descriptor_and_platform_of_an_image(box, tmp_path):
    reg = Distribution(tmp_path / "distribution", USER)
    try:
        image = make_image([busybox_tar()], cmd=["sh"], note="inspect")
        basic = "Basic " + base64.b64encode(":".join(USER).encode()).decode()
        digest = http_upload(f"http://{reg.host}", "priv/inspected", image, "1", auth=basic)
        auth = base64.urlsafe_b64encode(json.dumps({"username": USER[0], "password": USER[1],
                                                    "serveraddress": reg.host}).encode()).decode()
        status, _, body = box.request("GET", f"/v1.41/distribution/{reg.host}/priv/inspected:1/json",
                                      headers={"X-Registry-Auth": auth})
        assert status == 200, body
        answer = json.loads(body)
        assert answer["Descriptor"] == {"mediaType": image.media_type, "digest": digest,
                                        "size": len(image.manifest)}
        assert digest == "sha256:" + hashlib.sha256(image.manifest).hexdigest()
        assert answer["Platforms"] == [{"architecture": "amd64", "os": "linux"}]
        assert box.request("GET", f"/images/{reg.host}/priv/inspected:1/json")[0] == 404  # nothing pulled
        status, _, body = box.request("GET", f"/v1.41/distribution/{reg.host}/priv/inspected:nosuch/json",
                                      headers={"X-Registry-Auth": auth})
        assert status == 404 and "manifest unknown" in json.loads(body)["message"]
        status, _, body = box.request("GET", f"/v1.41/distribution/{reg.host}/priv/inspected:1/json")
        assert status == 401 and json.loads(body)["message"] == "unauthorized: authentication required"
    finally:
        reg.stop()
        remove_tree(tmp_path / "distribution")
