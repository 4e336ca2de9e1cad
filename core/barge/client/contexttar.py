"""The build context as the docker CLI tars it, streamed.

A context directory goes out as go-archive's ``TarWithOptions`` writes it
for ``docker build`` (``ChownOpts{0, 0}``): the walk of
:func:`barge.dockerfile.dockerignore.walk_context`, names relative with a
``/`` after directories, owner 0:0 and no user or group names, the mode's
permission, set-id and sticky bits, mtimes cut to the second, hard links
as links to the first name sent, sockets left out, and of the extended
attributes only ``security.capability`` (version 3 turned into 2). A
Dockerfile from stdin or from outside the context is added as
``.dockerfile.<random>`` and named in the context's ``.dockerignore`` (the
CLI's ``AddDockerfileToBuildContext``). Nothing is held in memory but the
file being sent, a chunk at a time.

Where the CLI's tar is broken, barge's is not: with an added Dockerfile,
docker CLI 28 closes its pipe before its tar writer, so the daemon receives
no end-of-archive blocks and no padding after the last file.
"""

from __future__ import annotations

import os
import stat
import time
import zlib
from typing import IO, Iterable, Iterator

from barge.archive.pack import BLOCK, CHUNK
from barge.archive.pack import header as pack_header
from barge.client.errors import ClientError
from barge.dockerfile.dockerignore import ContextFilter, walk_context

END = b"\0" * (2 * BLOCK)
DOCKERIGNORE = ".dockerignore"
_CAPABILITY = "security.capability"


def _capability(path: str) -> dict[str, bytes]:
    """go-archive's ``ReadSecurityXattrToTarHeader``: the one xattr sent."""
    try:
        value = os.getxattr(path, _CAPABILITY, follow_symlinks=False)
    except OSError:
        return {}
    if len(value) > 3 and value[3] == 3:  # VFS_CAP_REVISION_3 -> 2: a root uid means nothing outside
        value = value[:3] + b"\x02" + value[4:20]
    return {_CAPABILITY: value}


def _split_ustar(name: str) -> tuple[str, str] | None:
    """Go's ``splitUSTARPath``: a long ASCII name as (prefix, name) fields."""
    if len(name) <= 100 or not name.isascii():
        return None
    length = min(len(name), 156)
    if length == len(name) and name.endswith("/"):
        length -= 1
    cut = name.rfind("/", 0, length)
    if cut <= 0 or not 0 < len(name) - cut - 1 <= 100 or cut > 155:
        return None
    return name[:cut], name[cut + 1:]


def header(name: str, typ: bytes, **fields) -> bytes:
    """barge's tar header, with a long name split as Go's writer splits it
    (USTAR's prefix field) rather than put in a PAX record."""
    split = _split_ustar(name)
    if split is None:
        return pack_header(name, typ, **fields)
    out = bytearray(pack_header(split[1], typ, **fields))
    block = len(out) - BLOCK
    out[block + 345:block + 345 + len(split[0])] = split[0].encode()
    out[block + 148:block + 156] = b" " * 8
    out[block + 148:block + 155] = b"%06o\0" % sum(out[block:])
    return bytes(out)


