"""``POST /build`` against a real daemon: real RUN containers, the cache, the output stream, bad input.

Each build's result is checked by what a user sees: the JSON stream
dockerd's classic builder writes, the image's config and history, and the
files a container of it finds.
"""

from __future__ import annotations

import gzip
import http.server
import io
import json
import os
import tarfile
import threading

import pytest

from tests.integration.build_helpers import build, built_id, context_tar, error_of, leftovers, stream_text
from tests.integration.helpers import create, rm

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def run_out(d, image: str, *cmd: str, entrypoint: list[str] | None = None) -> str:
    body = {"Image": image, "HostConfig": {"NetworkMode": "none"}}
    if entrypoint is not None:
        body["Entrypoint"] = entrypoint
    if cmd:
        body["Cmd"] = list(cmd)
    cid = create(d, **body)
    try:
        d.request("POST", f"/containers/{cid}/start")
        d.request("POST", f"/containers/{cid}/wait")
        _, _, logs = d.request("GET", f"/containers/{cid}/logs?stdout=1&stderr=1")
        out = b""
        while logs:
            size = int.from_bytes(logs[4:8], "big")
            out += logs[8:8 + size]
            logs = logs[8 + size:]
        return out.decode()
    finally:
        rm(d, cid)


def config_of(d, image: str) -> dict:
    return d.json("GET", f"/images/{image}/json")["Config"]


def containers(d) -> list[dict]:
    return d.json("GET", "/containers/json?all=1")


def test_build_runs_steps_in_containers_and_tags(box):
    df = ('FROM busybox\nENV GREETING=hello\nRUN echo "$GREETING from RUN" > /greeting && echo to-stderr >&2\n'
          'COPY file.txt /data/\nWORKDIR /data\nCMD ["cat", "/greeting", "file.txt"]\n')
    msgs, _ = build(box, context_tar({"Dockerfile": df, "file.txt": "from the context\n"}), t=["t1:a", "t1:b"],
                    networkmode="none")
    text = stream_text(msgs)
    image = built_id(msgs)
    assert "Step 1/6 : FROM busybox\n" in text and "Step 6/6 : CMD [\"cat\", \"/greeting\", \"file.txt\"]\n" in text
    assert " ---> Running in " in text and "Removing intermediate container " in text
    assert "\x1b[91mto-stderr\n\x1b[0m" in text  # a RUN's stderr, red as dockerd's formatter makes it
    assert f"Successfully built {image[7:19]}\n" in text
    assert "Successfully tagged t1:a\n" in text and "Successfully tagged t1:b\n" in text
    assert run_out(box, "t1:b") == "hello from RUN\nfrom the context\n"
    config = config_of(box, "t1:a")
    assert config["WorkingDir"] == "/data" and "GREETING=hello" in config["Env"]
    history = [h["CreatedBy"] for h in box.json("GET", "/images/t1:a/history")]
    assert history[0] == '/bin/sh -c #(nop)  CMD ["cat" "/greeting" "file.txt"]'
    assert history[1] == "/bin/sh -c #(nop) WORKDIR /data"
    assert history[2].startswith("/bin/sh -c #(nop) COPY file:") and history[2].endswith(" in /data/ ")
    assert history[3] == '/bin/sh -c echo "$GREETING from RUN" > /greeting && echo to-stderr >&2'
    assert history[4] == "/bin/sh -c #(nop)  ENV GREETING=hello"
    assert not [c for c in containers(box) if c["Image"].startswith("sha256:")], "step containers left"


