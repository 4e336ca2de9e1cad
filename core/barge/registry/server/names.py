"""Repository names, tags and digests, validated as the distribution spec
spells them. Every path the storage builds comes from a value that passed
here, so no name can climb out of the storage root."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from barge.registry.server.errors import RegistryError

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
TAG_RE = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
#: distribution's limit on a whole repository name
NAME_MAX = 255

ALGORITHMS = {"sha256": 64, "sha512": 128}
DIGEST_RE = re.compile(r"(sha256|sha512):([a-f0-9]+)")


@dataclass(frozen=True)
class Digest:
    algorithm: str
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    def hasher(self):
        return hashlib.new(self.algorithm)


def check_name(name: str) -> str:
    if len(name) > NAME_MAX or not NAME_RE.fullmatch(name):
        raise RegistryError("NAME_INVALID", detail={"name": name})
    return name


def is_tag(ref: str) -> bool:
    return bool(TAG_RE.fullmatch(ref))


def parse_digest(text: str, code: str = "DIGEST_INVALID") -> Digest:
    m = DIGEST_RE.fullmatch(text or "")
    if not m or len(m.group(2)) != ALGORITHMS[m.group(1)]:
        raise RegistryError(code, f"invalid digest {text!r}", {"digest": text})
    return Digest(m.group(1), m.group(2))


def looks_like_digest(ref: str) -> bool:
    return ":" in ref


def digest_of(data: bytes, algorithm: str = "sha256") -> Digest:
    return Digest(algorithm, hashlib.new(algorithm, data).hexdigest())
