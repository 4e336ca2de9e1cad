"""Blob handlers: GET/HEAD/DELETE ``/v2/<name>/blobs/<digest>`` and the
upload sessions under ``/v2/<name>/blobs/uploads/`` (monolithic POST, POST
then PUT, chunked PATCHes with ``Content-Range`` checks, status, cancel,
cross-repository mount).

Blobs go out with ``FileResponse`` (sendfile, Range requests). Upload bodies
stream to disk in large chunks, hashed in the same pass, the write of one
chunk overlapping the receipt of the next.
"""

from __future__ import annotations

import asyncio
import re

from aiohttp import web

from barge.registry.server.auth import repository
from barge.registry.server.context import registry
from barge.registry.server.errors import RegistryError
from barge.registry.server.names import Digest, check_name, parse_digest
from barge.registry.server.routes import Op

#: bytes gathered before one write+hash in a worker thread
WRITE_CHUNK = 4 << 20
_CONTENT_RANGE = re.compile(r"(?:bytes[ =])?(\d+)-(\d+)(?:/(?:\d+|\*))?")


def _upload_headers(name: str, uid: str, size: int) -> dict[str, str]:
    return {
        "Location": f"/v2/{name}/blobs/uploads/{uid}",
        "Range": f"0-{max(size - 1, 0)}",
        "Docker-Upload-UUID": uid,
        "Content-Length": "0",
    }


def _blob_created(name: str, digest: Digest) -> web.Response:
    return web.Response(status=201, headers={
        "Location": f"/v2/{name}/blobs/{digest}",
        "Docker-Content-Digest": str(digest),
        "Content-Length": "0",
    })


# ---------------------------------------------------------------------------
# blobs
# ---------------------------------------------------------------------------


async def get_blob(request: web.Request, op: Op) -> web.StreamResponse:
    reg = registry(request)
    digest = parse_digest(op.ref)
    size = reg.repos.blob_size(op.name, digest)
    if size is None:
        raise RegistryError("BLOB_UNKNOWN", detail={"digest": str(digest)})
    return web.FileResponse(reg.blobs.path(digest), chunk_size=1 << 20, headers={
        "Content-Type": "application/octet-stream",
        "Docker-Content-Digest": str(digest),
        "Cache-Control": "max-age=31536000",
    })


async def delete_blob(request: web.Request, op: Op) -> web.Response:
    reg = registry(request)
    if not reg.delete_enabled:
        raise RegistryError("UNSUPPORTED", "deletes are disabled on this registry")
    digest = parse_digest(op.ref)
    if not reg.repos.unlink_blob(op.name, digest):
        raise RegistryError("BLOB_UNKNOWN", detail={"digest": str(digest)})
    return web.Response(status=202, headers={"Docker-Content-Digest": str(digest), "Content-Length": "0"})


# ---------------------------------------------------------------------------
# receiving bytes
# ---------------------------------------------------------------------------


async def receive(request: web.Request, uid: str) -> int:
    """Append the request body to upload ``uid``; return the bytes taken.

    If the client goes away mid-body, what arrived stays in the session (the
    Range a status GET reports), and nothing becomes visible."""
    store = registry(request).blobs
    state = store.state(uid)
    loop = asyncio.get_running_loop()
    fh = store.open_append(uid)
    pending: asyncio.Future | None = None
    total = 0
    buf = bytearray()
    try:
        try:
            async for chunk in request.content.iter_any():
                buf += chunk
                total += len(chunk)
                if len(buf) >= WRITE_CHUNK:
                    if pending is not None:
                        await pending
                    pending = loop.run_in_executor(None, store.write_chunk, fh, state, buf)
                    buf = bytearray()
        finally:  # also when the client went away: keep what arrived
            if pending is not None:
                await pending
                pending = None
            if buf:
                await loop.run_in_executor(None, store.write_chunk, fh, state, buf)
    finally:
        fh.close()
    return total