def test_rebuild_uses_cache_and_a_change_reruns_only_later_steps(box):
    df = "FROM busybox\nRUN echo one > /one\nCOPY a /a\nRUN cat /a > /copy\nCOPY b /b\n"
    files = {"Dockerfile": df, "a": "A1\n", "b": "B1\n"}
    first, _ = build(box, context_tar(files), networkmode="none")
    again, _ = build(box, context_tar(files), networkmode="none")
    assert stream_text(again).count(" ---> Using cache\n") == 4 and "Running in" not in stream_text(again)
    assert built_id(again) == built_id(first)
    changed, _ = build(box, context_tar({**files, "b": "B2\n"}), networkmode="none")
    text = stream_text(changed)
    assert text.count(" ---> Using cache\n") == 3 and built_id(changed) != built_id(first)
    assert run_out(box, built_id(changed), "cat", "/b") == "B2\n"
    early, _ = build(box, context_tar({**files, "a": "A2\n"}), networkmode="none")
    assert stream_text(early).count(" ---> Using cache\n") == 1  # RUN echo; then COPY a misses, so all after
    assert run_out(box, built_id(early), "cat", "/copy") == "A2\n"
    nocache, _ = build(box, context_tar(files), nocache=1, networkmode="none")
    assert "Using cache" not in stream_text(nocache)
    # intermediate images: parents of the result, listed by `images -a` only, walked by history
    top = box.json("GET", f"/images/{built_id(first)}/json")
    listed = {i["Id"] for i in box.json("GET", "/images/json?all=1")}
    shown = {i["Id"] for i in box.json("GET", "/images/json")}
    assert top["Parent"] in listed and top["Parent"] not in shown
    assert len(box.json("GET", f"/images/{built_id(first)}/history")) == 5


def test_cache_from_seeds_the_cache(box):
    df = "FROM busybox\nRUN echo seeded > /s\nLABEL k=v\n"
    first, _ = build(box, context_tar({"Dockerfile": df}), networkmode="none", t="seed:1")
    again, _ = build(box, context_tar({"Dockerfile": df}), networkmode="none", cachefrom='["seed:1"]')
    assert stream_text(again).count("Using cache") == 2 and built_id(again) == built_id(first)
    other, _ = build(box, context_tar({"Dockerfile": df}), networkmode="none", cachefrom='["busybox"]')
    assert "Using cache" not in stream_text(other)  # local images count only when a cachefrom image descends


def test_multi_stage_target_and_copy_from(box):
    df = ("FROM busybox AS builder\nRUN echo built > /artifact && mkdir /out && echo x > /out/x\n"
          "FROM busybox AS second\nCOPY --from=builder /artifact /from-name\nCOPY --from=0 /out /dir\n"
          "COPY --from=busybox /bin/busybox /bb\n"
          "FROM busybox\nRUN false\n")
    msgs, _ = build(box, context_tar({"Dockerfile": df}), target="second", networkmode="none")
    image = built_id(msgs)
    assert len([m for m in msgs if "aux" in m]) == 2  # one per stage built
    assert "Step 7/" not in stream_text(msgs)
    assert run_out(box, image, "cat", "/from-name", "/dir/x") == "built\nx\n"
    assert run_out(box, image, "sh", "-c", "test -x /bb && echo ok") == "ok\n"
    _, body = build(box, context_tar({"Dockerfile": df}), target="nope", expect=400)
    assert json.loads(body)["message"] == "failed to reach build target nope in Dockerfile"


def test_args_scopes_and_build_args(box):
    df = ("ARG BASE=busybox\nARG UNUSED_META=1\nFROM ${BASE}\nARG WHO=default\nARG BASE\n"
          "RUN echo \"$WHO on $BASE\" > /who\nENV STAGE=${WHO:-none}-${MISSING:-dflt}-${WHO:+set}\n"
          "FROM busybox\nRUN echo \"[$WHO]\" > /scoped\n")
    msgs, _ = build(box, context_tar({"Dockerfile": df}), buildargs={"WHO": "alice", "NOPE": "x",
                                                                       "HTTP_PROXY": "http://proxy:1"},
                    networkmode="none", target="", t="args:1")
    text = stream_text(msgs)
    assert "[Warning] One or more build-args [NOPE] were not consumed\n" in text
    assert run_out(box, "args:1", "cat", "/scoped") == "[]\n"
    first = [m["aux"]["ID"] for m in msgs if "aux" in m][0]
    assert run_out(box, first, "cat", "/who") == "alice on busybox\n"
    assert "STAGE=alice-dflt-set" in config_of(box, first)["Env"]
    history = [h["CreatedBy"] for h in box.json("GET", f"/images/{first}/history")]
    run_line = [h for h in history if "echo \"$WHO" in h][0]
    assert run_line.startswith("|2 BASE=busybox WHO=alice /bin/sh -c ")  # the proxy arg stays out of history


