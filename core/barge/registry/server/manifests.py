"""Pushed manifests: which media types the registry accepts, the checks a
manifest must pass before it is stored, and what it references (for the
push-time existence check and for ``gc``'s mark phase)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from barge.registry.server.errors import RegistryError
from barge.registry.server.names import Digest, parse_digest

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
IMAGE_TYPES = {DOCKER_MANIFEST, OCI_MANIFEST}
INDEX_TYPES = {DOCKER_LIST, OCI_INDEX}
MANIFEST_TYPES = IMAGE_TYPES | INDEX_TYPES
#: registries must accept manifests of at least 4 MB (spec)
MAX_MANIFEST = 4 << 20
#: content types that say nothing about the manifest (clients that do not set one)
_GENERIC = {"", "application/json", "application/octet-stream", "text/plain"}


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    foreign: bool = False  # carries urls: the blob may live elsewhere


@dataclass
class Manifest:
    media_type: str
    blobs: list[Descriptor] = field(default_factory=list)  # config and layers
    children: list[Descriptor] = field(default_factory=list)  # index entries
    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: dict | None = None


def _invalid(message: str, detail=None) -> RegistryError:
    return RegistryError("MANIFEST_INVALID", f"manifest invalid: {message}", detail)


def _descriptor(value, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise _invalid(f"{where} is not a descriptor")
    media_type = value.get("mediaType")
    size = value.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise _invalid(f"{where} has no mediaType")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _invalid(f"{where} has no valid size")
    digest = parse_digest(value.get("digest") or "", code="MANIFEST_INVALID")
    urls = value.get("urls")
    return Descriptor(media_type, digest, size, foreign=bool(urls) and isinstance(urls, list))


def media_type_of(doc: dict, content_type: str) -> str:
    declared = doc.get("mediaType")
    content_type = content_type.split(";")[0].strip().lower()
    if declared is not None and not isinstance(declared, str):
        raise _invalid("mediaType is not a string")
    if content_type in _GENERIC:
        content_type = ""
    if declared and content_type and declared != content_type:
        raise _invalid(f"mediaType {declared} does not match Content-Type {content_type}")
    media_type = declared or content_type
    if not media_type:  # OCI allows omitting mediaType: tell by the shape
        media_type = OCI_INDEX if "manifests" in doc else OCI_MANIFEST
    if media_type not in MANIFEST_TYPES:
        raise _invalid(f"unsupported manifest media type {media_type!r}", {"mediaType": media_type})
    return media_type


def parse(body: bytes, content_type: str) -> Manifest:
    """Check a manifest's shape; raise MANIFEST_INVALID with the reason."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _invalid(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise _invalid("not a JSON object")
    if doc.get("schemaVersion") != 2:
        raise _invalid("schemaVersion must be 2", {"schemaVersion": doc.get("schemaVersion")})
    media_type = media_type_of(doc, content_type)
    manifest = Manifest(media_type)
    if media_type in IMAGE_TYPES:
        if "config" not in doc:
            raise _invalid("no config")
        manifest.blobs.append(_descriptor(doc["config"], "config"))
        layers = doc.get("layers", [])
        if not isinstance(layers, list):
            raise _invalid("layers is not a list")
        manifest.blobs.extend(_descriptor(layer, f"layers[{i}]") for i, layer in enumerate(layers))
        manifest.artifact_type = doc.get("artifactType") or manifest.blobs[0].media_type
    else:
        entries = doc.get("manifests")
        if not isinstance(entries, list):
            raise _invalid("manifests is not a list")
        manifest.children.extend(_descriptor(entry, f"manifests[{i}]") for i, entry in enumerate(entries))
        manifest.artifact_type = doc.get("artifactType")
    if doc.get("subject") is not None:
        manifest.subject = _descriptor(doc["subject"], "subject")
    annotations = doc.get("annotations")
    manifest.annotations = annotations if isinstance(annotations, dict) else None
    return manifest


def parse_stored(body: bytes, media_type: str) -> Manifest | None:
    """A stored manifest's references; None when it cannot be read (gc)."""
    try:
        return parse(body, media_type)
    except RegistryError:
        return None
