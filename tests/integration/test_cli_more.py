"""``barge cp|diff|export|commit|events|volume`` as real processes against a
real daemon with real containers: cp of files and directories both ways (and
tars on stdin/stdout), a missing path's 404, diff kinds, export | import,
commit then run, events bounded by --since/--until, and the volume commands.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
import uuid

import pytest

from barge.testing.wait import wait_for
from tests.integration.test_cli_containers import barge, cdaemon, names, text  # noqa: F401  (fixtures)

pytestmark = pytest.mark.daemon


@pytest.fixture
def running(cdaemon, names):
    name = names("cp")
    barge(cdaemon, "run", "-d", "--name", name, "busybox", "sh", "-c",
          "mkdir -p /data/sub && echo hello > /data/a.txt && echo deep > /data/sub/b.txt && touch /ready; sleep 600")
    wait_for(lambda: barge(cdaemon, "exec", name, "test", "-e", "/ready", check=False).returncode == 0, 20,
             interval=0.1, what="the container to get ready")
    return name


# ------------------------------------------------------------------ cp

def test_cp_file_from_container(cdaemon, running, tmp_path):
    barge(cdaemon, "cp", f"{running}:/data/a.txt", str(tmp_path / "copy.txt"))
    assert (tmp_path / "copy.txt").read_text() == "hello\n"
    barge(cdaemon, "cp", f"{running}:/data/a.txt", str(tmp_path))  # into an existing directory
    assert (tmp_path / "a.txt").read_text() == "hello\n"
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "copy.txt"]  # no scratch left


def test_cp_directory_from_container(cdaemon, running, tmp_path):
    barge(cdaemon, "cp", f"{running}:/data", str(tmp_path / "fresh"))  # missing: takes the new name
    assert (tmp_path / "fresh" / "sub" / "b.txt").read_text() == "deep\n"
    (tmp_path / "existing").mkdir()
    barge(cdaemon, "cp", f"{running}:/data", str(tmp_path / "existing"))  # existing: lands inside
    assert (tmp_path / "existing" / "data" / "a.txt").read_text() == "hello\n"
    (tmp_path / "contents").mkdir()
    barge(cdaemon, "cp", f"{running}:/data/.", str(tmp_path / "contents"))  # dir/. copies the contents
    assert sorted(os.listdir(tmp_path / "contents")) == ["a.txt", "sub"]


def test_cp_to_stdout_is_a_tar(cdaemon, running):
    proc = barge(cdaemon, "cp", f"{running}:/data", "-")
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        assert {"data", "data/a.txt", "data/sub", "data/sub/b.txt"} <= {m.name.rstrip("/") for m in tar}


def test_cp_file_and_directory_into_container(cdaemon, running, tmp_path):
    (tmp_path / "f.txt").write_text("local\n")
    tree = tmp_path / "tree"
    (tree / "inner").mkdir(parents=True)
    (tree / "inner" / "x").write_text("x\n")
    barge(cdaemon, "cp", str(tmp_path / "f.txt"), f"{running}:/data/renamed.txt")
    barge(cdaemon, "cp", str(tmp_path / "f.txt"), f"{running}:/data/sub")
    barge(cdaemon, "cp", str(tree), f"{running}:/data")  # existing dir: lands inside
    barge(cdaemon, "cp", str(tree), f"{running}:/newtree")  # missing: takes the new name
    proc = barge(cdaemon, "exec", running, "sh", "-c",
                 "cat /data/renamed.txt /data/sub/f.txt /data/tree/inner/x /newtree/inner/x")
    assert text(proc) == "local\nlocal\nx\nx\n"


def test_cp_tar_from_stdin(cdaemon, running):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("piped.txt")
        info.size = 6
        tar.addfile(info, io.BytesIO(b"piped\n"))
    barge(cdaemon, "cp", "-", f"{running}:/data", input=buf.getvalue())
    assert text(barge(cdaemon, "exec", running, "cat", "/data/piped.txt")) == "piped\n"
    proc = barge(cdaemon, "cp", "-", f"{running}:/data/a.txt", input=buf.getvalue(), check=False)
    assert proc.returncode == 1 and f'destination "{running}:/data/a.txt" must be a directory' in proc.stderr.decode()


def test_cp_missing_paths(cdaemon, running, tmp_path):
    proc = barge(cdaemon, "cp", f"{running}:/no/such", str(tmp_path / "x"), check=False)
    assert proc.returncode == 1
    assert proc.stderr.decode() == f"Error response from daemon: Could not find the file /no/such in container {running}\n"
    (tmp_path / "f").write_text("f")
    proc = barge(cdaemon, "cp", str(tmp_path / "f"), f"{running}:/no/such/dir/f", check=False)
    assert proc.returncode == 1
    assert proc.stderr.decode().startswith("Error response from daemon: Could not find the file /no/such/dir")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("args, message", [
    (["a", "b"], "must specify at least one container source"),
    (["c1:/a", "c2:/b"], "copying between containers is not supported"),
])
def test_cp_refuses_without_one_container(cdaemon, args, message):
    proc = barge(cdaemon, "cp", *args, check=False)
    assert proc.returncode == 1 and proc.stderr.decode() == message + "\n"


# ------------------------------------------------------------------ diff, export, commit

def test_diff_kinds(cdaemon, names):
    name = names("diff")
    barge(cdaemon, "run", "--name", name, "busybox", "sh", "-c", "echo x > /added; rm /bin/true; touch /etc/passwd")
    lines = text(barge(cdaemon, "diff", name)).splitlines()
    assert "A /added" in lines and "D /bin/true" in lines and "C /etc" in lines and "C /etc/passwd" in lines
    assert text(barge(cdaemon, "container", "diff", name)).splitlines() == lines
    proc = barge(cdaemon, "diff", "no-such-container-x", check=False)
    assert proc.returncode == 1 and "No such container: no-such-container-x" in proc.stderr.decode()


def test_export_import_round_trip(cdaemon, names, tmp_path):
    name = names("exp")
    barge(cdaemon, "run", "--name", name, "busybox", "sh", "-c", "echo exported > /marker")
    out_file = tmp_path / "fs.tar"
    barge(cdaemon, "export", "-o", str(out_file), name)
    with tarfile.open(out_file) as tar:
        assert tar.extractfile("marker").read() == b"exported\n"
    piped = barge(cdaemon, "container", "export", name).stdout
    assert piped[:512] and tarfile.open(fileobj=io.BytesIO(piped)).getmember("marker")
    tag = f"exported-{uuid.uuid4().hex[:8]}:v1"
    barge(cdaemon, "import", "-", tag, "-c", 'CMD ["cat", "/marker"]', input=piped)
    try:
        assert text(barge(cdaemon, "run", "--rm", tag)) == "exported\n"
    finally:
        barge(cdaemon, "rmi", tag, check=False)


def test_commit_then_run(cdaemon, names):
    name = names("commit")
    barge(cdaemon, "run", "--name", name, "busybox", "sh", "-c", "echo committed > /state")
    tag = f"committed-{uuid.uuid4().hex[:8]}"
    proc = barge(cdaemon, "commit", "-a", "me <me@x>", "-m", "a message", "-c", 'CMD ["cat", "/state"]', name, tag)
    image_id = text(proc).strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    try:
        assert text(barge(cdaemon, "run", "--rm", tag)) == "committed\n"
        info = json.loads(text(barge(cdaemon, "inspect", f"{tag}:latest")))[0]
        assert info["Author"] == "me <me@x>" and info["Comment"] == "a message"
        untagged = text(barge(cdaemon, "container", "commit", "--pause=false", name)).strip()
        assert untagged.startswith("sha256:")
        barge(cdaemon, "rmi", untagged)
    finally:
        barge(cdaemon, "rmi", tag, check=False)


# ------------------------------------------------------------------ events

def test_events_since_until_around_a_run(cdaemon, names):
    name = names("ev")
    start = time.time()
    barge(cdaemon, "run", "--name", name, "busybox", "true")
    end = time.time() + 0.5
    since, until = f"{start:.9f}", f"{end:.9f}"
    proc = barge(cdaemon, "events", "--since", since, "--until", until, "-f", f"container={name}", timeout=30)
    lines = text(proc).splitlines()
    actions = [line.split(" ")[2] for line in lines]
    assert {"create", "start", "die"} <= set(actions), lines
    first = lines[0]
    assert first.split(" ")[1] == "container" and f"name={name}" in first and first.endswith(")")
    assert first[19] == "." and first[20:29].isdigit()  # RFC3339 with fixed nanoseconds
    proc = barge(cdaemon, "events", "--since", since, "--until", until, "-f", f"container={name}",
                 "-f", "event=start", "--format", "{{.Action}} {{.Actor.Attributes.name}}")
    assert text(proc) == f"start {name}\n"
    proc = barge(cdaemon, "events", "--since", since, "--until", until, "-f", f"container={name}", "--format", "json")
    assert all(json.loads(line)["Actor"]["Attributes"]["name"] == name for line in text(proc).splitlines())
    proc = barge(cdaemon, "events", "--since", "yesterday-ish", check=False)
    assert proc.returncode == 1 and "failed to parse value as time or duration" in proc.stderr.decode()


# ------------------------------------------------------------------ volumes

def test_volume_create_ls_inspect_rm(cdaemon):
    name = f"vol-{uuid.uuid4().hex[:8]}"
    assert text(barge(cdaemon, "volume", "create", "--label", "team=a", name)) == f"{name}\n"
    try:
        listing = text(barge(cdaemon, "volume", "ls")).splitlines()
        assert listing[0].split() == ["DRIVER", "VOLUME", "NAME"]
        assert any(line.split() == ["local", name] for line in listing[1:])
        assert name in text(barge(cdaemon, "volume", "ls", "-q")).split()
        assert text(barge(cdaemon, "volume", "ls", "-q", "-f", "label=team=a")).split() == [name]
        assert text(barge(cdaemon, "volume", "ls", "-f", f"name={name}", "--format", "{{.Name}} {{.Labels}}")) \
            == f"{name} team=a\n"
        raw = text(barge(cdaemon, "volume", "inspect", name))
        info = json.loads(raw)
        assert raw.startswith("[\n    {") and info[0]["Name"] == name and info[0]["Labels"] == {"team": "a"}
        assert text(barge(cdaemon, "volume", "inspect", "-f", "{{.Driver}}", name)) == "local\n"
        missing = barge(cdaemon, "volume", "inspect", name, "no-such-vol-x", check=False)
        assert missing.returncode == 1 and json.loads(missing.stdout)[0]["Name"] == name
        assert "no-such-vol-x" in missing.stderr.decode()
    finally:
        assert text(barge(cdaemon, "volume", "rm", name)) == f"{name}\n"
    proc = barge(cdaemon, "volume", "rm", name, check=False)
    assert proc.returncode == 1 and proc.stderr.decode().startswith("Error response from daemon: ")


def test_volume_create_generates_a_name(cdaemon):
    name = text(barge(cdaemon, "volume", "create")).strip()
    assert len(name) == 64
    barge(cdaemon, "volume", "rm", name)


def test_volume_rm_in_use_and_prune(cdaemon, names):
    used, named = f"used-{uuid.uuid4().hex[:8]}", f"named-{uuid.uuid4().hex[:8]}"
    barge(cdaemon, "volume", "create", named)
    ctr = names("vol")
    barge(cdaemon, "create", "--name", ctr, "-v", f"{used}:/v", "-v", "/anon", "busybox", "true")
    anon = [m["Name"] for m in json.loads(text(barge(cdaemon, "inspect", ctr)))[0]["Mounts"] if m["Destination"] == "/anon"]
    assert len(anon) == 1
    proc = barge(cdaemon, "volume", "rm", used, check=False)
    assert proc.returncode == 1 and "in use" in proc.stderr.decode()
    # Cancelled at the prompt: nothing goes.
    proc = barge(cdaemon, "volume", "prune", input=b"n\n", check=False)
    assert proc.stdout.decode().startswith("WARNING! This will remove anonymous local volumes not used by at least one container.\n"
                                           "Are you sure you want to continue? [y/N] ")
    assert named in text(barge(cdaemon, "volume", "ls", "-q")).split()
    barge(cdaemon, "rm", ctr)  # the anonymous volume stays (no -v), now unused
    proc = barge(cdaemon, "volume", "prune", input=b"y\n")
    out = text(proc)
    assert "Deleted Volumes:\n" in out and anon[0] in out and out.rstrip().splitlines()[-1].startswith("Total reclaimed space: ")
    left = text(barge(cdaemon, "volume", "ls", "-q")).split()
    assert anon[0] not in left and named in left and used in left  # anonymous only, without -a
    out = text(barge(cdaemon, "volume", "prune", "-a", "-f", "--filter", f"label!=nothing-{uuid.uuid4().hex[:4]}"))
    assert named in out and used in out
    assert text(barge(cdaemon, "volume", "prune", "-f")) == "\nTotal reclaimed space: 0B\n"