def test_copy_and_add_semantics(box):
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w") as tf:
        info = tarfile.TarInfo("unpacked/hello")
        payload = b"from a tar\n"
        info.size = len(payload)
        tf.addfile(info, io.BytesIO(payload))
    df = ("FROM busybox\nCOPY dir /copied\nCOPY dir/*.txt /wild/\nCOPY --chown=65534:65534 dir/a.txt /owned\n"
          "ADD bundle.tar.gz /extracted/\nCOPY bundle.tar.gz /kept.tar.gz\nCOPY ../../dir/a.txt rel\n"
          "COPY link /via-link\n")
    files = {"Dockerfile": df, "dir/a.txt": "a\n", "dir/b.txt": "b\n", "dir/sub/c.md": "c\n",
             "bundle.tar.gz": gzip.compress(inner.getvalue())}
    msgs, _ = build(box, context_tar(files, symlinks={"link": "/dir/b.txt"}), networkmode="none")
    image = built_id(msgs)
    out = run_out(box, image, "sh", "-c",
                  "cat /copied/a.txt /copied/sub/c.md; ls /wild; stat -c %u:%g /owned /copied/a.txt;"
                  "cat /extracted/unpacked/hello; test -f /kept.tar.gz && echo kept; cat /rel /via-link")
    assert out == "a\nc\na.txt\nb.txt\n65534:65534\n0:0\nfrom a tar\nkept\na\nb\n"


def test_copy_errors_say_what_docker_says(box):
    _, body = build(box, context_tar({"Dockerfile": "FROM busybox\nCOPY missing /x\n"}), networkmode="none")
    msgs = [json.loads(line) for line in body.splitlines()]
    assert error_of(msgs) == ("COPY failed: file not found in build context or excluded by .dockerignore: "
                              "stat missing: file does not exist")
    _, body = build(box, context_tar({"Dockerfile": "FROM busybox\nCOPY a b /x\n", "a": "", "b": ""}))
    msgs = [json.loads(line) for line in body.splitlines()]
    assert error_of(msgs) == ("When using COPY with more than one source file, the destination must be a "
                              "directory and end with a /")
    _, body = build(box, context_tar({"Dockerfile": "FROM busybox\nCOPY --chmod=644 a /x\n", "a": ""}))
    assert "the --chmod option requires BuildKit" in error_of([json.loads(x) for x in body.splitlines()])


