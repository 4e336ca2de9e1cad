"""Manifest formats a registry serves: Docker schema 2 and OCI, parsed and checked.

Registries hand back whatever bytes were pushed, so a pull must not trust the
shape of a manifest: every descriptor is validated here (known media type,
well-formed digest, non-negative integer size) before anyone fetches a blob
named by it. Platform selection follows the OCI image-index rules: entries
with unknown media types are ignored and the first match wins.
"""

from __future__ import annotations

import json
import platform as _platform
import re
from dataclasses import dataclass, field
from typing import Any

from barge.errors import BargeError, InvalidParameter, NotFound

# Docker schema 2 (distribution docs/spec/manifest-v2-2.md)
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_LAYER_UNCOMPRESSED = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_ZSTD = "application/vnd.docker.image.rootfs.diff.tar.zstd"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

# OCI image spec (media-types.md)
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_ND = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_ND_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_LAYER_ND_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"

INDEX_TYPES = frozenset({DOCKER_MANIFEST_LIST, OCI_INDEX})
IMAGE_MANIFEST_TYPES = frozenset({DOCKER_MANIFEST, OCI_MANIFEST})
MANIFEST_TYPES = INDEX_TYPES | IMAGE_MANIFEST_TYPES
#: what a pull sends as ``Accept``: without the schema-2 types registries answer schema 1
ALL_MANIFEST_TYPES = [OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST]
CONFIG_TYPES = frozenset({DOCKER_CONFIG, OCI_CONFIG})

#: layer media type -> compression ("gzip", "zstd" or "" for plain tar)
LAYER_COMPRESSION = {
    DOCKER_LAYER: "gzip",
    DOCKER_FOREIGN_LAYER: "gzip",
    DOCKER_LAYER_UNCOMPRESSED: "",
    DOCKER_LAYER_ZSTD: "zstd",
    OCI_LAYER: "",
    OCI_LAYER_GZIP: "gzip",
    OCI_LAYER_ZSTD: "zstd",
    OCI_LAYER_ND: "",
    OCI_LAYER_ND_GZIP: "gzip",
    OCI_LAYER_ND_ZSTD: "zstd",
}
LAYER_TYPES = frozenset(LAYER_COMPRESSION)
#: layers a registry may refuse to serve (URLs point elsewhere); Docker skips pushing them
FOREIGN_LAYER_TYPES = frozenset({DOCKER_FOREIGN_LAYER, OCI_LAYER_ND, OCI_LAYER_ND_GZIP, OCI_LAYER_ND_ZSTD})

_DIGEST_SIZES = {"sha256": 64, "sha384": 96, "sha512": 128}
_HEX_RE = re.compile(r"^[a-f0-9]+$")


class InvalidManifest(BargeError):
    """A manifest from a registry that cannot be used (bad JSON, bad descriptor, ...)."""

    status = 500


class UnsupportedMediaType(InvalidManifest):
    pass


class NoMatchingPlatform(NotFound):
    pass


def is_digest(value: Any) -> bool:
    """``algorithm:hex`` with a registered algorithm and the right length."""
    if not isinstance(value, str):
        return False
    algorithm, sep, encoded = value.partition(":")
    return bool(sep) and len(encoded) == _DIGEST_SIZES.get(algorithm, -1) and bool(_HEX_RE.match(encoded))


def check_digest(value: Any, what: str = "digest") -> str:
    if not is_digest(value):
        raise InvalidManifest(f"invalid {what}: {value!r}")
    return value


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""
    os_version: str = ""
    os_features: tuple[str, ...] = ()

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    urls: tuple[str, ...] = ()
    annotations: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    platform: Platform | None = None
    artifact_type: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform is not None:
            p = self.platform
            out["platform"] = {"architecture": p.architecture, "os": p.os}
            if p.variant:
                out["platform"]["variant"] = p.variant
        return out


