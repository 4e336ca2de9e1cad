"""``barge build`` as a real process against a real daemon with busybox:
the context it sends (directories, .dockerignore, ``-f`` inside, outside
and from stdin, a tar or a Dockerfile on stdin), the flags the builder
reads (``-t``, ``--build-arg``, ``--target``), what it prints (``-q``,
``--iidfile``) and how it fails (a RUN's exit status, a bad Dockerfile).
RUN steps use ``--network none``: nothing leaves the machine.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile

import pytest

pytestmark = pytest.mark.daemon


def barge(daemon, *args, input: bytes | None = None, cwd=None, env: dict | None = None, check: bool = True):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("BARGE_", "DOCKER_"))}
    full_env.update({"BARGE_HOST": daemon.url, **(env or {})})
    proc = subprocess.run([sys.executable, "-m", "barge", *args], input=input, capture_output=True, env=full_env,
                          cwd=cwd, timeout=300, stdin=None if input is not None else subprocess.DEVNULL)
    if check:
        assert proc.returncode == 0, f"barge {' '.join(args)}: {proc.returncode}\n{proc.stdout.decode()}\n{proc.stderr.decode()}"
    return proc


def build(daemon, *args, **kw):
    return barge(daemon, "build", "--network", "none", *args, **kw)


def run_out(daemon, image: str, *cmd: str) -> str:
    proc = barge(daemon, "run", "--rm", "--network", "none", image, *cmd)
    return proc.stdout.decode()


def image_id(daemon, ref: str) -> str:
    return barge(daemon, "inspect", "--type", "image", "-f", "{{.Id}}", ref).stdout.decode().strip()


@pytest.fixture
def context(tmp_path):
    root = tmp_path / "ctx"
    (root / "sub").mkdir(parents=True)
    (root / "file.txt").write_text("from the context\n")
    (root / "sub" / "kept.txt").write_text("kept\n")
    (root / "secret.key").write_text("never sent\n")
    (root / ".dockerignore").write_text("*.key\n")
    (root / "Dockerfile").write_text("FROM busybox\nRUN echo built > /built\nCOPY . /ctx/\nCMD [\"cat\", \"/built\"]\n")
    return root


def test_build_with_tags_runs_the_steps_and_honours_dockerignore(daemon, busybox_image, context):
    proc = build(daemon, "-t", "cli-build:1", "-t", "cli-build:2", str(context))
    out = proc.stdout.decode()
    assert out.startswith("Sending build context to Docker daemon ")
    assert "Step 1/4 : FROM busybox\n" in out and "Step 4/4 : CMD [\"cat\", \"/built\"]\n" in out
    assert "Successfully tagged cli-build:1\n" in out and "Successfully tagged cli-build:2\n" in out
    assert image_id(daemon, "cli-build:1") == image_id(daemon, "cli-build:2")
    assert run_out(daemon, "cli-build:1") == "built\n"
    listing = run_out(daemon, "cli-build:1", "find", "/ctx", "-type", "f")
    assert sorted(listing.split()) == ["/ctx/.dockerignore", "/ctx/Dockerfile", "/ctx/file.txt", "/ctx/sub/kept.txt"]


def test_dockerfile_by_flag_inside_outside_and_from_stdin(daemon, busybox_image, context, tmp_path):
    (context / "sub" / "Dockerfile.sub").write_text("FROM busybox\nCOPY sub/kept.txt /kept\n")
    build(daemon, "-t", "inside", "-f", str(context / "sub" / "Dockerfile.sub"), str(context))
    assert run_out(daemon, "inside", "cat", "/kept") == "kept\n"
    (tmp_path / "outside.Dockerfile").write_text("FROM busybox\nCOPY . /ctx/\n")
    build(daemon, "-t", "outside", "-f", "outside.Dockerfile", "ctx", cwd=tmp_path)
    listing = run_out(daemon, "outside", "ls", "-a", "/ctx")
    assert "file.txt" in listing and ".dockerfile." not in listing
    build(daemon, "-t", "stdin-file", "-f", "-", str(context), input=b"FROM busybox\nCOPY file.txt /f\n")
    assert run_out(daemon, "stdin-file", "cat", "/f") == "from the context\n"


def test_build_args_from_flags_and_the_environment(daemon, busybox_image, tmp_path):
    root = tmp_path / "args"
    root.mkdir()
    (root / "Dockerfile").write_text("FROM busybox\nARG GIVEN\nARG FROM_ENV\nARG DEFAULTED=dflt\n"
                                     "RUN echo \"$GIVEN $FROM_ENV $DEFAULTED\" > /args\n")
    build(daemon, "-t", "args", "--build-arg", "GIVEN=flag", "--build-arg", "FROM_ENV", str(root),
          env={"FROM_ENV": "env"})
    assert run_out(daemon, "args", "cat", "/args") == "flag env dflt\n"


def test_target_stops_at_the_named_stage(daemon, busybox_image, tmp_path):
    root = tmp_path / "stages"
    root.mkdir()
    (root / "Dockerfile").write_text("FROM busybox AS first\nRUN echo first > /stage\n"
                                     "FROM busybox AS second\nRUN echo second > /stage\n")
    build(daemon, "-t", "staged", "--target", "first", str(root))
    assert run_out(daemon, "staged", "cat", "/stage") == "first\n"


def test_quiet_prints_only_the_id_and_iidfile_keeps_it(daemon, busybox_image, context, tmp_path):
    iid = tmp_path / "iid"
    proc = build(daemon, "-q", "-t", "quiet", "--iidfile", str(iid), str(context))
    out = proc.stdout.decode()
    assert out == image_id(daemon, "quiet") + "\n"
    assert iid.read_text() == out  # docker writes what it printed: the id and its newline
    build(daemon, "--iidfile", str(iid), "-t", "loud", str(context))
    assert iid.read_text() == image_id(daemon, "loud")


def _tar(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_context_from_stdin_a_tar_or_a_dockerfile(daemon, busybox_image):
    archive = _tar({"Dockerfile": "FROM busybox\nCOPY hello /hello\n", "hello": "hello from a tar\n"})
    build(daemon, "-t", "from-tar", "-", input=archive)
    assert run_out(daemon, "from-tar", "cat", "/hello") == "hello from a tar\n"
    archive = _tar({"build/Dockerfile.alt": "FROM busybox\nCOPY hello /alt\n", "hello": "alt\n"})
    build(daemon, "-t", "from-tar-alt", "-f", "build/Dockerfile.alt", "-", input=archive)
    assert run_out(daemon, "from-tar-alt", "cat", "/alt") == "alt\n"
    build(daemon, "-t", "from-dockerfile", "-", input=b"FROM busybox\nRUN echo alone > /alone\n")
    assert run_out(daemon, "from-dockerfile", "cat", "/alone") == "alone\n"


def test_a_failing_step_ends_with_its_message_and_exit_status(daemon, busybox_image, tmp_path):
    root = tmp_path / "fails"
    root.mkdir()
    (root / "Dockerfile").write_text("FROM busybox\nRUN echo before && exit 3\n")
    proc = build(daemon, str(root), check=False)
    assert proc.returncode == 3
    assert "before\n" in proc.stdout.decode()
    assert proc.stderr.decode() == "The command '/bin/sh -c echo before && exit 3' returned a non-zero code: 3\n"
    proc = build(daemon, "-q", str(root), check=False)
    assert proc.returncode == 3 and proc.stdout == b""
    assert proc.stderr.decode().endswith("returned a non-zero code: 3\n")


def test_errors_before_any_step(daemon, busybox_image, tmp_path):
    root = tmp_path / "bad"
    root.mkdir()
    (root / "Dockerfile").write_text("FROM busybox\nNOPE x\n")
    proc = build(daemon, str(root), check=False)
    assert proc.returncode == 1
    assert "unknown instruction: NOPE" in proc.stderr.decode()
    proc = build(daemon, "-t", "x", str(tmp_path / "absent"), check=False)
    assert proc.returncode == 1 and proc.stderr.decode() == f'unable to prepare context: path "{tmp_path / "absent"}" not found\n'
    proc = build(daemon, "--target", "nope", str(root), check=False)
    assert proc.returncode == 1 and proc.stderr.decode().strip()


def test_docker_config_credentials_do_not_break_a_build(daemon, busybox_image, context, tmp_path):
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "config.json").write_text(json.dumps({"auths": {"127.0.0.1:5000": {"auth": "dTpw"}}}))
    build(daemon, "-t", "with-creds", str(context), env={"DOCKER_CONFIG": str(cfg)})
    assert run_out(daemon, "with-creds") == "built\n"