def test_metadata_instructions_reach_the_image(box):
    df = ("FROM busybox\nMAINTAINER someone\nLABEL a=1 \"b c\"=\"d e\"\nEXPOSE 80 53/udp 8000-8001\n"
          "VOLUME /data\nUSER nobody\nSTOPSIGNAL SIGUSR1\nSHELL [\"/bin/sh\", \"-ec\"]\n"
          "HEALTHCHECK --interval=5s --retries=3 CMD true\nENTRYPOINT [\"echo\"]\nCMD [\"hi\"]\n"
          "ONBUILD RUN echo triggered > /tmp/onbuild\n")
    msgs, _ = build(box, context_tar({"Dockerfile": df}), t="meta:1", labels={"from.option": "yes"})
    config = config_of(box, "meta:1")
    assert config["Labels"] == {"a": "1", "b c": "d e", "from.option": "yes"}
    assert set(config["ExposedPorts"]) == {"80/tcp", "53/udp", "8000/tcp", "8001/tcp"}
    assert config["Volumes"] == {"/data": {}} and config["User"] == "nobody" and config["StopSignal"] == "SIGUSR1"
    assert config["Shell"] == ["/bin/sh", "-ec"] and config["Entrypoint"] == ["echo"] and config["Cmd"] == ["hi"]
    assert config["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000, "Retries": 3}
    assert config["OnBuild"] == ["RUN echo triggered > /tmp/onbuild"]
    assert box.json("GET", "/images/meta:1/json")["Author"] == "someone"
    history = [h["CreatedBy"] for h in box.json("GET", "/images/meta:1/history")]
    # after SHELL, the committed steps' prefix is that shell, as dockerd 20.10 writes it
    assert '/bin/sh -ec #(nop)  HEALTHCHECK &{["CMD-SHELL" "true"] "5s" "0s" "0s" \'\\x03\'}' in history
    assert "/bin/sh -c #(nop)  VOLUME [/data]" in history and '/bin/sh -ec #(nop)  LABEL from.option=yes' in history
    child, _ = build(box, context_tar({"Dockerfile": "FROM meta:1\nUSER root\n"}), networkmode="none")
    assert "# Executing 1 build trigger\n" in stream_text(child)
    assert run_out(box, built_id(child), "cat", "/tmp/onbuild", entrypoint=[""]) == "triggered\n"
    assert config_of(box, built_id(child))["OnBuild"] is None


def test_build_options_apply_to_run_steps(box):
    df = ("FROM busybox\nRUN grep -q 'myhost' /etc/hosts && echo hosts-ok; "
          "ip -o link 2>/dev/null | grep -c ': eth' || true; df -k /dev/shm | tail -1 | awk '{print $2}'\n")
    msgs, _ = build(box, context_tar({"Dockerfile": df}), networkmode="none", extrahosts="myhost:10.1.2.3",
                    shmsize=str(32 << 20), memory=str(64 << 20))
    text = stream_text(msgs)
    assert "hosts-ok\n0\n32768\n" in text, text
    limits = ("FROM busybox\nRUN cat /sys/fs/cgroup/memory.max 2>/dev/null || "
              "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; "
              "(cat /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) | cut -d' ' -f1; nproc\n")
    msgs, _ = build(box, context_tar({"Dockerfile": limits}), networkmode="none", memory=str(64 << 20),
                    cpuquota="50000", cpuperiod="100000", cpusetcpus="0")
    assert "\n67108864\n50000\n1\n" in stream_text(msgs), stream_text(msgs)


def test_quiet_build_sends_only_the_id(box):
    msgs, _ = build(box, context_tar({"Dockerfile": "FROM busybox\nRUN echo noisy\n"}), q=1, networkmode="none")
    assert len(msgs) == 1 and msgs[0]["stream"].startswith("sha256:")
    _, body = build(box, context_tar({"Dockerfile": "FROM busybox\nRUN echo noisy && false\n"}), q=1,
                    networkmode="none", forcerm=1)
    msgs = [json.loads(line) for line in body.splitlines()]
    assert "noisy" in stream_text(msgs) and "returned a non-zero code: 1" in error_of(msgs)


def test_dockerfile_errors_before_any_output(box):
    images = {i["Id"] for i in box.json("GET", "/images/json?all=1")}
    before = leftovers(box)
    _, body = build(box, context_tar({"Dockerfile": "FROM busybox\nRUN true\nRUNN x\n"}), expect=400)
    assert json.loads(body)["message"] == "dockerfile parse error line 3: unknown instruction: RUNN"
    _, body = build(box, context_tar({"x": "y"}), expect=400)
    assert json.loads(body)["message"] == "Cannot locate specified Dockerfile: Dockerfile"
    _, body = build(box, context_tar({"Dockerfile": "FROM busybox\n"}), t="Bad:Tag", expect=400)
    assert "must be lowercase" in json.loads(body)["message"]
    _, body = build(box, context_tar({"sub/my.df": "FROM busybox\nLABEL x=1\n"}), dockerfile="sub/my.df")
    assert "Successfully built" in stream_text([json.loads(x) for x in body.splitlines()])
    _, body = build(box, context_tar({"Dockerfile": "FROM busybox\nRUN --mount=type=cache,target=/x true\n"}))
    assert "the --mount option requires BuildKit" in error_of([json.loads(x) for x in body.splitlines()])
    made = {i["Id"] for i in box.json("GET", "/images/json?all=1")} - images
    assert len(made) <= 1, made  # at most the one good build's image (LABEL x=1): the refused ones recorded nothing
    assert leftovers(box) == before


def test_failed_run_moves_no_tag_and_rm_forcerm_decide_the_container(box):
    ok, _ = build(box, context_tar({"Dockerfile": "FROM busybox\nLABEL v=1\n"}), t="fail:1")
    before = containers(box)
    _, body = build(box, context_tar({"Dockerfile": "FROM busybox\nRUN exit 3\n"}), t="fail:1", networkmode="none")
    msgs = [json.loads(line) for line in body.splitlines()]
    error = [m for m in msgs if "errorDetail" in m][0]
    assert error["errorDetail"] == {"code": 3, "message": "The command '/bin/sh -c exit 3' returned a non-zero code: 3"}
    assert box.json("GET", "/images/fail:1/json")["Id"] == built_id(ok)
    kept = [c for c in containers(box) if c not in before]
    assert len(kept) == 1 and kept[0]["State"] == "exited"  # rm=1 keeps the failed step's container, as dockerd
    rm(box, kept[0]["Id"])
    build(box, context_tar({"Dockerfile": "FROM busybox\nRUN exit 3\n"}), forcerm=1, networkmode="none")
    assert containers(box) == before


class _Files(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}

    def do_GET(self):  # noqa: N802 - http.server's name
        data = self.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def files_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_add_url_downloads_and_does_not_unpack(box, files_server):
    _, base = files_server
    _Files.files = {"/files/data.tar": context_tar({"x": "y"}), "/files/plain": b"plain\n"}
    df = f"FROM busybox\nADD {base}/files/data.tar /dl/\nADD {base}/files/plain /p\n"
    msgs, _ = build(box, context_tar({"Dockerfile": df}), networkmode="none")
    out = run_out(box, built_id(msgs), "sh", "-c", "ls /dl; cat /p; stat -c %a /p; date -u -r /p +%Y")
    assert out == "data.tar\nplain\n600\n2015\n"
    _, body = build(box, context_tar({"Dockerfile": f"FROM busybox\nADD {base}/missing /m\n"}))
    assert "404" in error_of([json.loads(x) for x in body.splitlines()])


def test_context_formats_and_dockerignore(box):
    # dockerd removes only the build files its .dockerignore excludes; the client filters the rest
    df = "FROM busybox\nCOPY . /ctx/\nRUN ls -a /ctx | sort | tr '\\n' ' '\n"
    tar = context_tar({"Dockerfile": df, ".dockerignore": "secret\n.dockerignore\nDockerfile\n", "secret": "s",
                       "kept": "k"})
    import bz2
    import lzma
    for body in (tar, gzip.compress(tar), bz2.compress(tar), lzma.compress(tar)):
        msgs, _ = build(box, body, networkmode="none", nocache=1)
        assert ". .. kept secret " in stream_text(msgs)


def test_sources_never_read_outside_the_context(box):
    """Symlinks in the context that point out of it resolve inside it, as moby scopes them: the host's files
    are never read, whatever the link or ``..`` says."""
    secret = "host secret that must not be copied\n"
    with open("/tmp/barge-build-canary", "w") as fh:
        fh.write(secret)
    try:
        df = ("FROM busybox\nCOPY abs /abs\nCOPY up /up\nCOPY ../../../../tmp/barge-build-canary /dots\n"
              "COPY dirlink/ /dirlink/\n")
        files = {"Dockerfile": df, "tmp/barge-build-canary": "the context's own\n"}
        links = {"abs": "/tmp/barge-build-canary", "up": "../../../../../tmp/barge-build-canary", "dirlink": "/tmp"}
        msgs, _ = build(box, context_tar(files, symlinks=links), networkmode="none")
        out = run_out(box, built_id(msgs), "sh", "-c", "cat /abs /up /dots /dirlink/barge-build-canary")
        assert out == "the context's own\n" * 4
        _, body = build(box, context_tar({"Dockerfile": "FROM busybox\nCOPY evil /x\n"},
                                         symlinks={"evil": "/etc/passwd"}), networkmode="none")
        assert "file not found in build context" in error_of([json.loads(x) for x in body.splitlines()])
    finally:
        os.unlink("/tmp/barge-build-canary")
