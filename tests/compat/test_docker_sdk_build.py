"""The Docker SDK for Python builds images with the classic builder (``images.build``), issue 11.

The expected log chunks, errors and results were read off dockerd 20.10; ``BARGE_COMPAT_REFERENCE=dockerd
pytest tests/compat/test_docker_sdk_build.py`` runs the same tests against a private dockerd (see the
``build_host`` fixture). Only ids are normalised. Servers are on 127.0.0.1.
"""

from __future__ import annotations

import io
import re
import tarfile

import pytest

from tests.compat.conftest import serve_directory

pytestmark = pytest.mark.compat

SHORT_ID = re.compile(r"\b[0-9a-f]{12}\b")


@pytest.fixture
def sdk(build_host):
    docker = pytest.importorskip("docker", reason="the docker SDK for Python is not installed")
    client = docker.DockerClient(base_url=build_host.url, version="auto", timeout=120)
    yield client
    client.close()


def tar_of(files: dict[str, str], mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(text.encode()), 0o644, 1_700_000_000
            tf.addfile(info, io.BytesIO(text.encode()))
    return buf.getvalue()


def chunks(logs) -> list[dict]:
    """The log generator's chunks, with ids replaced by ``<id>`` (they vary from run to run)."""
    out = []
    for chunk in logs:
        if "stream" in chunk:
            chunk = dict(chunk, stream=SHORT_ID.sub("<id>", chunk["stream"]))
        elif "aux" in chunk:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", chunk["aux"]["ID"])
            chunk = {"aux": {"ID": "<sha256>"}}
        out.append(chunk)
    return out


def dockerfile(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode())


def stream_text(logs) -> str:
    return "".join(chunk.get("stream", "") for chunk in logs)


def test_build_from_a_dockerfile_object_returns_image_and_log(sdk):
    import docker.models.images

    image, logs = sdk.images.build(fileobj=dockerfile("FROM busybox\nRUN echo hi\nCMD [\"sh\"]\n"), tag="sdk:one",
                                   rm=True)
    assert isinstance(image, docker.models.images.Image) and image.tags == ["sdk:one"]
    log = list(logs)
    assert chunks(log) == [
        {"stream": "Step 1/3 : FROM busybox"}, {"stream": "\n"}, {"stream": " ---> <id>\n"},
        {"stream": "Step 2/3 : RUN echo hi"}, {"stream": "\n"}, {"stream": " ---> Running in <id>\n"},
        {"stream": "hi\n"},
        {"stream": "Removing intermediate container <id>\n"}, {"stream": " ---> <id>\n"},
        {"stream": 'Step 3/3 : CMD ["sh"]'}, {"stream": "\n"}, {"stream": " ---> Running in <id>\n"},
        {"stream": "Removing intermediate container <id>\n"}, {"stream": " ---> <id>\n"},
        {"aux": {"ID": "<sha256>"}},
        {"stream": "Successfully built <id>\n"},
        {"stream": "Successfully tagged sdk:one\n"},
    ]
    assert log[-3]["aux"]["ID"] == image.id and log[-2]["stream"] == f"Successfully built {image.id[7:19]}\n"

    again, logs = sdk.images.build(fileobj=dockerfile("FROM busybox\nRUN echo hi\nCMD [\"sh\"]\n"), rm=True)
    assert again.id == image.id and stream_text(logs).count(" ---> Using cache\n") == 2


def test_rm_defaults_to_false_in_the_sdk_and_leaves_containers(sdk):
    _, logs = sdk.images.build(fileobj=dockerfile("FROM busybox\nRUN echo hi\nENV A=1\n"))
    text = stream_text(logs)
    assert "Removing intermediate container" not in text and text.count(" ---> Running in ") == 2
    left = re.findall(r" ---> Running in ([0-9a-f]{12})\n", text)
    assert sorted(c.short_id for c in sdk.containers.list(all=True)) == sorted(left)


def test_build_from_a_directory_with_a_dockerfile_path(sdk, tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "f.txt").write_text("from the context\n")
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN exit 1\n")
    (tmp_path / "sub" / "Alt").write_text("FROM busybox\nCOPY f.txt /f.txt\nCMD [\"cat\", \"/f.txt\"]\n")
    image, _ = sdk.images.build(path=str(tmp_path), dockerfile="sub/Alt", tag="dir", rm=True)
    assert sdk.containers.run(image.id, remove=True, network_mode="none") == b"from the context\n"


def test_custom_gzip_context(sdk):
    ctx = tar_of({"Dockerfile": "FROM busybox\nCOPY . /ctx/\nRUN find /ctx | sort\n", "a.txt": "a\n"}, mode="w:gz")
    image, logs = sdk.images.build(fileobj=io.BytesIO(ctx), custom_context=True, encoding="gzip", rm=True)
    assert "\n/ctx\n/ctx/Dockerfile\n/ctx/a.txt\n" in "\n" + stream_text(logs)
    assert sdk.containers.run(image.id, "cat /ctx/a.txt", remove=True, network_mode="none") == b"a\n"


def test_remote_context_downloaded_by_the_daemon(sdk, tmp_path):
    www = tmp_path / "www"
    www.mkdir()
    (www / "ctx.tar").write_bytes(tar_of({"Dockerfile": "FROM busybox\nCOPY a.txt /\nRUN cat /a.txt\n",
                                          "a.txt": "remote\n"}))
    (www / "Dockerfile").write_text("FROM busybox\nRUN echo plain remote\n")
    size = (www / "ctx.tar").stat().st_size
    with serve_directory(www) as url:
        image, logs = sdk.images.build(path=f"{url}/ctx.tar", rm=True)
        log = list(logs)
        assert "\nremote\n" in stream_text(log)
        # the download's progress comes first, under the id "Downloading context"; dockerd sends it or not
        # depending on how its reads of the body fall (seen both ways), so only its form is checked
        first_step = log.index({"stream": "Step 1/3 : FROM busybox"})
        assert all(chunk["id"] == "Downloading context" and chunk["status"] == f"{url}/ctx.tar"
                   and chunk["progressDetail"]["current"] <= size for chunk in log[:first_step])
        if first_step:
            assert log[first_step - 1] == {"status": f"{url}/ctx.tar", "progressDetail": {"current": size},
                                           "progress": " 10.24kB", "id": "Downloading context"}
        _, logs = sdk.images.build(path=f"{url}/Dockerfile", rm=True)
        log = list(logs)
        assert "\nplain remote\n" in stream_text(log)
    assert sdk.containers.run(image.id, "cat /a.txt", remove=True, network_mode="none") == b"remote\n"


BUILD_ARGS = """FROM busybox AS builder
ARG WHO=nobody
RUN echo "hello $WHO" > /greeting
FROM busybox
COPY --from=builder /greeting /
"""


def test_quiet_streams_only_the_id(sdk):
    log = list(sdk.api.build(fileobj=dockerfile("FROM busybox\nRUN echo quiet\n"), quiet=True, decode=True))
    assert len(log) == 1 and re.fullmatch(r"sha256:[0-9a-f]{64}\n", log[0]["stream"])
    assert sdk.images.get(log[0]["stream"].strip()).id == log[0]["stream"].strip()


def test_add_url_progress_in_the_stream(sdk, tmp_path):
    (tmp_path / "data.txt").write_text("payload\n")
    with serve_directory(tmp_path) as url:
        log = list(sdk.api.build(fileobj=dockerfile(f"FROM busybox\nADD {url}/data.txt /dl/\n"), decode=True, rm=True))
    step = log.index({"stream": f"Step 2/2 : ADD {url}/data.txt /dl/"})
    assert log[step + 1:step + 4] == [
        {"stream": "\n"},
        {"status": "Downloading", "progressDetail": {"current": 8, "total": 8},
         "progress": "[==================================================>]       8B/8B"},
        {"stream": "\n"},
    ]


def test_buildargs_and_target(sdk):
    image, logs = sdk.images.build(fileobj=dockerfile(BUILD_ARGS), buildargs={"WHO": "sdk", "EXTRA": "x"},
                                   target="builder", tag="stage", rm=True)
    text = stream_text(logs)
    assert "Step 3/3 : RUN echo \"hello $WHO\" > /greeting\n" in text and "Step 4/" not in text
    assert "[Warning] One or more build-args [EXTRA] were not consumed\n" in text
    assert sdk.containers.run("stage", "cat /greeting", remove=True, network_mode="none") == b"hello sdk\n"
    assert image.history()[0]["CreatedBy"] == '|1 WHO=sdk /bin/sh -c echo "hello $WHO" > /greeting'


def test_unknown_target_is_a_bad_request(sdk):
    import docker.errors

    with pytest.raises(docker.errors.APIError) as err:
        sdk.images.build(fileobj=dockerfile(BUILD_ARGS), target="nosuch")
    assert err.value.status_code == 400
    assert err.value.explanation == "failed to reach build target nosuch in Dockerfile"


def test_cache_from(sdk):
    text = "FROM busybox\nRUN echo cached-step\nCMD [\"sh\"]\n"
    first, _ = sdk.images.build(fileobj=dockerfile(text), tag="cf:a", rm=True)
    sdk.images.build(fileobj=dockerfile("FROM busybox\nRUN echo other\n"), tag="cf:other", rm=True)
    # with cache_from, only those images are a cache: the local one built above is not used
    other, logs = sdk.images.build(fileobj=dockerfile(text), cache_from=["cf:other"], rm=True)
    assert "Using cache" not in stream_text(logs) and other.id != first.id
    same, logs = sdk.images.build(fileobj=dockerfile(text), cache_from=["cf:a"], rm=True)
    assert stream_text(logs).count(" ---> Using cache\n") == 2 and same.id == first.id
    _, logs = sdk.images.build(fileobj=dockerfile(text), cache_from=["nosuch:image"], rm=True)
    assert "Using cache" not in stream_text(logs)


def test_nocache_and_pull_false(sdk):
    text = "FROM busybox\nRUN echo step\n"
    first, _ = sdk.images.build(fileobj=dockerfile(text), pull=False, rm=True)
    second, logs = sdk.images.build(fileobj=dockerfile(text), nocache=True, pull=False, rm=True)
    text = stream_text(logs)
    assert "Using cache" not in text and "\nstep\n" in text and second.id != first.id


def test_network_modes_and_extra_hosts(sdk, tmp_path):
    (tmp_path / "index.html").write_text("from the host\n")
    with serve_directory(tmp_path) as url:
        text = f"FROM busybox\nRUN wget -qO- {url}/index.html 2>/dev/null || echo unreachable\n"
        _, logs = sdk.images.build(fileobj=dockerfile(text), network_mode="host", rm=True)
        assert "\nfrom the host\n" in stream_text(logs)
        _, logs = sdk.images.build(fileobj=dockerfile(text), network_mode="none", nocache=True, rm=True)
        assert "\nunreachable\n" in stream_text(logs)
    _, logs = sdk.images.build(fileobj=dockerfile("FROM busybox\nRUN grep db /etc/hosts\n"),
                               extra_hosts={"db": "10.1.2.3"}, rm=True)
    assert "\n10.1.2.3\tdb\n" in stream_text(logs)


def test_shmsize(sdk):
    text = "FROM busybox\nRUN df -k /dev/shm | tail -1 | awk '{print \"shm kB:\", $2}'\n"
    _, logs = sdk.images.build(fileobj=dockerfile(text), shmsize=128 * 1024 * 1024, rm=True)
    assert "\nshm kB: 131072\n" in stream_text(logs)
    _, logs = sdk.images.build(fileobj=dockerfile(text), nocache=True, rm=True)
    assert "\nshm kB: 65536\n" in stream_text(logs)  # the default, 64 MiB


def test_labels(sdk):
    image, logs = sdk.images.build(fileobj=dockerfile("FROM busybox\nLABEL x=1\n"), labels={"b": "2", "a": "1"},
                                   rm=True)
    steps = [c["stream"] for c in logs if c.get("stream", "").startswith("Step ")]
    assert steps == ["Step 1/4 : FROM busybox", "Step 2/4 : LABEL x=1", "Step 3/4 : LABEL a=1", "Step 4/4 : LABEL b=2"]
    assert image.labels == {"a": "1", "b": "2", "x": "1"}


def test_failing_run_raises_build_error(sdk):
    import docker.errors

    with pytest.raises(docker.errors.BuildError) as err:
        sdk.images.build(fileobj=dockerfile("FROM busybox\nRUN echo x; false\n"), rm=True, tag="never")
    message = "The command '/bin/sh -c echo x; false' returned a non-zero code: 1"
    assert str(err.value) == err.value.msg == message
    assert chunks(err.value.build_log) == [
        {"stream": "Step 1/2 : FROM busybox"}, {"stream": "\n"}, {"stream": " ---> <id>\n"},
        {"stream": "Step 2/2 : RUN echo x; false"}, {"stream": "\n"}, {"stream": " ---> Running in <id>\n"},
        {"stream": "x\n"},
        {"errorDetail": {"code": 1, "message": message}, "error": message},
    ]
    assert len(sdk.containers.list(all=True)) == 1  # rm keeps a failed step's container
    with pytest.raises(docker.errors.ImageNotFound):
        sdk.images.get("never")

    with pytest.raises(docker.errors.BuildError):
        sdk.images.build(fileobj=dockerfile("FROM busybox\nRUN exit 7\n"), forcerm=True)
    assert len(sdk.containers.list(all=True)) == 1  # forcerm removes it too

    with pytest.raises(docker.errors.BuildError) as err:
        sdk.images.build(fileobj=dockerfile("FROM busybox\nCOPY nope /\n"))
    message = ("COPY failed: file not found in build context or excluded by .dockerignore: "
               "stat nope: file does not exist")
    assert list(err.value.build_log)[-1] == {"errorDetail": {"message": message}, "error": message}


def test_parse_error_is_a_bad_request(sdk):
    import docker.errors

    with pytest.raises(docker.errors.APIError) as err:
        sdk.images.build(fileobj=dockerfile("FROM busybox\nRUNN x\n"))
    assert err.value.status_code == 400
    assert err.value.explanation == "dockerfile parse error line 2: unknown instruction: RUNN"
