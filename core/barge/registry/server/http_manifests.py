"""Manifest handlers: GET/HEAD/PUT/DELETE ``/v2/<name>/manifests/<ref>`` and
the referrers API ``/v2/<name>/referrers/<digest>``.

A PUT is checked before anything is written: size (4 MiB), shape and media
type (:mod:`.manifests`), the digest when the reference is one, and every
blob and child manifest it references must already be in the repository."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from barge.registry.server import manifests
from barge.registry.server.context import registry
from barge.registry.server.errors import RegistryError
from barge.registry.server.names import Digest, digest_of, is_tag, looks_like_digest, parse_digest
from barge.registry.server.routes import Op


def _resolve(request: web.Request, op: Op) -> Digest:
    reg = registry(request)
    if looks_like_digest(op.ref):
        return parse_digest(op.ref)
    digest = reg.repos.tag(op.name, op.ref) if is_tag(op.ref) else None
    if digest is None:
        raise RegistryError("MANIFEST_UNKNOWN", detail={"name": op.name, "reference": op.ref})
    return digest


async def get_manifest(request: web.Request, op: Op) -> web.Response:
    reg = registry(request)
    digest = _resolve(request, op)
    media_type = reg.repos.revision(op.name, digest)
    body = reg.blobs.read(digest) if media_type is not None else None
    if body is None:
        raise RegistryError("MANIFEST_UNKNOWN", detail={"name": op.name, "reference": op.ref})
    return web.Response(body=body, headers={
        "Content-Type": media_type,
        "Docker-Content-Digest": str(digest),
        "ETag": f'"{digest}"',
    })


async def _read_limited(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > manifests.MAX_MANIFEST:
        raise RegistryError("SIZE_INVALID", f"manifest larger than {manifests.MAX_MANIFEST} bytes", status=413)
    data = bytearray()
    async for chunk in request.content.iter_any():
        data += chunk
        if len(data) > manifests.MAX_MANIFEST:
            raise RegistryError("SIZE_INVALID", f"manifest larger than {manifests.MAX_MANIFEST} bytes", status=413)
    return bytes(data)


def _check_references(request: web.Request, name: str, manifest: manifests.Manifest) -> None:
    reg = registry(request)
    missing = []
    for desc in manifest.blobs:
        size = reg.repos.blob_size(name, desc.digest)
        if size is None:
            if not desc.foreign:
                missing.append(str(desc.digest))
        elif size != desc.size:
            raise RegistryError("MANIFEST_INVALID", f"manifest invalid: size of {desc.digest} is {size}, "
                                f"not {desc.size}", {"digest": str(desc.digest)})
    for desc in manifest.children:
        if reg.repos.revision(name, desc.digest) is None:
            missing.append(str(desc.digest))
    if missing:
        raise RegistryError("MANIFEST_BLOB_UNKNOWN", detail={"digests": missing})


async def put_manifest(request: web.Request, op: Op) -> web.Response:
    reg = registry(request)
    body = await _read_limited(request)
    manifest = manifests.parse(body, request.headers.get("Content-Type", ""))
    tag = None
    if looks_like_digest(op.ref):
        wanted = parse_digest(op.ref)
        digest = digest_of(body, wanted.algorithm)
        if digest != wanted:
            raise RegistryError("DIGEST_INVALID", detail={"expected": str(wanted), "actual": str(digest)})
    elif is_tag(op.ref):
        tag, digest = op.ref, digest_of(body)
    else:
        raise RegistryError("MANIFEST_INVALID", f"manifest invalid: bad tag {op.ref!r}", {"tag": op.ref})
    _check_references(request, op.name, manifest)
    await asyncio.get_running_loop().run_in_executor(None, reg.blobs.put_bytes, body, digest.algorithm)
    reg.repos.add_revision(op.name, digest, manifest.media_type)
    if manifest.subject is not None:
        reg.repos.add_referrer(op.name, manifest.subject.digest, digest)
    if tag is not None:
        reg.repos.set_tag(op.name, tag, digest)
    headers = {"Location": f"/v2/{op.name}/manifests/{digest}", "Docker-Content-Digest": str(digest),
               "Content-Length": "0"}
    if manifest.subject is not None:
        headers["OCI-Subject"] = str(manifest.subject.digest)
    return web.Response(status=201, headers=headers)


async def delete_manifest(request: web.Request, op: Op) -> web.Response:
    reg = registry(request)
    if not reg.delete_enabled:
        raise RegistryError("UNSUPPORTED", "deletes are disabled on this registry")
    if not looks_like_digest(op.ref):
        if not reg.repos.remove_tag(op.name, op.ref):
            raise RegistryError("MANIFEST_UNKNOWN", detail={"name": op.name, "reference": op.ref})
        return web.Response(status=202, headers={"Content-Length": "0"})
    digest = parse_digest(op.ref)
    media_type = reg.repos.revision(op.name, digest)
    if media_type is None:
        raise RegistryError("MANIFEST_UNKNOWN", detail={"name": op.name, "reference": op.ref})
    body = reg.blobs.read(digest)
    parsed = manifests.parse_stored(body, media_type) if body is not None else None
    reg.repos.remove_revision(op.name, digest)
    if parsed is not None and parsed.subject is not None:
        reg.repos.remove_referrer(op.name, parsed.subject.digest, digest)
    return web.Response(status=202, headers={"Content-Length": "0"})


def referrer_descriptor(reg, name: str, digest: Digest) -> dict | None:
    media_type = reg.repos.revision(name, digest)
    body = reg.blobs.read(digest) if media_type else None
    parsed = manifests.parse_stored(body, media_type) if body is not None else None
    if parsed is None:
        return None
    desc = {"mediaType": media_type, "digest": str(digest), "size": len(body)}
    if parsed.artifact_type:
        desc["artifactType"] = parsed.artifact_type
    if parsed.annotations:
        desc["annotations"] = parsed.annotations
    return desc


async def get_referrers(request: web.Request, op: Op) -> web.Response:
    reg = registry(request)
    subject = parse_digest(op.ref)
    wanted = request.query.get("artifactType")
    found = []
    for digest in reg.repos.referrers(op.name, subject):
        desc = referrer_descriptor(reg, op.name, digest)
        if desc is not None and (wanted is None or desc.get("artifactType") == wanted):
            found.append(desc)
    headers = {"OCI-Filters-Applied": "artifactType"} if wanted is not None else {}
    index = {"schemaVersion": 2, "mediaType": manifests.OCI_INDEX, "manifests": found}
    return web.Response(body=json.dumps(index).encode(), content_type=manifests.OCI_INDEX, headers=headers)


HANDLERS = {
    ("manifest", "GET"): get_manifest,
    ("manifest", "HEAD"): get_manifest,
    ("manifest", "PUT"): put_manifest,
    ("manifest", "DELETE"): delete_manifest,
    ("referrers", "GET"): get_referrers,
}
