"""Go's ``http.DetectContentType`` (net/http/sniff.go), which dockerd applies to a remote context
served without a useful content type."""

from __future__ import annotations

# Go's http.DetectContentType (net/http/sniff.go), as (pattern, mask or None, skip leading whitespace, type).
_HTML_TAGS = (b"<!DOCTYPE HTML", b"<HTML", b"<HEAD", b"<SCRIPT", b"<IFRAME", b"<H1", b"<DIV", b"<FONT", b"<TABLE",
              b"<A", b"<STYLE", b"<TITLE", b"<B", b"<BODY", b"<BR", b"<P", b"<!--")
_SIGNATURES: tuple[tuple[bytes, bytes | None, bool, str], ...] = (
    (b"<?xml", b"\xff" * 5, True, "text/xml; charset=utf-8"),
    (b"%PDF-", None, False, "application/pdf"),
    (b"%!PS-Adobe-", None, False, "application/postscript"),
    (b"\xfe\xff\x00\x00", b"\xff\xff\x00\x00", False, "text/plain; charset=utf-16be"),
    (b"\xff\xfe\x00\x00", b"\xff\xff\x00\x00", False, "text/plain; charset=utf-16le"),
    (b"\xef\xbb\xbf\x00", b"\xff\xff\xff\x00", False, "text/plain; charset=utf-8"),
    (b"\x00\x00\x01\x00", None, False, "image/x-icon"),
    (b"\x00\x00\x02\x00", None, False, "image/x-icon"),
    (b"BM", None, False, "image/bmp"),
    (b"GIF87a", None, False, "image/gif"),
    (b"GIF89a", None, False, "image/gif"),
    (b"RIFF\x00\x00\x00\x00WEBPVP", b"\xff\xff\xff\xff\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff", False, "image/webp"),
    (b"\x89PNG\r\n\x1a\n", None, False, "image/png"),
    (b"\xff\xd8\xff", None, False, "image/jpeg"),
    (b"FORM\x00\x00\x00\x00AIFF", b"\xff\xff\xff\xff\x00\x00\x00\x00\xff\xff\xff\xff", False, "audio/aiff"),
    (b"ID3", None, False, "audio/mpeg"),
    (b"OggS\x00", None, False, "application/ogg"),
    (b"MThd\x00\x00\x00\x06", None, False, "audio/midi"),
    (b"RIFF\x00\x00\x00\x00AVI ", b"\xff\xff\xff\xff\x00\x00\x00\x00\xff\xff\xff\xff", False, "video/avi"),
    (b"RIFF\x00\x00\x00\x00WAVE", b"\xff\xff\xff\xff\x00\x00\x00\x00\xff\xff\xff\xff", False, "audio/wave"),
    (b"\x1a\x45\xdf\xa3", None, False, "video/webm"),
    (b"\x00" * 34 + b"LP", b"\x00" * 34 + b"\xff\xff", False, "application/vnd.ms-fontobject"),
    (b"\x00\x01\x00\x00", None, False, "font/ttf"),
    (b"OTTO", None, False, "font/otf"),
    (b"ttcf", None, False, "font/collection"),
    (b"wOFF", None, False, "font/woff"),
    (b"wOF2", None, False, "font/woff2"),
    (b"\x1f\x8b\x08", None, False, "application/x-gzip"),
    (b"PK\x03\x04", None, False, "application/zip"),
    (b"Rar!\x1a\x07\x00", None, False, "application/x-rar-compressed"),
    (b"Rar!\x1a\x07\x01\x00", None, False, "application/x-rar-compressed"),
    (b"\x00asm", None, False, "application/wasm"),
)
_BINARY = frozenset([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20)])


def _is_mp4(data: bytes) -> bool:
    if len(data) < 12:
        return False
    box = int.from_bytes(data[:4], "big")
    if len(data) < box or box % 4 or data[4:8] != b"ftyp":
        return False
    return any(data[st:st + 3] == b"mp4" for st in range(8, box, 4) if st != 12)


def sniff_content_type(data: bytes) -> str:
    """Go's ``http.DetectContentType``, signature by signature, in its order."""
    data = data[:512]
    rest = data.lstrip(b"\t\n\x0c\r ")
    for tag in _HTML_TAGS:
        if len(rest) > len(tag) and rest[:len(tag)].upper() == tag and rest[len(tag)] in b" >":
            return "text/html; charset=utf-8"
    for pattern, mask, skip_ws, kind in _SIGNATURES:
        seen = rest if skip_ws else data
        if mask is None:
            if seen.startswith(pattern):
                return kind
        elif len(seen) >= len(pattern) and all(seen[i] & mask[i] == pattern[i] for i in range(len(pattern))):
            return kind
        if kind == "audio/wave" and _is_mp4(data):  # Go checks mp4 right after wave
            return "video/mp4"
    if not any(b in _BINARY for b in rest):
        return "text/plain; charset=utf-8"
    return "application/octet-stream"


