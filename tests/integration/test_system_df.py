"""``GET /system/df`` and ``docker system df [-v]``: images with their containers and shared sizes,
containers with their sizes, volumes with their size and users, no build cache."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.integration.build_helpers import build, built_id, context_tar
from tests.integration.helpers import create, rm


def test_disk_usage_counts_what_it_should(box):
    msgs, _ = build(box, context_tar({"Dockerfile": "FROM busybox\nRUN echo x > /x\n"}), t="dfimg:1",
                    networkmode="none")
    image = built_id(msgs)
    box.json("POST", "/volumes/create", {"Name": "dfvol"}, expect=201)
    cid = create(box, Image="dfimg:1", Cmd=["sh", "-c", "head -c 5000 /dev/zero > /data/f"],
                 HostConfig={"Binds": ["dfvol:/data"], "NetworkMode": "none"})
    try:
        box.request("POST", f"/containers/{cid}/start")
        box.request("POST", f"/containers/{cid}/wait")
        df = box.json("GET", "/v1.41/system/df")
        assert set(df) == {"Images", "LayersSize", "Containers", "Volumes", "BuildCache"} and df["BuildCache"] is None
        img = next(i for i in df["Images"] if i["Id"] == image)
        base = next(i for i in df["Images"] if "busybox:latest" in i["RepoTags"])
        assert img["Containers"] == 1 and base["Containers"] == 0
        assert img["SharedSize"] == base["Size"] > 0 and base["SharedSize"] == base["Size"]
        assert df["LayersSize"] >= img["Size"]
        (c,) = [c for c in df["Containers"] if c["Id"] == cid]
        assert c["SizeRootFs"] >= c.get("SizeRw", 0) >= 0  # a zero SizeRw is left out, as dockerd does
        (v,) = [v for v in df["Volumes"] if v["Name"] == "dfvol"]
        assert v["UsageData"] == {"Size": 5000, "RefCount": 1}
        only = box.json("GET", "/v1.42/system/df?type=volume")
        assert set(only) == {"Volumes"}
        status, _, body = box.request("GET", "/v1.42/system/df?type=bogus")
        assert status == 400 and json.loads(body)["message"] == "unknown object type: bogus"
        docker = shutil.which("docker")
        if docker is None:
            pytest.skip("the docker CLI is not installed: the API was checked, `docker system df` is not")
        env = {"DOCKER_HOST": box.url, "PATH": "/usr/bin:/bin"}
        out = subprocess.run([docker, "system", "df"], env=env, capture_output=True, text=True, check=True).stdout
        assert out.splitlines()[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
        assert out.splitlines()[1].startswith("Images") and out.splitlines()[4].startswith("Build Cache")
        verbose = subprocess.run([docker, "system", "df", "-v"], env=env, capture_output=True, text=True,
                                 check=True).stdout
        assert "dfimg" in verbose and "dfvol" in verbose
    finally:
        rm(box, cid)
        box.request("DELETE", "/volumes/dfvol")
