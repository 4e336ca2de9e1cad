"""A build whose base image lives in a private registry (Debian's docker-registry behind htpasswd, on
loopback): the credentials come in ``X-Registry-Config``, as the docker CLI sends them."""

from __future__ import annotations

import base64
import json

import pytest

from tests.conftest import remove_tree
from tests.integration.build_helpers import build, built_id, context_tar, error_of, stream_text
from tests.registry_peers import Distribution, busybox_tar, http_upload, layer_tar, make_image

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

USER = ("bob", "hunter2")


def registry_config(host: str, user: tuple[str, str]) -> str:
    body = {host: {"username": user[0], "password": user[1], "serveraddress": host}}
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode()


def test_base_image_from_a_private_registry(box, tmp_path):
    reg = Distribution(tmp_path / "distribution", USER)
    try:
        image = make_image([busybox_tar(), layer_tar({"hello": b"from the private registry\n"})], cmd=["sh"])
        basic = "Basic " + base64.b64encode(":".join(USER).encode()).decode()
        http_upload(f"http://{reg.host}", "priv/base", image, "1", auth=basic)
        context = context_tar({"Dockerfile": f"FROM {reg.host}/priv/base:1\nRUN cat /hello\n"})

        _, body = build(box, context, networkmode="none")
        denied = [json.loads(line) for line in body.splitlines()]
        assert "errorDetail" in denied[-1] and box.request("GET", f"/images/{reg.host}/priv/base:1/json")[0] == 404

        status, _, body = box.request("POST", "/v1.41/build?networkmode=none", context,
                                      headers={"Content-Type": "application/x-tar",
                                               "X-Registry-Config": registry_config(reg.host, USER)})
        allowed = [json.loads(line) for line in body.splitlines()]
        assert status == 200 and "Successfully built" in stream_text(allowed), allowed
        msgs, _ = build(box, context, networkmode="none", nocache=1)  # now local: no credentials needed
        assert "from the private registry\n" in stream_text(msgs) and built_id(msgs)
        wrong, _ = build(box, context_tar({"Dockerfile": f"FROM {reg.host}/priv/other:1\n"}), networkmode="none")
        assert error_of(wrong)
    finally:
        reg.stop()
        remove_tree(tmp_path / "distribution")


def test_pull_progress_and_the_credentials_by_registry(box, tmp_path):
    reg = Distribution(tmp_path / "distribution", USER)
    try:
        image = make_image([busybox_tar(), layer_tar({"p": b"p\n"})], cmd=["sh"], note="progress")
        basic = "Basic " + base64.b64encode(":".join(USER).encode()).decode()
        http_upload(f"http://{reg.host}", "priv/progress", image, "2", auth=basic)
        context = context_tar({"Dockerfile": f"FROM {reg.host}/priv/progress:2\nLABEL x=1\n"})
        status, _, body = box.request("POST", "/v1.41/build", context,
                                      headers={"Content-Type": "application/x-tar",
                                               "X-Registry-Config": registry_config(reg.host, USER)})
        msgs = [json.loads(line) for line in body.splitlines()]
        assert status == 200 and "Successfully built" in stream_text(msgs), msgs
        statuses = [m.get("status", "") for m in msgs]
        assert "Pulling from priv/progress" in statuses and any(s.startswith("Digest: sha256:") for s in statuses)
        assert f"Status: Downloaded newer image for {reg.host}/priv/progress:2" in statuses
    finally:
        reg.stop()
        remove_tree(tmp_path / "distribution")