@dataclass(frozen=True)
class Manifest:
    """An image manifest: one config and its layers, bottom first."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    annotations: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    subject: Descriptor | None = None


@dataclass(frozen=True)
class Index:
    """A manifest list / OCI index: per-platform manifests, in the registry's order."""

    media_type: str
    manifests: tuple[Descriptor, ...]
    annotations: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


def _descriptor(raw: Any, what: str, *, known: frozenset[str] | None = None) -> Descriptor:
    if not isinstance(raw, dict):
        raise InvalidManifest(f"invalid {what}: not an object")
    media_type = raw.get("mediaType")
    if not isinstance(media_type, str) or not media_type:
        raise InvalidManifest(f"invalid {what}: missing mediaType")
    if known is not None and media_type not in known:
        raise UnsupportedMediaType(f"unsupported {what} media type {media_type}")
    digest = check_digest(raw.get("digest"), f"{what} digest")
    size = raw.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidManifest(f"invalid {what} size: {size!r}")
    urls = raw.get("urls") or []
    annotations = raw.get("annotations") or {}
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise InvalidManifest(f"invalid {what} urls")
    if not isinstance(annotations, dict):
        raise InvalidManifest(f"invalid {what} annotations")
    plat = None
    if isinstance(raw.get("platform"), dict):
        p = raw["platform"]
        features = p.get("os.features") or []
        plat = Platform(
            os=str(p.get("os", "")), architecture=str(p.get("architecture", "")),
            variant=str(p.get("variant", "") or ""), os_version=str(p.get("os.version", "") or ""),
            os_features=tuple(str(f) for f in features) if isinstance(features, list) else (),
        )
    return Descriptor(media_type, digest, size, tuple(urls), dict(annotations), plat,
                      str(raw.get("artifactType", "") or ""))


def sniff_media_type(body: bytes) -> str:
    """The media type a manifest declares in its body (registries may send a generic Content-Type)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(doc, dict):
        return ""
    if isinstance(doc.get("mediaType"), str):
        return doc["mediaType"]
    if doc.get("schemaVersion") == 1:
        return DOCKER_SCHEMA1
    if "manifests" in doc:
        return OCI_INDEX
    if "config" in doc and "layers" in doc:
        return OCI_MANIFEST
    return ""


def parse_manifest(body: bytes, media_type: str) -> Manifest | Index:
    """Parse and validate a manifest whose media type the registry announced."""
    media_type = (media_type or "").split(";", 1)[0].strip()
    if media_type in ("", "application/json", "text/plain", "application/octet-stream"):
        media_type = sniff_media_type(body)
    if media_type not in MANIFEST_TYPES:
        if media_type in (DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED):
            raise UnsupportedMediaType(
                f"unsupported manifest media type {media_type}: Docker Image manifest version 2, "
                "schema 1 is no longer supported")
        raise UnsupportedMediaType(f"unsupported manifest media type {media_type or '(none)'}")
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise InvalidManifest(f"invalid manifest: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidManifest("invalid manifest: not a JSON object")
    if doc.get("schemaVersion") != 2:
        raise InvalidManifest(f"invalid manifest: schemaVersion {doc.get('schemaVersion')!r}, want 2")
    declared = doc.get("mediaType")
    if declared is not None and declared != media_type:
        raise InvalidManifest(f"invalid manifest: mediaType {declared!r} does not match {media_type}")
    annotations = doc.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise InvalidManifest("invalid manifest: annotations")
    if media_type in INDEX_TYPES:
        entries = doc.get("manifests")
        if not isinstance(entries, list):
            raise InvalidManifest("invalid manifest list: missing manifests")
        return Index(media_type, tuple(_descriptor(e, "manifest list entry") for e in entries), annotations)
    config = _descriptor(doc.get("config"), "config")
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise InvalidManifest("invalid manifest: missing layers")
    parsed = tuple(_descriptor(layer, "layer", known=LAYER_TYPES) for layer in layers)
    if media_type == DOCKER_MANIFEST and config.media_type != DOCKER_CONFIG:
        raise UnsupportedMediaType(f"unsupported config media type {config.media_type}")
    subject = _descriptor(doc["subject"], "subject") if doc.get("subject") is not None else None
    return Manifest(media_type, config, parsed, annotations, subject)


# --- platforms -------------------------------------------------------------

_ARCH_ALIASES = {
    "x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm", "armel": "arm",
    "i386": "386", "i686": "386", "ppc64el": "ppc64le",
}


def _normalize(plat: Platform) -> Platform:
    """containerd's Normalize: aliases, arm64 -> v8, arm -> v7 by default, amd64/v1 -> ""."""
    arch = _ARCH_ALIASES.get(plat.architecture.lower(), plat.architecture.lower())
    variant = plat.variant.lower()
    if plat.architecture.lower() in ("armhf",):
        variant = variant or "v7"
    elif plat.architecture.lower() == "armel":
        variant = variant or "v6"
    if arch == "arm64" and variant in ("", "8"):
        variant = "v8"
    elif arch == "arm":
        variant = {"": "v7", "5": "v5", "6": "v6", "7": "v7", "8": "v8"}.get(variant, variant)
    elif arch == "amd64" and variant == "v1":
        variant = ""
    return Platform(plat.os.lower(), arch, variant, plat.os_version, plat.os_features)


