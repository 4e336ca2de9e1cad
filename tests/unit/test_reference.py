"""Docker reference grammar and normalisation (distribution/reference)."""

import pytest

from barge import reference
from barge.errors import InvalidParameter


@pytest.mark.parametrize(
    "given, full, familiar",
    [
        ("busybox", "docker.io/library/busybox", "busybox"),
        ("busybox:latest", "docker.io/library/busybox:latest", "busybox:latest"),
        ("docker.io/library/busybox", "docker.io/library/busybox", "busybox"),
        ("index.docker.io/library/busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
        ("foo/bar:1", "docker.io/foo/bar:1", "foo/bar:1"),
        ("localhost/foo", "localhost/foo", "localhost/foo"),
        ("localhost:5000/a/b:c", "localhost:5000/a/b:c", "localhost:5000/a/b:c"),
        ("quay.io/x/y", "quay.io/x/y", "quay.io/x/y"),
        ("a__b.c-d", "docker.io/library/a__b.c-d", "a__b.c-d"),
        ("busybox@sha256:" + "a" * 64, "docker.io/library/busybox@sha256:" + "a" * 64, "busybox@sha256:" + "a" * 64),
        ("busybox:1@sha256:" + "b" * 64, "docker.io/library/busybox:1@sha256:" + "b" * 64, "busybox:1@sha256:" + "b" * 64),
    ],
)
def test_valid_references_normalise(given, full, familiar):
    ref = reference.parse(given)
    assert str(ref) == full
    assert ref.familiar() == familiar


def test_default_tag_only_when_no_tag_or_digest():
    assert reference.parse_tagged("busybox").tag == "latest"
    assert reference.parse_tagged("busybox:1").tag == "1"
    d = reference.parse_tagged("busybox@sha256:" + "c" * 64)
    assert d.tag is None and d.digest


def test_uppercase_repository_gets_dockers_message():
    with pytest.raises(InvalidParameter) as exc:
        reference.parse("BusyBox:Latest")
    assert str(exc.value) == "invalid reference format: repository name (library/BusyBox) must be lowercase"


@pytest.mark.parametrize("bad", ["", "busy box", "busybox:", ":tag", "a//b", "-abc", "busybox:-x", "x@sha256:abc", "UP/"])
def test_invalid_references(bad):
    with pytest.raises(InvalidParameter) as exc:
        reference.parse(bad)
    assert "invalid" in str(exc.value) or "unsupported" in str(exc.value)


def test_plain_invalid_format_message():
    with pytest.raises(InvalidParameter) as exc:
        reference.parse("busy box")
    assert str(exc.value) == "invalid reference format"


def test_64_hex_is_not_a_repository_name():
    with pytest.raises(InvalidParameter, match="cannot specify 64-byte hexadecimal strings"):
        reference.parse("a" * 64)


def test_too_long_name():
    with pytest.raises(InvalidParameter, match="must not be more than 255 characters"):
        reference.parse("a" * 256)


def test_tag_target_replaces_or_defaults_tag():
    assert str(reference.parse_repo_and_tag("foo", "")) == "docker.io/library/foo:latest"
    assert str(reference.parse_repo_and_tag("foo", "v1")) == "docker.io/library/foo:v1"
    assert str(reference.parse_repo_and_tag("foo:old", "v1")) == "docker.io/library/foo:v1"
    with pytest.raises(InvalidParameter):
        reference.parse_repo_and_tag("foo", "bad tag")


def test_image_id_prefix():
    assert reference.is_image_id_prefix("abc123")
    assert reference.is_image_id_prefix("sha256:abc")
    assert reference.is_image_id_prefix("a" * 64)
    assert not reference.is_image_id_prefix("busybox")
    assert not reference.is_image_id_prefix("a" * 65)
    assert reference.is_full_id("sha256:" + "f" * 64)
    assert not reference.is_full_id("sha256:" + "f" * 63)
    assert reference.short_id("sha256:" + "0123456789abcdef" * 4) == "0123456789ab"