def _padding(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


def file_entry(name: str, data: bytes, mode: int = 0o600, mtime: int | None = None) -> bytes:
    """A regular file made up by the CLI (owner 0:0, mtime now unless given)."""
    mtime = int(time.time()) if mtime is None else mtime
    return header(name, b"0", mode=mode, size=len(data), mtime=mtime) + data + _padding(len(data))


class ContextTar:
    """Tar entries for paths under one directory, as go-archive's ``tarAppender``.

    ``owner`` is ``(0, 0)`` for a context directory (the CLI's ``ChownOpts``)
    and None to keep the files' own, as ``archive.Tar`` does for the
    directory holding a Dockerfile read from stdin.
    """

    def __init__(self, root: str, owner: tuple[int, int] | None = (0, 0)):
        self.root = root
        self.owner = owner
        self.seen: dict[tuple[int, int], str] = {}  # (dev, inode) -> first name sent

    def entry(self, relpath: str, suffix: bytes | None = None) -> Iterator[bytes]:
        """One path's entry; ``suffix`` is appended to a regular file's content."""
        path = os.path.join(self.root, relpath)
        try:
            st = os.lstat(path)
        except OSError:
            return  # gone since the walk: go-archive logs it and goes on
        mode = st.st_mode
        uid, gid = self.owner if self.owner is not None else (st.st_uid, st.st_gid)
        common = dict(mode=stat.S_IMODE(mode), uid=uid, gid=gid, mtime=st.st_mtime_ns // 1_000_000_000,
                      xattrs=_capability(path))
        if stat.S_ISSOCK(mode):
            return  # Go's tar refuses sockets; go-archive logs it
        name = relpath + "/" if stat.S_ISDIR(mode) else relpath
        if not stat.S_ISDIR(mode) and st.st_nlink > 1:
            first = self.seen.get((st.st_dev, st.st_ino))
            if first is not None:
                yield header(name, b"1", linkname=first, **common)
                return
        if stat.S_ISREG(mode):
            yield from self._file(path, name, st, common, suffix)
        else:
            yield self._special(path, name, st, common)
        if not stat.S_ISDIR(mode) and st.st_nlink > 1:
            self.seen[(st.st_dev, st.st_ino)] = name

    @staticmethod
    def _special(path: str, name: str, st: os.stat_result, common: dict) -> bytes:
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            return header(name, b"5", **common)
        if stat.S_ISLNK(mode):
            return header(name, b"2", linkname=os.readlink(path), **common)
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            return header(name, b"3" if stat.S_ISCHR(mode) else b"4", devmajor=os.major(st.st_rdev),
                          devminor=os.minor(st.st_rdev), **common)
        return header(name, b"6", **common)  # a FIFO

    @staticmethod
    def _file(path: str, name: str, st: os.stat_result, common: dict, suffix: bytes | None) -> Iterator[bytes]:
        try:
            fh = open(path, "rb", buffering=0)
        except OSError:
            return  # unreadable since the check: left out rather than a broken tar
        with fh:
            if suffix is not None:
                data = fh.read() + suffix
                yield header(name, b"0", size=len(data), **common) + data + _padding(len(data))
                return
            size = st.st_size
            yield header(name, b"0", size=size, **common)
            left = size
            while left:
                chunk = fh.read(min(CHUNK, left)) or b"\0" * min(CHUNK, left)  # shrank: keep the size
                yield chunk
                left -= len(chunk)
            yield _padding(size)


def tar_context(root: str, context_filter: ContextFilter, extra_dockerfile: tuple[str, bytes] | None = None
                ) -> Iterator[bytes]:
    """The context directory ``root`` as the CLI sends it.

    ``extra_dockerfile`` is ``(name, content)`` of a Dockerfile from stdin or
    from outside the context: it is added, and its name appended to the
    context's ``.dockerignore`` (made if there is none) so that the daemon
    leaves it out of the image, as the CLI does.
    """
    tar = ContextTar(root)
    suffix = b"\n" + extra_dockerfile[0].encode() + b"\n" if extra_dockerfile else None
    ignore_sent = False
    for relpath in walk_context(root, context_filter):
        rewrite = suffix is not None and relpath == DOCKERIGNORE and os.path.isfile(os.path.join(root, relpath)) \
            and not os.path.islink(os.path.join(root, relpath))
        ignore_sent = ignore_sent or relpath == DOCKERIGNORE
        yield from tar.entry(relpath, suffix if rewrite else None)
    if extra_dockerfile is not None:
        yield from added_entries(extra_dockerfile, with_dockerignore=not ignore_sent)
    yield END


def added_entries(dockerfile: tuple[str, bytes], with_dockerignore: bool) -> Iterator[bytes]:
    """The CLI's new entries: the Dockerfile, and a ``.dockerignore`` naming it."""
    now = int(time.time())
    name, content = dockerfile
    yield file_entry(name, content, mtime=now)
    if with_dockerignore:
        yield file_entry(DOCKERIGNORE, f"{DOCKERIGNORE}\n{name}\n".encode(), mtime=now)


def tar_directory_plain(root: str) -> Iterator[bytes]:
    """``archive.Tar(dir)``: every entry below ``root``, with its own owner
    (the CLI's tar of the temporary directory holding a Dockerfile)."""
    tar = ContextTar(root, owner=None)
    for relpath in walk_context(root, ContextFilter([])):
        yield from tar.entry(relpath)
    yield END


def add_dockerfile_to_tar(chunks: Iterable[bytes], dockerfile: tuple[str, bytes]) -> Iterator[bytes]:
    """A received tar (a URL's) with a Dockerfile added, as the CLI's
    ``ReplaceFileTarWrapper``: entries copied, ``.dockerignore`` extended,
    the new entries last. Like Go's tar reader, a compressed tar is refused."""
    import tarfile

    from barge.archive.stream import IterReader

    suffix = f"\n{dockerfile[0]}\n".encode()
    ignore_seen = False
    try:
        with tarfile.open(fileobj=IterReader(chunks), mode="r|") as source:
            for member in source:
                data = source.extractfile(member) if member.isreg() else None
                if member.name == DOCKERIGNORE and not ignore_seen:
                    ignore_seen = True
                    content = (data.read() if data is not None else b"") + suffix
                    member.size = len(content)
                    yield member.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape") + content \
                        + _padding(len(content))
                    continue
                yield member.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
                if data is not None:
                    while chunk := data.read(CHUNK):
                        yield chunk
                    yield _padding(member.size)
    except tarfile.TarError as exc:
        raise ClientError(f"unable to add the Dockerfile to the context: {exc}") from None
    yield from added_entries(dockerfile, with_dockerignore=not ignore_seen)
    yield END


# ---------------------------------------------------------------- stdin and URL bodies

# go-archive's compression.Detect: bzip2, gzip, xz, zstd (and zstd's skippable frames)
_MAGIC = (b"BZh", b"\x1f\x8b\x08", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")
PEEK = 2 * BLOCK


def is_archive(head: bytes) -> bool:
    """The CLI's ``IsArchive`` on the first 1024 bytes: compressed, or a tar
    whose first header Go's reader accepts (a checksum that adds up)."""
    if head.startswith(_MAGIC):
        return True
    if len(head) >= 8 and 0x184D2A50 <= int.from_bytes(head[:4], "little") <= 0x184D2A5F:
        return True
    offset = 0
    while offset + BLOCK <= len(head):
        block = head[offset:offset + BLOCK]
        if block == bytes(BLOCK):
            offset += BLOCK
            continue
        if not _checksum_ok(block):
            return False
        if block[156:157] not in (b"x", b"g", b"L", b"K"):
            return True
        size = _octal_field(block[124:136])  # an extended header: the real one must follow in the peek
        if size is None:
            return False
        offset += BLOCK + size + (-size % BLOCK)
    return False


def _octal_field(field: bytes) -> int | None:
    text = field.rstrip(b"\0 ").lstrip(b" ")
    try:
        return int(text or b"0", 8)
    except ValueError:
        return None


def _checksum_ok(block: bytes) -> bool:
    stored = _octal_field(block[148:156])
    if stored is None:
        return False
    blank = block[:148] + b" " * 8 + block[156:]
    unsigned = sum(blank)
    signed = sum(b - 256 if b > 127 else b for b in blank)
    return stored in (unsigned, signed)


def peek(stream: IO[bytes], size: int = PEEK) -> bytes:
    """Up to ``size`` bytes from ``stream``, fewer only at its end (bufio's ``Peek``)."""
    parts: list[bytes] = []
    got = 0
    reader = getattr(stream, "read1", None) or stream.read
    while got < size:
        data = reader(size - got)
        if not data:
            break
        parts.append(data)
        got += len(data)
    return b"".join(parts)


def chained(head: bytes, stream: IO[bytes]) -> Iterator[bytes]:
    """``head`` then the rest of ``stream``, in chunks."""
    if head:
        yield head
    reader = getattr(stream, "read1", None) or stream.read
    while data := reader(CHUNK):
        yield data


def coalesced(chunks: Iterable[bytes], size: int = 64 * 1024) -> Iterator[bytes]:
    """Small pieces (headers, small files) joined up to ``size`` bytes: one
    chunk of the HTTP body each, rather than one per tar header."""
    pending: list[bytes] = []
    held = 0
    for chunk in chunks:
        if held and held + len(chunk) > size:
            yield b"".join(pending)
            pending, held = [], 0
        if len(chunk) >= size:
            yield chunk
            continue
        pending.append(chunk)
        held += len(chunk)
    if pending:
        yield b"".join(pending)


def gzip_chunks(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """``--compress``: the context through gzip, a chunk at a time."""
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 31)
    for chunk in chunks:
        data = compressor.compress(chunk)
        if data:
            yield data
    yield compressor.flush()
