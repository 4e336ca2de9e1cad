"""The typer CLI with CliRunner against a fake daemon, plus start-up cost."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from barge.cli.main import app
from tests.unit.test_client import FakeDaemon

runner = CliRunner()
IMG = {"Id": "sha256:" + "0123456789ab" + "f" * 52, "ParentId": "", "RepoTags": ["busybox:latest"], "RepoDigests": [],
       "Created": 0, "Size": 2_000_000, "SharedSize": -1, "Labels": None, "Containers": -1}


@pytest.fixture
def fake(tmp_path):
    d = FakeDaemon(str(tmp_path / "fake.sock"))
    d.route("HEAD", "/_ping", headers={"Api-Version": "1.47"})
    yield d
    d.close()


def run(fake, *args, input=None):
    return runner.invoke(app, ["-H", "unix://" + fake.path, *args], input=input)


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for cmd in ("images", "import", "tag", "rmi", "inspect", "history", "save", "load", "version", "info", "plugins", "daemon", "mkimage"):
        assert cmd in result.output


def test_version_flag():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("barge version ")


def test_usage_error_exits_2():
    assert runner.invoke(app, ["images", "--bogus"]).exit_code == 2


def test_images_table(fake):
    fake.route("GET", "/v1.47/images/json", body=[IMG])
    result = run(fake, "images")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert lines[1].split()[:3] == ["busybox", "latest", "0123456789ab"]
    assert lines[1].endswith("2MB")


def test_images_quiet_format_and_filters(fake):
    fake.route("GET", "/v1.47/images/json", body=[IMG])
    assert run(fake, "images", "-q").output == "0123456789ab\n"
    assert run(fake, "image", "ls", "--format", "{{.Repository}}/{{.Size}}").output == "busybox/2MB\n"
    run(fake, "images", "-f", "dangling=false", "busybox")
    assert "filters=" in fake.requests[-1]["path"]
    bad = run(fake, "images", "-f", "nonsense")
    assert bad.exit_code == 1 and "bad format of filter" in bad.output


def test_template_error_is_one_line_exit_1(fake):
    fake.route("GET", "/v1.47/images/json", body=[IMG])
    result = run(fake, "images", "--format", "{{.Foo}}")
    assert result.exit_code == 1
    assert result.output.strip() == (
        'template parsing error: template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo in type *formatter.imageContext'
    )


def test_daemon_error_message(fake):
    fake.route("DELETE", "/v1.47/images/nope", 404, {"message": "No such image: nope"})
    result = run(fake, "rmi", "nope")
    assert result.exit_code == 1
    assert result.output == "Error response from daemon: No such image: nope\n"


def test_rmi_prints_untagged_and_deleted(fake):
    fake.route("DELETE", "/v1.47/images/busybox", body=[{"Untagged": "busybox:latest"}, {"Deleted": "sha256:1"}])
    assert run(fake, "rmi", "busybox").output == "Untagged: busybox:latest\nDeleted: sha256:1\n"


def test_inspect_indents_4_and_formats(fake):
    fake.route("GET", "/v1.47/containers/busybox/json", 404, {"message": "No such container: busybox"})
    fake.route("GET", "/v1.47/images/busybox/json", body={"Id": "sha256:1", "Config": {"Cmd": ["sh"]}})
    result = run(fake, "inspect", "busybox")
    assert result.exit_code == 0
    assert result.output == json.dumps([{"Id": "sha256:1", "Config": {"Cmd": ["sh"]}}], indent=4) + "\n"
    assert run(fake, "inspect", "--type", "image", "-f", "{{.Config.Cmd}}", "busybox").output == "[sh]\n"
    missing = run(fake, "inspect", "nothere")
    assert missing.exit_code == 1 and missing.output == "[]\nError: No such object: nothere\n"


def test_tag_validates_reference(fake):
    fake.route("POST", "/v1.47/images/busybox/tag", 201)
    assert run(fake, "tag", "busybox", "my/bb:2").exit_code == 0
    assert "repo=my%2Fbb&tag=2" in fake.requests[-1]["path"]
    bad = run(fake, "tag", "busybox", "Bad/Name")
    assert bad.exit_code == 1 and "must be lowercase" in bad.output


def test_import_from_stdin_prints_id(fake):
    fake.route("POST", "/v1.47/images/create", body=b'{"status":"sha256:abc"}\r\n', headers={"Content-Type": "application/json"})
    result = run(fake, "import", "-", "x:1", "-c", 'CMD ["sh"]', input=b"TARDATA")
    assert result.exit_code == 0, result.output
    assert result.output == "sha256:abc\n"
    assert fake.requests[-1]["body"] == b"TARDATA"


def test_import_stream_error(fake):
    fake.route("POST", "/v1.47/images/create", body=b'{"errorDetail":{"message":"bad tar"},"error":"bad tar"}', headers={"Content-Type": "application/json"})
    result = run(fake, "import", "-", input=b"x")
    assert result.exit_code == 1 and result.output.strip() == "bad tar"


def test_history_table(fake):
    fake.route("GET", "/v1.47/images/busybox/history", body=[{"Id": IMG["Id"], "Created": 0, "CreatedBy": "", "Size": 10, "Comment": "c"}])
    out = run(fake, "history", "busybox").output.splitlines()
    assert out[0].startswith("IMAGE          CREATED")
    assert out[1].startswith("0123456789ab") and out[1].rstrip().endswith("10B       c")
    assert run(fake, "history", "-q", "--no-trunc", "busybox").output == IMG["Id"] + "\n"


def test_save_to_file_and_stdout(fake, tmp_path):
    fake.route("GET", "/v1.47/images/get", body=b"TAR" * 1000, headers={"Content-Type": "application/x-tar"})
    target = tmp_path / "out.tar"
    assert run(fake, "save", "-o", str(target), "busybox").exit_code == 0
    assert target.read_bytes() == b"TAR" * 1000
    assert run(fake, "save", "busybox").stdout_bytes == b"TAR" * 1000


def test_save_failure_leaves_no_file(fake, tmp_path):
    fake.route("GET", "/v1.47/images/get", 404, {"message": "No such image: x"})
    target = tmp_path / "out.tar"
    result = run(fake, "save", "-o", str(target), "x")
    assert result.exit_code == 1 and not target.exists() and list(tmp_path.iterdir()) == [tmp_path / "fake.sock"]


def test_load_shows_stream(fake):
    fake.route("POST", "/v1.47/images/load", body=b'{"stream":"Loaded image: busybox:latest\\n"}', headers={"Content-Type": "application/json"})
    result = run(fake, "load", input=b"TAR")
    assert result.output == "Loaded image: busybox:latest\n"


def test_version_and_info(fake):
    fake.route("GET", "/v1.47/version", body={"Version": "0.1.0", "ApiVersion": "1.47", "MinAPIVersion": "1.24", "Os": "linux", "Arch": "amd64",
                                               "Components": [{"Name": "Engine", "Version": "0.1.0", "Details": {"ApiVersion": "1.47", "MinAPIVersion": "1.24", "Os": "linux", "Arch": "amd64", "Experimental": "false"}}]})
    out = run(fake, "version").output
    assert "Server:" in out and "  API version:      1.47 (minimum version 1.24)" in out and " OS/Arch:           linux/" in out
    assert run(fake, "version", "--format", "{{.Server.Version}}").output == "0.1.0\n"
    fake.route("GET", "/v1.47/info", body={"Driver": "vfs", "DriverStatus": [["Layers", "3"]], "Images": 1, "MemTotal": 1 << 30,
                                            "BargeDrivers": [{"Kind": "graph", "Name": "vfs", "Package": "p 1", "Status": "selected", "Reason": ""},
                                                             {"Kind": "graph", "Name": "overlay", "Package": "q 1", "Status": "not supported", "Reason": "no overlay"}]})
    info = run(fake, "info").output
    assert " Storage Driver: vfs\n  Layers: 3\n" in info and " Total Memory: 1GiB" in info
    assert "  graph overlay: not supported: no overlay (q 1)" in info
    assert run(fake, "info", "-f", "{{.Driver}} {{.ClientInfo.Version}}").output.startswith("vfs 0.")
    plugins = run(fake, "plugins").output.splitlines()
    assert plugins[0].split() == ["KIND", "NAME", "PACKAGE", "STATUS", "REASON"]
    assert plugins[2].split()[:2] == ["graph", "overlay"] and plugins[2].endswith("not supported   no overlay")


def test_unreachable_daemon_one_line(tmp_path):
    result = runner.invoke(app, ["-H", f"unix://{tmp_path}/none.sock", "images"])
    assert result.exit_code == 1
    assert result.output == f"Cannot connect to the barge daemon at unix://{tmp_path}/none.sock. Is the daemon running?\n"


def test_plugins_probes_locally_without_a_daemon(tmp_path):
    result = runner.invoke(app, ["-H", f"unix://{tmp_path}/none.sock", "plugins"])
    assert result.exit_code == 0, result.output
    assert "fake" in result.output  # core's fake driver is a real entry point


def test_import_does_not_load_server_or_drivers():
    code = (
        "import sys, barge.cli.main\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'pluggy', 'stevedore', 'rich') "
        "or m.startswith(('barge.api', 'barge.daemon', 'barge.graph', 'barge.engine', 'barge_graph'))]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_help_does_not_import_rich():
    code = "import sys\nfrom barge.cli.main import app\ntry:\n    app(['--help'])\nexcept SystemExit:\n    pass\nprint('rich' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("False")
