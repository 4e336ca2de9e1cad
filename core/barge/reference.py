"""Image references as Docker spells them (distribution/reference).

``busybox`` means ``docker.io/library/busybox``; a name without tag or digest
gets the tag ``latest`` where a tag is needed. Errors carry Docker's messages,
because scripts and the docker CLI show them verbatim. Pure and fast to
import: the CLI uses it too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from barge.errors import InvalidParameter

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEP = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEP}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REMOTE = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_NAME = rf"(?:{_DOMAIN}/)?{_REMOTE}"

_REFERENCE_RE = re.compile(rf"^({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?$")
_SPLIT_NAME_RE = re.compile(rf"^(?:({_DOMAIN})/)?({_REMOTE})$")
_TAG_RE = re.compile(rf"^{_TAG}$")
_HEX64_RE = re.compile(r"^[a-f0-9]{64}$")
_ID_PREFIX_RE = re.compile(r"^(?:sha256:)?[a-f0-9]{1,64}$")

INVALID_FORMAT = "invalid reference format"


@dataclass(frozen=True)
class Reference:
    """A normalised reference: ``domain/path[:tag][@digest]``."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """The full repository name, ``docker.io/library/busybox``."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """The short repository name users type, ``busybox``."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        if self.path.startswith(OFFICIAL_PREFIX) and "/" not in self.path[len(OFFICIAL_PREFIX):]:
            return self.path[len(OFFICIAL_PREFIX):]
        return self.path

    def _suffix(self) -> str:
        out = f":{self.tag}" if self.tag else ""
        return out + (f"@{self.digest}" if self.digest else "")

    def __str__(self) -> str:
        return self.name + self._suffix()

    def familiar(self) -> str:
        """``busybox:latest`` for ``docker.io/library/busybox:latest``."""
        return self.familiar_name + self._suffix()

    def with_default_tag(self) -> "Reference":
        """Docker's ``TagNameOnly``: add ``latest`` when neither tag nor digest is given."""
        if self.tag is None and self.digest is None:
            return Reference(self.domain, self.path, DEFAULT_TAG, None)
        return self


def _split_domain(name: str) -> tuple[str, str]:
    i = name.find("/")
    head = name[:i]
    if i == -1 or ("." not in head and ":" not in head and head != "localhost" and head.lower() == head):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = head, name[i + 1:]
    if domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_PREFIX + remainder
    return domain, remainder


def _check_digest(digest: str) -> None:
    algorithm, _, encoded = digest.partition(":")
    sizes = {"sha256": 64, "sha384": 96, "sha512": 128}
    if algorithm not in sizes:
        raise InvalidParameter("unsupported digest algorithm")
    if len(encoded) != sizes[algorithm]:
        raise InvalidParameter("invalid checksum digest length")
    if not re.fullmatch(r"[a-f0-9]+", encoded):
        raise InvalidParameter("invalid checksum digest format")


def _parse_full(s: str) -> Reference:
    """distribution/reference ``Parse`` of an already normalised string."""
    m = _REFERENCE_RE.match(s)
    if m is None:
        if not s:
            raise InvalidParameter(f"{INVALID_FORMAT}: repository name must have at least one component")
        if _REFERENCE_RE.match(s.lower()):
            raise InvalidParameter(f"{INVALID_FORMAT}: repository name must be lowercase")
        raise InvalidParameter(INVALID_FORMAT)
    name, tag, digest = m.group(1), m.group(2), m.group(3)
    if len(name) > NAME_MAX:
        raise InvalidParameter(f"{INVALID_FORMAT}: repository name must not be more than {NAME_MAX} characters")
    if digest:
        _check_digest(digest)
    split = _SPLIT_NAME_RE.match(name)
    domain, path = (split.group(1) or "", split.group(2)) if split else ("", name)
    return Reference(domain, path, tag, digest)


def parse(name: str) -> Reference:
    """Parse and normalise a user's reference (Docker's ``ParseNormalizedNamed``).

    No default tag is added; see :meth:`Reference.with_default_tag`.
    """
    if _HEX64_RE.match(name):
        raise InvalidParameter(
            f"invalid repository name ({name}), cannot specify 64-byte hexadecimal strings"
        )
    domain, remainder = _split_domain(name)
    remote = remainder.split(":", 1)[0] if ":" in remainder else remainder
    remote = remote.split("@", 1)[0]
    if remote.lower() != remote:
        raise InvalidParameter(f"{INVALID_FORMAT}: repository name ({remote}) must be lowercase")
    ref = _parse_full(f"{domain}/{remainder}")
    if not ref.domain:  # cannot happen after _split_domain, kept for safety
        raise InvalidParameter(INVALID_FORMAT)
    return ref


def parse_tagged(name: str) -> Reference:
    """Parse ``name`` and add the default tag when it has neither tag nor digest."""
    return parse(name).with_default_tag()


def parse_repo_and_tag(repo: str, tag: str | None) -> Reference:
    """``docker tag``'s target: a repository (no tag/digest) plus a tag (default latest)."""
    ref = parse(repo)
    if ref.digest is not None:
        raise InvalidParameter("refusing to create a tag with a digest reference")
    if tag:
        if not _TAG_RE.match(tag):
            raise InvalidParameter("invalid tag format")  # distribution's ErrTagInvalidFormat, as dockerd says it
        return Reference(ref.domain, ref.path, tag, None)
    return ref.with_default_tag()


def is_image_id_prefix(s: str) -> bool:
    """Whether ``s`` could name an image by (a prefix of) its ID, with or without ``sha256:``."""
    return bool(_ID_PREFIX_RE.match(s))


def is_full_id(s: str) -> bool:
    """A full image ID: 64 hex, optionally prefixed by ``sha256:``."""
    return bool(_HEX64_RE.match(s[7:] if s.startswith("sha256:") else s))


def short_id(image_id: str) -> str:
    """The 12-hex short form Docker prints (``stringid.TruncateID``)."""
    hex_part = image_id.split(":", 1)[-1]
    return hex_part[:12]


def familiar(full: str) -> str:
    """Familiar form of a stored full reference string."""
    return parse(full).familiar()
