"""The real docker CLI builds images with the classic builder (``DOCKER_BUILDKIT=0``), issue 11.

Every expected text here was read off dockerd 20.10's classic builder, and each test runs against it
too: ``BARGE_COMPAT_REFERENCE=dockerd pytest tests/compat/test_docker_cli_build.py`` makes the
``build_host`` fixture start a private dockerd (with barge's busybox image) in place of barge. Only what
varies from run to run is normalised: image and container ids, and the context size the CLI prints.
Servers are on 127.0.0.1; RUN steps that reach them use ``--network host``.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import tarfile
import time
import uuid
from pathlib import Path

import pytest

from tests.compat.conftest import DOCKER, DockerCLI, serve_directory
from tests.net_helpers import free_subnet

pytestmark = pytest.mark.compat

TAG = uuid.uuid4().hex[:4]
SHORT_ID = re.compile(r"\b[0-9a-f]{12}\b")
#: The CLI's upload line ends in "\r\r" (its progress output); kept, only the size is replaced.
CONTEXT_SIZE = re.compile(r"^(Sending build context to Docker daemon  )[0-9.]+[kMG]?B(?=\r)", re.M)
#: What the CLI writes to stderr for every classic build (CLI 28), which the tests set aside.
DEPRECATION = (
    "DEPRECATED: The legacy builder is deprecated and will be removed in a future release.\n"
    "            BuildKit is currently disabled; enable it by removing the DOCKER_BUILDKIT=0\n"
    "            environment-variable.\n"
)


@pytest.fixture
def docker(build_host, tmp_path):
    if DOCKER is None:
        pytest.skip("the docker CLI is not installed")
    cli = DockerCLI(build_host, tmp_path)
    cli.env["DOCKER_BUILDKIT"] = "0"
    return cli


def context(root: Path, files: dict[str, str | bytes]) -> Path:
    """A build context directory of ``files`` (path -> text), each file 0644 whatever the umask."""
    root.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        path.chmod(0o644)
    return root


def build(docker: DockerCLI, *args: str, check: bool = True, input: bytes | None = None):
    """``docker build ARGS``: (the process, its stdout, its stderr without the CLI's deprecation notice)."""
    proc = docker("build", *args, check=check, input=input, timeout=180)
    err = proc.stderr.decode().replace(DEPRECATION, "").strip()
    return proc, proc.stdout.decode(), err


def normalised(out: str) -> list[str]:
    """The output's lines with the ids and the context size (which vary) replaced."""
    return SHORT_ID.sub("<id>", CONTEXT_SIZE.sub(r"\1<size>", out)).removesuffix("\n").split("\n")


def arrows(out: str) -> list[str]:
    """The ids of the `` ---> <id>`` lines, in order."""
    return re.findall(r"^ ---> ([0-9a-f]{12})$", out, re.M)


def image_id(docker: DockerCLI, ref: str) -> str:
    return docker.out("inspect", "-f", "{{.Id}}", ref)


def created_by(docker: DockerCLI, ref: str, count: int) -> list[str]:
    """The top ``count`` CreatedBy lines of ``docker history`` (newest first)."""
    return docker.out("history", "--no-trunc", "--format", "{{.CreatedBy}}", ref).splitlines()[:count]


def inspect(docker: DockerCLI, ref: str) -> dict:
    return json.loads(docker.out("inspect", ref))[0]


def run(docker: DockerCLI, *args: str) -> str:
    return docker.out("run", "--rm", "--network", "none", *args)


# ---------------------------------------------------------------------------
# the output, tags, intermediate images, history and the cache
# ---------------------------------------------------------------------------

SEVEN_STEPS = """FROM busybox
ENV GREETING=hello
RUN echo "$GREETING from the build"
COPY a.txt /a.txt
WORKDIR /work
RUN cat /a.txt > copied.txt
CMD ["sh"]
"""


def test_build_prints_each_step_and_tags_twice(docker, tmp_path):
    ctx = context(tmp_path / "ctx", {"Dockerfile": SEVEN_STEPS, "a.txt": "a\n"})
    proc, out, err = build(docker, "-t", "one", "-t", "two:v2", str(ctx))
    assert err == ""
    assert normalised(out) == [
        "Sending build context to Docker daemon  <size>\r\r",
        "Step 1/7 : FROM busybox",
        " ---> <id>",
        "Step 2/7 : ENV GREETING=hello",
        " ---> Running in <id>",
        "Removing intermediate container <id>",
        " ---> <id>",
        'Step 3/7 : RUN echo "$GREETING from the build"',
        " ---> Running in <id>",
        "hello from the build",
        "Removing intermediate container <id>",
        " ---> <id>",
        "Step 4/7 : COPY a.txt /a.txt",
        " ---> <id>",
        "Step 5/7 : WORKDIR /work",
        " ---> Running in <id>",
        "Removing intermediate container <id>",
        " ---> <id>",
        "Step 6/7 : RUN cat /a.txt > copied.txt",
        " ---> Running in <id>",
        "Removing intermediate container <id>",
        " ---> <id>",
        'Step 7/7 : CMD ["sh"]',
        " ---> Running in <id>",
        "Removing intermediate container <id>",
        " ---> <id>",
        "Successfully built <id>",
        "Successfully tagged one:latest",
        "Successfully tagged two:v2",
    ]
    running = re.findall(r"^ ---> Running in ([0-9a-f]{12})$", out, re.M)
    assert running == re.findall(r"^Removing intermediate container ([0-9a-f]{12})$", out, re.M)
    assert len(set(running)) == 5
    ids = arrows(out)
    built = re.search(r"^Successfully built ([0-9a-f]{12})$", out, re.M).group(1)
    assert ids[0] == image_id(docker, "busybox")[7:19]
    assert ids[-1] == built == image_id(docker, "one")[7:19] == image_id(docker, "two:v2")[7:19]
    assert docker.out("ps", "-aq") == ""  # every step's container is gone
    assert run(docker, "one", "cat", "/work/copied.txt") == "a"


#: The hash in ``COPY file:<hash> in <dest> `` (dockerd 20.10, reproduced here from its values): sha256 over
#: tarsum v1's header fields, each key then value - name (the path in the context), mode (420 for 0644), uid,
#: gid, size, typeflag, linkname, uname, gname, devmajor, devminor, all as the context's tar gives them (the
#: docker CLI's: uid 0, no user names) - then the file's bytes. For a.txt holding "a\n":
#: sha256(b"namea.txtmode420uid0gid0size2typeflag0linknameunamegnamedevmajor0devminor0a\n").
#: For ``ADD <url>`` (no "file:"), the same over the downloaded file as dockerd stores it: its base name,
#: mode 33152 (0o100600), and uname and gname "root".
COPY_HASH_A = "a596f0888def06c3cad1442667ede22d419985a1c8a3155b838b650c4cf52ecc"


def test_intermediate_images_history_and_cache(docker, tmp_path):
    ctx = context(tmp_path / "ctx", {"Dockerfile": SEVEN_STEPS, "a.txt": "a\n"})
    _, first, _ = build(docker, "-t", "one", str(ctx))
    ids = arrows(first)
    everything = docker.out("images", "-a", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").splitlines()
    assert sorted(everything) == sorted(["busybox:latest " + ids[0], "one:latest " + ids[-1]]
                                        + [f"<none>:<none> {i}" for i in ids[1:-1]])
    assert docker.out("images", "--format", "{{.Repository}}").splitlines() == ["one", "busybox"]

    history = docker.out("history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Size}}", "one")
    lines = history.splitlines()
    assert len(lines) == 7
    assert [line.split("|")[0][7:19] for line in lines] == ids[::-1]
    assert [line.split("|", 1)[1] for line in lines[:6]] == [
        '/bin/sh -c #(nop)  CMD ["sh"]|0B',
        "/bin/sh -c cat /a.txt > copied.txt|2B",
        "/bin/sh -c #(nop) WORKDIR /work|0B",
        f"/bin/sh -c #(nop) COPY file:{COPY_HASH_A} in /a.txt |2B",
        '/bin/sh -c echo "$GREETING from the build"|0B',
        "/bin/sh -c #(nop)  ENV GREETING=hello|0B",
    ]

    _, again, err = build(docker, "-t", "one", str(ctx))
    assert err == ""
    assert again.count(" ---> Using cache") == 6 and "Running in" not in again
    assert arrows(again) == ids
    assert normalised(again)[-8:] == [
        "Step 6/7 : RUN cat /a.txt > copied.txt", " ---> Using cache", " ---> <id>",
        'Step 7/7 : CMD ["sh"]', " ---> Using cache", " ---> <id>",
        "Successfully built <id>", "Successfully tagged one:latest",
    ]

    os.utime(ctx / "a.txt", (1_600_000_000, 1_600_000_000))  # a new mtime alone keeps the cache
    _, touched, _ = build(docker, str(ctx))
    assert touched.count(" ---> Using cache") == 6 and arrows(touched) == ids

    (ctx / "a.txt").write_text("changed\n")  # new content: COPY and what follows run again
    _, changed, _ = build(docker, "-t", "one", str(ctx))
    assert changed.count(" ---> Using cache") == 2
    assert arrows(changed)[:3] == ids[:3] and not set(arrows(changed)[3:]) & set(ids)
    assert run(docker, "one", "cat", "/work/copied.txt") == "changed"


def test_run_output_is_streamed_live_and_stderr_in_red(docker, tmp_path):
    ctx = context(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN echo first; sleep 3; echo second\n"
                                                   "RUN echo err >&2\n"})
    proc = subprocess.Popen([DOCKER, "build", str(ctx)], env=docker.env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    seen: dict[str, float] = {}
    out = ""
    try:
        for raw in proc.stdout:
            out += raw.decode()
            seen.setdefault(raw.decode().rstrip("\n"), time.monotonic())
    finally:
        proc.stdout.close()
        assert proc.wait(60) == 0
    assert seen["second"] - seen["first"] > 2.0  # "first" was printed while the step still ran
    # a step's stderr comes between the codes of bright red and reset
    assert re.search(r"\n ---> Running in [0-9a-f]{12}\n\x1b\[91merr\n\x1b\[0mRemoving intermediate container ", out)


def test_no_cache_runs_every_step(docker, tmp_path):
    ctx = context(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN echo ran\nCMD [\"sh\"]\n"})
    _, first, _ = build(docker, str(ctx))
    _, again, _ = build(docker, "--no-cache", str(ctx))
    assert "Using cache" not in again and again.count(" ---> Running in ") == 2 and "\nran\n" in again
    assert arrows(again)[0] == arrows(first)[0] and not set(arrows(again)[1:]) & set(arrows(first))


# ---------------------------------------------------------------------------
# options: -f, --build-arg, --target, --label, --network, --add-host, -q, --iidfile
# ---------------------------------------------------------------------------


def test_file_flag_and_dockerfile_on_stdin(docker, tmp_path):
    ctx = context(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN echo default\n", "f.txt": "f\n",
                                     "sub/Build.df": "FROM busybox\nCOPY f.txt /\nRUN echo from sub; cat /f.txt\n"})
    _, out, _ = build(docker, "-f", str(ctx / "sub/Build.df"), "-t", "sub", str(ctx))
    assert "Step 3/3 : RUN echo from sub; cat /f.txt\n ---> Running in" in out and "\nfrom sub\nf\n" in out
    _, out, _ = build(docker, "-f", "-", "-t", "stdin", str(ctx), input=b"FROM busybox\nCOPY f.txt /g\nRUN cat /g\n")
    assert "Step 2/3 : COPY f.txt /g\n" in out and "\nf\n" in out
    assert run(docker, "stdin", "cat", "/g") == "f"


def test_build_args_predefined_proxies_and_unused_warning(docker, tmp_path):
    ctx = context(tmp_path / "ctx", {"Dockerfile": (
        "FROM busybox\nARG A\nARG B=dflt\n"
        'RUN echo "A=$A B=$B P=$HTTP_PROXY p=$http_proxy"\n'
        "ENV E=$A\n"
        'RUN echo "E=$E"\n'
    )})
    args = ["--build-arg", "A=b", "--build-arg", "HTTP_PROXY=http://proxy:3128", "--build-arg", "http_proxy=http://p2",
            "--build-arg", "UNUSED=1", "--build-arg", "UNUSED2", "--build-arg", "ALL_PROXY=x"]
    _, out, err = build(docker, *args, "-t", "args", str(ctx))
    assert err == ""
    lines = normalised(out)
    assert "A=b B=dflt P=http://proxy:3128 p=http://p2" in lines and "E=b" in lines
    assert lines[-2:] == ["Successfully built <id>", "Successfully tagged args:latest"]
    warning = re.fullmatch(r"\[Warning\] One or more build-args \[(.*)\] were not consumed", lines[-3])
    assert sorted(warning.group(1).split()) == ["ALL_PROXY", "UNUSED", "UNUSED2"]  # dockerd's order is a map's
    assert created_by(docker, "args", 5) == [
        '|2 A=b B=dflt /bin/sh -c echo "E=$E"',
        "/bin/sh -c #(nop)  ENV E=b",
        '|2 A=b B=dflt /bin/sh -c echo "A=$A B=$B P=$HTTP_PROXY p=$http_proxy"',
        "/bin/sh -c #(nop)  ARG B=dflt",
        "/bin/sh -c #(nop)  ARG A",
    ]
    config = inspect(docker, "args")["Config"]
    assert config["Env"][1:] == ["E=b"]  # build args are not in the image's environment

    # a proxy change is not a cache miss; a declared arg's change is
    _, proxy, _ = build(docker, "--build-arg", "A=b", "--build-arg", "HTTP_PROXY=http://other", str(ctx))
    assert proxy.count(" ---> Using cache") == 5
    _, changed, _ = build(docker, "--build-arg", "A=c", str(ctx))
    assert changed.count(" ---> Using cache") == 2 and "A=c B=dflt P= p=\n" in changed


MULTI_STAGE = """ARG BASE=busybox
FROM ${BASE} AS base
RUN echo base > /base.txt
FROM base AS builder
COPY f.txt /src/
RUN cat /src/f.txt > /built.txt
FROM busybox
COPY --from=builder /built.txt /out/
COPY --from=busybox /bin/busybox /bb
COPY --from=0 /base.txt /out/
CMD ["cat", "/out/built.txt", "/out/base.txt"]
"""


def test_target_stages_and_copy_from(docker, tmp_path):
    ctx = context(tmp_path / "ctx", {"Dockerfile": MULTI_STAGE, "f.txt": "hi\n"})
    _, out, _ = build(docker, "--target", "builder", "-t", "tb", str(ctx))
    assert normalised(out)[1:16] == [
        "Step 1/6 : ARG BASE=busybox",
        "Step 2/6 : FROM ${BASE} AS base",
        " ---> <id>",
        "Step 3/6 : RUN echo base > /base.txt",
        " ---> Running in <id>",
        "Removing intermediate container <id>",
        " ---> <id>",
        "Step 4/6 : FROM base AS builder",
        " ---> <id>",
        "Step 5/6 : COPY f.txt /src/",
        " ---> <id>",
        "Step 6/6 : RUN cat /src/f.txt > /built.txt",
        " ---> Running in <id>",
        "Removing intermediate container <id>",
        " ---> <id>",
    ]
    ids = arrows(out)
    assert ids[1] == ids[2]  # FROM base: the stage's image
    assert run(docker, "tb", "cat", "/built.txt") == "hi"

    _, out, _ = build(docker, "-t", "tf", str(ctx))
    lines = normalised(out)
    assert lines[lines.index("Step 7/11 : FROM busybox"):] == [
        "Step 7/11 : FROM busybox", " ---> <id>",
        "Step 8/11 : COPY --from=builder /built.txt /out/", " ---> <id>",
        "Step 9/11 : COPY --from=busybox /bin/busybox /bb", " ---> <id>",
        "Step 10/11 : COPY --from=0 /base.txt /out/", " ---> <id>",
        'Step 11/11 : CMD ["cat", "/out/built.txt", "/out/base.txt"]', " ---> Running in <id>",
        "Removing intermediate container <id>", " ---> <id>",
        "Successfully built <id>", "Successfully tagged tf:latest",
    ]
    assert out.count(" ---> Using cache") == 3  # the first two stages, built above
    assert docker.out("run", "--rm", "--network", "none", "tf") == "hi\nbase"
    assert run(docker, "tf", "cmp", "/bb", "/bin/busybox") == ""
    history = created_by(docker, "tf", 4)
    assert re.fullmatch(r"/bin/sh -c #\(nop\) COPY file:[0-9a-f]{64} in /out/ ", history[1])
    assert re.fullmatch(r"/bin/sh -c #\(nop\) COPY file:[0-9a-f]{64} in /bb ", history[2])


def test_target_that_does_not_exist(docker, tmp_path):
    ctx = context(tmp_path / "ctx", {"Dockerfile": MULTI_STAGE, "f.txt": "hi\n"})
    proc, out, err = build(docker, "--target", "nosuch", str(ctx), check=False)
    assert proc.returncode == 1
    assert err == "Error response from daemon: failed to reach build target nosuch in Dockerfile"


def test_labels_are_added_as_last_steps(docker, tmp_path):
    ctx = context(tmp_path / "ctx", {"Dockerfile": 'FROM busybox\nLABEL from.file=yes\nCMD ["sh"]\n'})
    _, out, _ = build(docker, "--label", "x=y", "--label", "team=a b", "-t", "lab", str(ctx))
    assert normalised(out)[7:17] == [
        'Step 3/5 : CMD ["sh"]', " ---> Running in <id>", "Removing intermediate container <id>", " ---> <id>",
        "Step 4/5 : LABEL team=a b", " ---> Running in <id>", "Removing intermediate container <id>", " ---> <id>",
        "Step 5/5 : LABEL x=y", " ---> Running in <id>",
    ]
    assert inspect(docker, "lab")["Config"]["Labels"] == {"from.file": "yes", "team": "a b", "x": "y"}
    assert created_by(docker, "lab", 2) == ['/bin/sh -c #(nop)  LABEL x=y', '/bin/sh -c #(nop)  LABEL team=a b']


def test_network_none_host_and_a_user_network(docker, tmp_path):
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text("from the host\n")
    with serve_directory(tmp_path / "www") as url:
        probe = f"RUN wget -qO- {url}/index.html 2>/dev/null || echo unreachable\n"
        ctx = context(tmp_path / "ctx", {"Dockerfile": "FROM busybox\n" + probe})
        _, out, _ = build(docker, "--network", "host", str(ctx))
        assert "\nfrom the host\n" in out
        _, out, _ = build(docker, "--network", "none", "--no-cache", str(ctx))
        assert "\nunreachable\n" in out

    subnet = free_subnet(json.loads(docker.out("network", "inspect", *docker.out("network", "ls", "-q").split())), TAG)
    name = f"bld{TAG}"
    docker("network", "create", "--subnet", str(subnet), "-o", f"com.docker.network.bridge.name=bt{TAG}bld", name)
    try:
        ctx = context(tmp_path / "user", {"Dockerfile": "FROM busybox\nRUN ip -4 -o addr show eth0; tail -1 /etc/hosts\n"})
        _, out, _ = build(docker, "--network", name, str(ctx))
        address = str(subnet.network_address + 2)
        container = re.search(r"^ ---> Running in ([0-9a-f]{12})$", out, re.M).group(1)
        assert f" inet {address}/24 " in out and f"\n{address}\t{container}\n" in out
    finally:
        docker("network", "rm", name)


def test_add_host(docker, tmp_path):
    ctx = context(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN grep -E 'db|cache' /etc/hosts\n"})
    _, out, _ = build(docker, "--add-host", "db:10.1.2.3", "--add-host", "cache:10.1.2.4", str(ctx))
    assert "\n10.1.2.3\tdb\n10.1.2.4\tcache\n" in out


def test_quiet_and_iidfile(docker, tmp_path):
    ctx = context(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN echo noisy\n"})
    _, out, err = build(docker, "-q", "--iidfile", str(tmp_path / "iid"), "-t", "q", str(ctx))
    assert err == ""
    assert re.fullmatch(r"sha256:[0-9a-f]{64}\n", out) and out.strip() == image_id(docker, "q")
    assert (tmp_path / "iid").read_text() == out  # with -q the CLI writes the stream's text, newline and all
    _, out, _ = build(docker, "--iidfile", str(tmp_path / "iid2"), "--no-cache", str(ctx))
    built = re.search(r"^Successfully built ([0-9a-f]{12})$", out, re.M).group(1)
    iid = (tmp_path / "iid2").read_text()  # otherwise the id of the stream's aux message
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", iid) and iid[7:19] == built


# ---------------------------------------------------------------------------
# where the context comes from
# ---------------------------------------------------------------------------


def test_context_directory_with_dockerignore(docker, tmp_path):
    ctx = context(tmp_path / "ctx", {
        "Dockerfile": "FROM busybox\nCOPY . /ctx/\nRUN find /ctx | sort\n",
        ".dockerignore": "# comment\n*.log\n!keep.log\nsecret*\ntmp/\nDockerfile\n.dockerignore\n",
        "a.txt": "a\n", "debug.log": "x\n", "keep.log": "k\n", "secret.key": "s\n", "tmp/t": "t\n", "sub/b.txt": "b\n",
    })
    _, out, _ = build(docker, str(ctx))
    assert "\n/ctx\n/ctx/a.txt\n/ctx/keep.log\n/ctx/sub\n/ctx/sub/b.txt\nRemoving" in out
    (ctx / ".dockerignore").write_text("*.log\n")
    _, out, _ = build(docker, str(ctx))
    assert ("\n/ctx\n/ctx/.dockerignore\n/ctx/Dockerfile\n/ctx/a.txt\n/ctx/secret.key\n/ctx/sub\n/ctx/sub/b.txt\n"
            "/ctx/tmp\n/ctx/tmp/t\nRemoving") in out


def tar_of(files: dict[str, str], gz: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tf:
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(text.encode()), 0o644, 1_700_000_000
            tf.addfile(info, io.BytesIO(text.encode()))
    return buf.getvalue()


CTX_FILES = {"Dockerfile": "FROM busybox\nCOPY . /ctx/\nRUN find /ctx | sort\n", "a.txt": "a\n", "sub/b.txt": "b\n"}


def test_context_from_stdin(docker):
    _, out, _ = build(docker, "-", input=tar_of(CTX_FILES))
    assert "Step 3/3 : RUN find /ctx | sort" in out
    assert "\n/ctx\n/ctx/Dockerfile\n/ctx/a.txt\n/ctx/sub\n/ctx/sub/b.txt\nRemoving" in out
    _, out, _ = build(docker, "-", input=CTX_FILES["Dockerfile"].encode())  # no context: a Dockerfile alone
    assert "\n/ctx\n/ctx/Dockerfile\nRemoving" in out


def test_context_from_a_url(docker, tmp_path):
    www = tmp_path / "www"
    www.mkdir()
    (www / "ctx.tar").write_bytes(tar_of(CTX_FILES))
    (www / "ctx.tar.gz").write_bytes(tar_of(dict(CTX_FILES, **{"alt/Dockerfile": "FROM busybox\nRUN echo alt\n"}), gz=True))
    (www / "Dockerfile").write_text("FROM busybox\nRUN echo from a plain Dockerfile\n")
    with serve_directory(www) as url:
        _, out, _ = build(docker, "-t", "fromurl", f"{url}/ctx.tar")
        assert "\n/ctx\n/ctx/Dockerfile\n/ctx/a.txt\n/ctx/sub\n/ctx/sub/b.txt\nRemoving" in out
        _, out, _ = build(docker, "-f", "alt/Dockerfile", f"{url}/ctx.tar.gz")
        assert "Step 2/2 : RUN echo alt\n" in out
        _, out, _ = build(docker, f"{url}/Dockerfile")
        assert "\nfrom a plain Dockerfile\n" in out
    assert run(docker, "fromurl", "cat", "/ctx/sub/b.txt") == "b"


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------


def test_parse_error(docker, tmp_path):
    ctx = context(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN true\nRUNN x\n"})
    proc, out, err = build(docker, str(ctx), check=False)
    assert proc.returncode == 1
    assert normalised(out) == ["Sending build context to Docker daemon  <size>\r\r"]
    assert err == "Error response from daemon: dockerfile parse error line 3: unknown instruction: RUNN"


def test_failing_run_moves_no_tag_and_keeps_its_container(docker, tmp_path):
    docker("tag", "busybox", "f:1")
    ctx = context(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN echo before; false\n"})
    proc, out, err = build(docker, "-t", "f:1", str(ctx), check=False)
    assert proc.returncode == 1
    assert normalised(out)[1:] == ["Step 1/2 : FROM busybox", " ---> <id>", "Step 2/2 : RUN echo before; false",
                                   " ---> Running in <id>", "before"]
    assert err == "The command '/bin/sh -c echo before; false' returned a non-zero code: 1"
    assert image_id(docker, "f:1") == image_id(docker, "busybox")
    container = re.search(r"Running in ([0-9a-f]{12})", out).group(1)
    assert docker.out("ps", "-aq", "--no-trunc").startswith(container)  # left for inspection, as dockerd does
    assert docker.out("inspect", "-f", "{{.State.ExitCode}}", container) == "1"

    proc, out, err = build(docker, "--force-rm", "-t", "f:1", str(ctx), check=False)
    assert proc.returncode == 1 and len(docker.out("ps", "-aq").split()) == 1
    ctx = context(tmp_path / "ctx2", {"Dockerfile": "FROM busybox\nRUN exit 3\n"})
    proc, _, err = build(docker, str(ctx), check=False)
    assert proc.returncode == 3  # the CLI exits with the step's code, which the error carries
    assert err == "The command '/bin/sh -c exit 3' returned a non-zero code: 3"


def test_copy_of_a_missing_file(docker, tmp_path):
    ctx = context(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nCOPY missing /x\n"})
    proc, out, err = build(docker, str(ctx), check=False)
    assert proc.returncode == 1
    assert normalised(out)[1:] == ["Step 1/2 : FROM busybox", " ---> <id>", "Step 2/2 : COPY missing /x"]
    assert err == ("COPY failed: file not found in build context or excluded by .dockerignore: "
                   "stat missing: file does not exist")


def test_chmod_needs_buildkit(docker, tmp_path):
    ctx = context(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nCOPY --chmod=755 a.txt /a\n", "a.txt": "a\n"})
    proc, out, err = build(docker, str(ctx), check=False)
    assert proc.returncode == 1 and out.endswith("Step 2/2 : COPY --chmod=755 a.txt /a\n")
    assert err == ("the --chmod option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ "
                   "to learn how to build images with BuildKit enabled")


def test_unknown_base_image(docker, tmp_path):
    ctx = context(tmp_path / "ctx", {"Dockerfile": "FROM localhost:1/nosuch\n"})
    proc, out, err = build(docker, "--pull=false", str(ctx), check=False)
    assert proc.returncode == 1
    assert normalised(out)[1:] == ["Step 1/1 : FROM localhost:1/nosuch"]
    assert err == 'Get "http://localhost:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused'


# ---------------------------------------------------------------------------
# the language
# ---------------------------------------------------------------------------

EVERY_INSTRUCTION = """FROM busybox
MAINTAINER Jane <jane@example.com>
LABEL a=b "c d"="e f" multi.word="x y"
ENV K1=v1 K2="two words"
ENV K3 spaced value here
EXPOSE 80 443/udp 8080/tcp
VOLUME ["/data", "/cache"]
VOLUME /other
USER nobody:nobody
USER 0
WORKDIR /w
WORKDIR rel
STOPSIGNAL SIGUSR1
HEALTHCHECK --interval=5s --timeout=3s --start-period=2s --retries=4 CMD wget -q localhost || exit 1
SHELL ["/bin/sh", "-ec"]
RUN echo "k3=$K3" && pwd
ONBUILD RUN echo triggered
ENTRYPOINT ["/bin/echo", "ep"]
CMD echo shell form
"""


def test_every_instruction_in_config_and_history(docker, tmp_path):
    ctx = context(tmp_path / "ctx", {"Dockerfile": EVERY_INSTRUCTION})
    _, out, _ = build(docker, "-t", "lang", str(ctx))
    assert "Step 19/19 : CMD echo shell form" in out and "\nk3=spaced value here\n/w/rel\n" in out
    image = inspect(docker, "lang")
    config = image["Config"]
    assert image["Author"] == "Jane <jane@example.com>"
    assert config["Labels"] == {"a": "b", "c d": "e f", "multi.word": "x y"}
    assert config["Env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "K1=v1",
                             "K2=two words", "K3=spaced value here"]
    assert config["ExposedPorts"] == {"443/udp": {}, "80/tcp": {}, "8080/tcp": {}}
    assert config["Volumes"] == {"/cache": {}, "/data": {}, "/other": {}}
    assert config["User"] == "0" and config["WorkingDir"] == "/w/rel" and config["StopSignal"] == "SIGUSR1"
    assert config["Healthcheck"] == {"Test": ["CMD-SHELL", "wget -q localhost || exit 1"], "Interval": 5_000_000_000,
                                     "Timeout": 3_000_000_000, "StartPeriod": 2_000_000_000, "Retries": 4}
    assert config["Shell"] == ["/bin/sh", "-ec"]
    assert config["OnBuild"] == ["RUN echo triggered"]
    assert config["Entrypoint"] == ["/bin/echo", "ep"]
    assert config["Cmd"] == ["/bin/sh", "-ec", "echo shell form"]  # the shell form takes SHELL's shell
    assert created_by(docker, "lang", 18) == [
        '/bin/sh -ec #(nop)  CMD ["/bin/sh" "-ec" "echo shell form"]',
        '/bin/sh -ec #(nop)  ENTRYPOINT ["/bin/echo" "ep"]',
        "/bin/sh -ec #(nop)  ONBUILD RUN echo triggered",
        '/bin/sh -ec echo "k3=$K3" && pwd',
        "/bin/sh -ec #(nop)  SHELL [/bin/sh -ec]",
        "/bin/sh -c #(nop)  HEALTHCHECK &{[\"CMD-SHELL\" \"wget -q localhost || exit 1\"] \"5s\" \"3s\" \"2s\" '\\x04'}",
        "/bin/sh -c #(nop)  STOPSIGNAL SIGUSR1",
        "/bin/sh -c #(nop) WORKDIR /w/rel",
        "/bin/sh -c #(nop) WORKDIR /w",
        "/bin/sh -c #(nop)  USER 0",
        "/bin/sh -c #(nop)  USER nobody:nobody",
        "/bin/sh -c #(nop)  VOLUME [/other]",
        "/bin/sh -c #(nop)  VOLUME [/data /cache]",
        "/bin/sh -c #(nop)  EXPOSE 443/udp 80 8080/tcp",
        "/bin/sh -c #(nop)  ENV K3=spaced value here",
        "/bin/sh -c #(nop)  ENV K1=v1 K2=two words",
        "/bin/sh -c #(nop)  LABEL a=b c d=e f multi.word=x y",
        "/bin/sh -c #(nop)  MAINTAINER Jane <jane@example.com>",
    ]
    # ENTRYPOINT (exec form) gets CMD as its arguments; a CMD given to run replaces it
    assert docker.out("run", "--rm", "--network", "none", "lang") == "ep /bin/sh -ec echo shell form"
    assert docker.out("run", "--rm", "--network", "none", "lang", "hi") == "ep hi"
    assert docker.out("run", "--rm", "--network", "none", "--entrypoint", "pwd", "lang") == "/w/rel"


def test_entrypoint_and_cmd_forms(docker, tmp_path):
    cases = [
        ('ENTRYPOINT echo shell entry\nCMD ["ignored"]\n', ["/bin/sh", "-c", "echo shell entry"], ["ignored"],
         "shell entry"),
        ('CMD ["echo", "exec", "cmd"]\n', None, ["echo", "exec", "cmd"], "exec cmd"),
        ("CMD echo $HOME shell cmd\n", None, ["/bin/sh", "-c", "echo $HOME shell cmd"], "/root shell cmd"),
        ('ENTRYPOINT ["echo", "e"]\nCMD ["c1", "c2"]\n', ["echo", "e"], ["c1", "c2"], "e c1 c2"),
        ('ENTRYPOINT ["echo", "y"]\n', ["echo", "y"], None, "y"),  # ENTRYPOINT drops the base's CMD...
        ('CMD ["echo", "x"]\nENTRYPOINT ["echo", "y"]\n', ["echo", "y"], ["echo", "x"], "y echo x"),  # not its own
    ]
    for n, (lines, entrypoint, cmd, output) in enumerate(cases):
        ctx = context(tmp_path / f"c{n}", {"Dockerfile": "FROM busybox\n" + lines})
        build(docker, "-t", f"forms:{n}", str(ctx))
        config = inspect(docker, f"forms:{n}")["Config"]
        assert (config["Entrypoint"], config["Cmd"]) == (entrypoint, cmd), lines
        assert run(docker, f"forms:{n}") == output, lines


VARIABLES = """ARG BASE=busybox
ARG VERSION=1.0
FROM ${BASE} AS first
ARG VERSION
ARG ONLY_HERE=one
ENV E1=plain E2="${VERSION}-x" E3=${UNSET:-fallback} E4=${VERSION:+set} E5=${UNSET:+never}
ENV E6 ${VERSION:-none} and more
RUN echo "first: v=$VERSION only=$ONLY_HERE base=$BASE e=$E2,$E3,$E4,[$E5],$E6"
FROM busybox
ARG ONLY_HERE
RUN echo "second: v=$VERSION only=[$ONLY_HERE]"
ENV ESC=\\$VERSION Q='$VERSION'
RUN echo "esc=$ESC q=$Q"
"""


def test_variables_arg_scope_and_substitution(docker, tmp_path):
    ctx = context(tmp_path / "ctx", {"Dockerfile": VARIABLES})
    _, out, _ = build(docker, "-t", "vars", str(ctx))
    assert "\nfirst: v=1.0 only=one base= e=1.0-x,fallback,set,[],1.0 and more\n" in out
    assert "\nsecond: v= only=[]\n" in out
    assert "\nesc=$VERSION q=$VERSION\n" in out
    assert "Step 3/13 : FROM ${BASE} AS first" in out
    _, out, _ = build(docker, "--build-arg", "VERSION=2", "--build-arg", "ONLY_HERE=cli", str(ctx))
    assert "\nfirst: v=2 only=cli base= e=2-x,fallback,set,[],2 and more\n" in out
    assert "\nsecond: v= only=[cli]\n" in out


def test_copy_and_add_paths(docker, tmp_path):
    ctx = context(tmp_path / "ctx", {
        "Dockerfile": (
            "FROM busybox\n"
            "COPY *.txt /glob/\n"
            "COPY dir /contents\n"
            "COPY dir/ /contents2/\n"
            "COPY a.txt b.txt /multi/\n"
            "COPY a.txt /renamed\n"
            "ADD dir/sub/d.txt /made/deep/\n"
            "COPY --chown=1:2 a.txt /owned\n"
            "COPY --chown=nobody:nobody b.txt /owned2\n"
            "COPY --chown=1000 dir /od/\n"
            "WORKDIR /wd\n"
            "COPY a.txt .\n"
            "COPY a.txt rel/\n"
            "RUN find /glob /contents /contents2 /multi /renamed /made /wd | sort\n"
            "RUN stat -c '%n %u:%g %a' /owned /owned2 /od /od/c.txt /od/sub /od/sub/d.txt /renamed\n"
        ),
        "a.txt": "a\n", "b.txt": "b\n", "c.md": "c\n", "dir/c.txt": "c\n", "dir/sub/d.txt": "d\n",
    })
    (ctx / "dir" / "sub").chmod(0o750)
    _, out, _ = build(docker, str(ctx))
    assert "\n" + "\n".join([
        "/contents", "/contents/c.txt", "/contents/sub", "/contents/sub/d.txt",
        "/contents2", "/contents2/c.txt", "/contents2/sub", "/contents2/sub/d.txt",
        "/glob", "/glob/a.txt", "/glob/b.txt",
        "/made", "/made/deep", "/made/deep/d.txt",
        "/multi", "/multi/a.txt", "/multi/b.txt",
        "/renamed",
        "/wd", "/wd/a.txt", "/wd/rel", "/wd/rel/a.txt",
    ]) + "\n" in out
    assert "\n" + "\n".join([
        "/owned 1:2 644", "/owned2 65534:65534 644", "/od 1000:1000 755", "/od/c.txt 1000:1000 644",
        "/od/sub 1000:1000 750", "/od/sub/d.txt 1000:1000 644", "/renamed 0:0 644",
    ]) + "\n" in out
    # more than one source needs a directory as the destination
    bad = context(tmp_path / "bad", {"Dockerfile": "FROM busybox\nCOPY a.txt b.txt /notadir\n", "a.txt": "",
                                     "b.txt": ""})
    proc, _, err = build(docker, str(bad), check=False)
    assert proc.returncode == 1
    assert err == "When using COPY with more than one source file, the destination must be a directory and end with a /"


def test_add_archives_and_urls(docker, tmp_path):
    arch = tar_of({"x/a.txt": "a\n", "x/sub/b.txt": "b\n"})
    www = context(tmp_path / "www", {"files/data.txt": "payload\n"})
    (www / "files" / "arch.tar").write_bytes(arch)
    for name in ("data.txt", "arch.tar"):  # the server's Last-Modified becomes the file's mtime
        os.utime(www / "files" / name, (1_600_000_000, 1_600_000_000))
    with serve_directory(www) as url:
        ctx = context(tmp_path / "ctx", {"Dockerfile": (
            "FROM busybox\n"
            "ADD arch.tar /t/\n"
            "ADD arch.tgz /g\n"
            "COPY arch.tar /c/\n"
            f"ADD {url}/files/data.txt /dl/\n"
            f"ADD {url}/files/data.txt /dl2\n"
            f"ADD {url}/files/arch.tar /dl3/\n"
            "RUN find /t /g /c /dl /dl2 /dl3 | sort; stat -c '%n %a %u %Y' /dl/data.txt /dl2 /dl3/arch.tar\n"
        ), "arch.tar": arch, "arch.tgz": tar_of({"x/a.txt": "a\n", "x/sub/b.txt": "b\n"}, gz=True)})
        _, out, _ = build(docker, "-t", "adds", str(ctx))
    assert f"Step 5/8 : ADD {url}/files/data.txt /dl/\n\n ---> " in out
    assert "\n" + "\n".join([
        "/c", "/c/arch.tar", "/dl", "/dl/data.txt", "/dl2", "/dl3", "/dl3/arch.tar",
        "/g", "/g/x", "/g/x/a.txt", "/g/x/sub", "/g/x/sub/b.txt",
        "/t", "/t/x", "/t/x/a.txt", "/t/x/sub", "/t/x/sub/b.txt",
        "/dl/data.txt 600 0 1600000000", "/dl2 600 0 1600000000", "/dl3/arch.tar 600 0 1600000000",
    ]) + "\n" in out
    assert run(docker, "adds", "cat", "/dl2") == "payload"
    assert created_by(docker, "adds", 2)[1] == \
        "/bin/sh -c #(nop) ADD 4a9f6479141b76267ef6945a80d57019c993244b7bc7ed6fd48043179c056301 in /dl3/ "


def test_onbuild_triggers_run_in_the_child(docker, tmp_path):
    ctx = context(tmp_path / "ctx", {
        "Dockerfile": "FROM busybox\nONBUILD COPY t.txt /t.txt\nONBUILD RUN echo triggered && cat /t.txt\n",
        "t.txt": "t\n", "Child": "FROM parent\nRUN echo child\n",
    })
    build(docker, "-t", "parent", str(ctx))
    _, out, _ = build(docker, "-f", str(ctx / "Child"), "-t", "child", str(ctx))
    assert normalised(out)[1:] == [
        "Step 1/2 : FROM parent",
        "# Executing 2 build triggers",
        " ---> Running in <id>",
        "triggered",
        "t",
        "Removing intermediate container <id>",
        " ---> <id>",
        "Step 2/2 : RUN echo child",
        " ---> Running in <id>",
        "child",
        "Removing intermediate container <id>",
        " ---> <id>",
        "Successfully built <id>",
        "Successfully tagged child:latest",
    ]
    assert inspect(docker, "parent")["Config"]["OnBuild"] == ["COPY t.txt /t.txt", "RUN echo triggered && cat /t.txt"]
    assert inspect(docker, "child")["Config"]["OnBuild"] is None  # triggers are not inherited
    assert created_by(docker, "child", 3) == [
        "/bin/sh -c echo child", "/bin/sh -c echo triggered && cat /t.txt",
        "/bin/sh -c #(nop) COPY file:60d5e07a0cdd6a120ecaabddc1e645a85491ea47ec6e1c02064a4cecef8c1687 in /t.txt ",
    ]


def test_user_and_volume_in_later_steps(docker, tmp_path):
    ctx = context(tmp_path / "ctx", {"Dockerfile": (
        "FROM busybox\n"
        "RUN mkdir /vol && echo before > /vol/f\n"
        "VOLUME /vol\n"
        "RUN echo after > /vol/f; echo new > /vol/g; echo kept > /outside\n"
        "USER nobody\n"
        "RUN id; touch /tmp/mine; stat -c '%U' /tmp/mine\n"
    )})
    _, out, _ = build(docker, "-t", "uv", str(ctx))
    assert "\nuid=65534(nobody) gid=65534(nobody)" in out and "\nnobody\nRemoving intermediate" in out
    # as in `docker run --user nobody`, the user's primary group is among its supplementary groups too
    assert "\nuid=65534(nobody) gid=65534(nobody) groups=65534(nobody)\nnobody\n" in out, \
        "the step's process lacks the supplementary groups dockerd gives (`docker run --user nobody busybox id`)"
    # what a step writes under a declared volume is not kept in the image
    assert run(docker, "uv", "sh", "-c", "cat /vol/f /outside; ls /vol") == "before\nkept\nf"
    assert run(docker, "uv", "id", "-u") == "65534"