def parse_platform(text: str) -> Platform:
    """``linux/arm64/v8``, ``linux/amd64`` or ``arm64`` (os defaults to linux), Docker's spelling."""
    parts = text.strip().split("/")
    if not text.strip() or len(parts) > 3 or any(not p for p in parts):
        raise InvalidParameter(f"invalid platform {text!r}: expected os/arch[/variant]")
    if len(parts) == 1:
        arch = parts[0].lower()
        if arch in ("linux", "windows", "darwin", "freebsd"):
            return _default_for_os(arch)
        return Platform("linux", arch)
    return Platform(parts[0].lower(), parts[1].lower(), parts[2].lower() if len(parts) == 3 else "")


def _default_for_os(os_name: str) -> Platform:
    here = default_platform()
    return Platform(os_name, here.architecture, here.variant)


def default_platform() -> Platform:
    """This machine's platform, as Docker picks it for a pull without --platform."""
    machine = _platform.machine().lower()
    variant = ""
    if machine.startswith("armv"):
        variant, machine = "v" + machine[4], "arm"  # armv7l -> arm/v7
    arch = _ARCH_ALIASES.get(machine, machine)
    return _normalize(Platform("linux", arch, variant))


def _arm_fallbacks(variant: str) -> list[str]:
    """An armv7 machine also runs v6 and v5 images, in that order of preference."""
    order = ["v8", "v7", "v6", "v5"]
    return order[order.index(variant):] if variant in order else [variant]


def select_platform(index: Index, want: Platform | str | None = None) -> Descriptor:
    """The manifest of ``index`` for ``want`` (default: this machine). First exact match wins;
    for 32-bit arm an older variant is accepted when the asked one is missing."""
    asked = default_platform() if want is None else parse_platform(want) if isinstance(want, str) else want
    target = _normalize(asked)
    candidates: list[tuple[Descriptor, Platform]] = []
    for desc in index.manifests:
        if desc.media_type not in MANIFEST_TYPES or desc.platform is None:
            continue  # unknown types MUST be ignored (attestations, artifacts)
        candidates.append((desc, _normalize(desc.platform)))
    variants = _arm_fallbacks(target.variant) if target.architecture == "arm" else [target.variant]
    for variant in variants:
        for desc, plat in candidates:
            if plat.os == target.os and plat.architecture == target.architecture and plat.variant == variant:
                return desc
    raise NoMatchingPlatform(f"no matching manifest for {asked} in the manifest list entries")


def layer_compression(media_type: str) -> str:
    """"gzip", "zstd" or "" for a layer media type (Docker also sniffs magic bytes on extraction)."""
    try:
        return LAYER_COMPRESSION[media_type]
    except KeyError:
        raise UnsupportedMediaType(f"unsupported layer media type {media_type}") from None
