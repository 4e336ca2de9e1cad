"""Names and cgroup parents that would be paths on the host (no CVE number; the class of
API values a daemon joins into host paths: container and volume names, image
references, ``CgroupParent``).

These held in the audit (issue 9) and must keep holding: names carrying path
characters are refused with Docker's messages; a ``CgroupParent`` that climbs
out of a cgroup hierarchy is refused at create, and never makes a directory
elsewhere on the host. The control:
an ordinary parent really is made under each hierarchy.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.integration.helpers import rm
from tests.security.helpers import init_pid

BAD_NAMES = ["../../x", "a/b", "..", "/a/../b", ".hidden", "-dash", "a b"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_container_names_with_path_characters_are_refused(box, name):
    """API values as host paths: container names are refused unless they match Docker's pattern (no
    /, no leading dot)."""
    status, _, body = box.request("POST", f"/v1.47/containers/create?name={quote(name, safe='')}",
                                  {"Image": "busybox"})
    assert status == 400, body
    assert "only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed" in json.loads(body)["message"]


@pytest.mark.parametrize("spec", ["../../etc:/x", "..:/x", "a/../b:/x", ".:/x"])
def test_volume_names_with_path_characters_are_refused(box, spec):
    """API values as host paths: ``-v <name>:/x`` with a relative path as the name is not a volume
    name (nor a bind)."""
    status, _, body = box.request("POST", "/v1.47/containers/create",
                                  {"Image": "busybox", "HostConfig": {"Binds": [spec]}})
    assert status == 400, body
    assert not (box.data_root / "volumes" / spec.split(":")[0]).exists() or spec.startswith(".:")


@pytest.mark.parametrize("repo", ["../../x", "a/../../b", "/abs"])
def test_image_references_with_path_characters_are_refused(box, repo):
    """API values as host paths: ``import`` into a repository name that is a path: "invalid
    reference format"."""
    status, _, body = box.request("POST", f"/images/create?fromSrc=-&repo={quote(repo, safe='')}&tag=t", b"",
                                  {"Content-Type": "application/x-tar"})
    assert status == 400 and "invalid reference format" in json.loads(body)["message"], body


def _hierarchies() -> list[Path]:
    return [p for p in Path("/sys/fs/cgroup").iterdir() if (p / "cgroup.procs").exists()]


@pytest.mark.parametrize("parent", ["../../../../tmp/{tag}", "/../../../tmp/{tag}", "..", "a/../../../{tag}",
                                    "../unified/../../{tag}"])
def test_cgroup_parent_cannot_climb_out_of_the_hierarchy(box, parent):
    """API values as host paths: a climbing ``CgroupParent`` is refused at create, and no
    directory named by it appears anywhere."""
    tag = f"barge-cg-{uuid.uuid4().hex[:8]}"
    parent = parent.format(tag=tag)
    status, _, body = box.request("POST", "/v1.47/containers/create",
                                  {"Image": "busybox", "Cmd": ["sleep", "60"], "HostConfig": {"CgroupParent": parent}})
    assert status == 400 and b"must stay inside the cgroup hierarchies" in body, body
    assert not os.path.exists(f"/tmp/{tag}") and not os.path.exists(f"/{tag}")
    assert not [h for h in _hierarchies() if (h.parent / tag).exists()]


def test_control_an_ordinary_cgroup_parent_is_made_under_each_hierarchy(box):
    """API values as host paths, the control: an ordinary ``CgroupParent`` is made under
    each hierarchy, with the container's cgroup in it."""
    parent = f"barge-sec-{uuid.uuid4().hex[:8]}"
    status, _, body = box.request("POST", "/v1.47/containers/create",
                                  {"Image": "busybox", "Cmd": ["sleep", "60"], "HostConfig": {"CgroupParent": parent}})
    assert status == 201, body
    cid = json.loads(body)["Id"]
    try:
        assert box.request("POST", f"/containers/{cid}/start")[0] == 204
        cgroups = Path(f"/proc/{init_pid(box, cid)}/cgroup").read_text()
        assert f"/{parent}/{cid}" in cgroups, cgroups
    finally:
        rm(box, cid)
        for h in _hierarchies():
            try:
                (h / parent).rmdir()
            except OSError:
                pass
