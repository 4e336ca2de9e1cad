"""The real docker CLI drives barge's image endpoints (issue 2 acceptance)."""

import json

import pytest

pytestmark = pytest.mark.compat


def test_version_and_info(docker_cli):
    version = json.loads(docker_cli.out("version", "--format", "{{json .}}"))
    assert version["Server"]["ApiVersion"] >= "1.44"
    assert version["Server"]["Os"] == "linux"
    info = json.loads(docker_cli.out("info", "--format", "{{json .}}"))
    assert info["Driver"] in {"vfs", "overlay"}
    plain = docker_cli.out("info")
    assert "Storage Driver: " + info["Driver"] in plain


def test_import_tag_inspect_history_rmi(docker_cli, rootfs_tar):
    image_id = docker_cli.out("import", "--change", 'CMD ["/bin/tool"]', "-m", "made in a test", str(rootfs_tar), "demo:1")
    assert image_id.startswith("sha256:") and len(image_id) == 71

    listed = docker_cli.out("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
    assert f"demo:1 {image_id[7:19]}" in listed.splitlines()

    docker_cli("tag", "demo:1", "demo:two")
    ids = docker_cli.out("images", "-q", "demo").split()
    assert ids == [image_id[7:19]] * 2

    inspected = json.loads(docker_cli.out("inspect", "demo:two"))[0]
    assert inspected["Id"] == image_id
    assert sorted(inspected["RepoTags"]) == ["demo:1", "demo:two"]
    assert inspected["Config"]["Cmd"] == ["/bin/tool"]
    assert inspected["RootFS"]["Type"] == "layers" and len(inspected["RootFS"]["Layers"]) == 1
    assert docker_cli.out("inspect", "-f", "{{.Os}}/{{.Architecture}}", image_id).startswith("linux/")

    history = docker_cli.out("history", "--no-trunc", "--format", "{{.ID}}|{{.Comment}}", "demo:1")
    assert history.splitlines()[0] == f"{image_id}|made in a test"

    out = docker_cli.out("rmi", "demo:two")
    assert out == "Untagged: demo:two"
    out = docker_cli.out("rmi", "demo:1")
    assert "Untagged: demo:1" in out and f"Deleted: {image_id}" in out
    assert docker_cli.out("images", "-q") == ""


def test_save_load_round_trip(docker_cli, rootfs_tar, tmp_path):
    image_id = docker_cli.out("import", str(rootfs_tar), "busybox:latest")
    saved = docker_cli("save", "busybox").stdout
    assert len(saved) > 1024
    docker_cli("rmi", "busybox")
    assert docker_cli.out("images", "-q") == ""

    out = docker_cli.out("load", input=saved)
    assert "Loaded image: busybox:latest" in out
    assert docker_cli.out("inspect", "-f", "{{.Id}}", "busybox") == image_id

    # `docker save -o` and `load -i` with files, and a second load is harmless
    archive = tmp_path / "busybox.tar"
    docker_cli("save", "-o", str(archive), "busybox:latest")
    assert "Loaded image: busybox:latest" in docker_cli.out("load", "-i", str(archive))


def test_errors_reach_the_user_in_docker_shape(docker_cli):
    proc = docker_cli("inspect", "nosuchimage", check=False)
    assert proc.returncode != 0
    assert "No such object: nosuchimage" in proc.stderr.decode() or "No such image" in proc.stderr.decode()
    proc = docker_cli("rmi", "nosuchimage", check=False)
    assert proc.returncode != 0 and "No such image: nosuchimage" in proc.stderr.decode()
    proc = docker_cli("tag", "nosuchimage", "x:y", check=False)
    assert proc.returncode != 0 and "No such image" in proc.stderr.decode()
