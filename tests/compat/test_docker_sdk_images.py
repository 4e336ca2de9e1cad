"""The Docker SDK for Python lists, tags and removes barge's images."""

import io

import pytest

from tests.compat.conftest import small_rootfs_tar

pytestmark = pytest.mark.compat


def test_sdk_ping_version_info(docker_sdk):
    assert docker_sdk.ping() is True
    assert docker_sdk.version()["ApiVersion"] >= "1.44"
    assert docker_sdk.info()["Driver"] in {"vfs", "overlay"}


def test_sdk_lists_tags_and_removes(docker_sdk):
    docker_sdk.api.import_image_from_data(small_rootfs_tar(), repository="sdkdemo", tag="v1")
    images = docker_sdk.images.list()
    assert [t for i in images for t in i.tags] == ["sdkdemo:v1"]

    image = docker_sdk.images.get("sdkdemo:v1")
    assert image.tag("sdkdemo", "v2") is True
    assert sorted(docker_sdk.images.get(image.id).tags) == ["sdkdemo:v1", "sdkdemo:v2"]
    assert [i.id for i in docker_sdk.images.list(name="sdkdemo")] == [image.id]
    assert docker_sdk.images.list(filters={"reference": "sdkdemo:v2"})[0].id == image.id

    docker_sdk.images.remove("sdkdemo:v2")
    assert docker_sdk.images.get(image.id).tags == ["sdkdemo:v1"]
    docker_sdk.images.remove(image.id, force=True)
    assert docker_sdk.images.list() == []


def test_sdk_errors_are_typed(docker_sdk):
    import docker.errors

    with pytest.raises(docker.errors.ImageNotFound):
        docker_sdk.images.get("nosuchimage")
    with pytest.raises(docker.errors.APIError) as err:
        docker_sdk.api.tag("nosuchimage", "BusyBox", "Latest")
    assert err.value.status_code in (400, 404)


def test_sdk_save_and_load(docker_sdk):
    docker_sdk.api.import_image_from_data(small_rootfs_tar(), repository="roundtrip", tag="latest")
    image = docker_sdk.images.get("roundtrip")
    data = b"".join(image.save(named=True))
    docker_sdk.images.remove(image.id, force=True)
    loaded = docker_sdk.images.load(io.BytesIO(data).read())
    assert [i.id for i in loaded] == [image.id]