def _check_range(request: web.Request, name: str, uid: str, size: int) -> None:
    """A chunk must continue the upload where it stands: else 416 with the current Range."""
    text = request.headers.get("Content-Range")
    if text is None:
        return
    m = _CONTENT_RANGE.fullmatch(text.strip())
    headers = _upload_headers(name, uid, size)
    headers.pop("Content-Length")
    if not m:
        raise RegistryError("RANGE_INVALID", f"malformed Content-Range {text!r}", headers=headers)
    start, end = int(m.group(1)), int(m.group(2))
    length = request.content_length
    if start != size or end < start or (length is not None and length != end - start + 1):
        raise RegistryError("RANGE_INVALID", f"Content-Range {text} does not continue the upload at {size}",
                            {"size": size}, headers=headers)


def _session(request: web.Request, op: Op) -> str:
    repo = registry(request).blobs.upload_repo(op.ref)
    if repo is None or repo != op.name:
        raise RegistryError("BLOB_UPLOAD_UNKNOWN", detail={"uuid": op.ref})
    return op.ref


# ---------------------------------------------------------------------------
# upload sessions
# ---------------------------------------------------------------------------


async def start_upload(request: web.Request, op: Op) -> web.Response:
    reg = registry(request)
    mount, source = request.query.get("mount"), request.query.get("from")
    if mount is not None:
        digest = parse_digest(mount)
        if _mount(request, op.name, digest, source):
            return _blob_created(op.name, digest)
    digest_text = request.query.get("digest")
    if digest_text is not None:
        digest = parse_digest(digest_text)
        uid = reg.blobs.create_upload(op.name)
        try:
            await receive(request, uid)
            await asyncio.get_running_loop().run_in_executor(None, reg.blobs.commit, uid, digest)
        finally:
            reg.blobs.cancel(uid)
        reg.repos.link_blob(op.name, digest)
        return _blob_created(op.name, digest)
    uid = reg.blobs.create_upload(op.name)
    return web.Response(status=202, headers=_upload_headers(op.name, uid, 0))


def _mount(request: web.Request, name: str, digest: Digest, source: str | None) -> bool:
    """Link ``digest`` into ``name`` from ``source`` when the client may read it there."""
    reg = registry(request)
    if source:
        try:
            check_name(source)
        except RegistryError:
            return False
        if reg.repos.blob_size(source, digest) is None or not reg.auth.grants(request, repository(source, "pull")):
            return False
    elif reg.auth.kind != "none" or reg.blobs.size(digest) is None:
        # without `from`, mount only where no access control could be bypassed
        return False
    reg.repos.link_blob(name, digest)
    return True


async def patch_upload(request: web.Request, op: Op) -> web.Response:
    reg = registry(request)
    uid = _session(request, op)
    state = reg.blobs.state(uid)
    async with state.lock:
        _check_range(request, op.name, uid, reg.blobs.upload_size(uid))
        await receive(request, uid)
        size = reg.blobs.upload_size(uid)
    return web.Response(status=202, headers=_upload_headers(op.name, uid, size))


async def put_upload(request: web.Request, op: Op) -> web.Response:
    reg = registry(request)
    uid = _session(request, op)
    digest_text = request.query.get("digest")
    if digest_text is None:
        raise RegistryError("DIGEST_INVALID", "digest missing: PUT the upload with ?digest=")
    digest = parse_digest(digest_text)
    state = reg.blobs.state(uid)
    async with state.lock:
        _check_range(request, op.name, uid, reg.blobs.upload_size(uid))
        await receive(request, uid)
        await asyncio.get_running_loop().run_in_executor(None, reg.blobs.commit, uid, digest)
    reg.repos.link_blob(op.name, digest)
    return _blob_created(op.name, digest)


async def upload_status(request: web.Request, op: Op) -> web.Response:
    reg = registry(request)
    uid = _session(request, op)
    return web.Response(status=204, headers=_upload_headers(op.name, uid, reg.blobs.upload_size(uid)))


async def cancel_upload(request: web.Request, op: Op) -> web.Response:
    reg = registry(request)
    uid = _session(request, op)
    reg.blobs.cancel(uid)
    return web.Response(status=204, headers={"Content-Length": "0"})


HANDLERS = {
    ("blob", "GET"): get_blob,
    ("blob", "HEAD"): get_blob,
    ("blob", "DELETE"): delete_blob,
    ("uploads", "POST"): start_upload,
    ("upload", "PATCH"): patch_upload,
    ("upload", "PUT"): put_upload,
    ("upload", "GET"): upload_status,
    ("upload", "DELETE"): cancel_upload,
}
