"""Rendering lists of rows with ``--format``, as docker's formatter package does.

A format is ``table`` (the command's default columns), ``table <template>``
(a header row from the field names, columns aligned by tabwriter),
``json`` (``{{json .}}`` per row) or a bare template (one line per row).
Literal ``\\t`` and ``\\n`` typed in a format become tab and newline.
"""

from __future__ import annotations

import time
from typing import Any, Iterable

from barge.client import units
from barge.client.reference import split as split_reference
from barge.client.tabwriter import align
from barge.client.templates import NO_VALUE, Struct, Template, TemplateError

TABLE = "table"
JSON = "json"


class FormatError(Exception):
    """A bad ``--format``: printed as ``template parsing error: ...``."""


def is_table(fmt: str) -> bool:
    return fmt.startswith(TABLE)


def _prepare(fmt: str) -> str:
    if fmt.startswith(TABLE):
        fmt = fmt[len(TABLE):]
    fmt = fmt.strip(" ")
    return fmt.replace("\\t", "\t").replace("\\n", "\n")


def parse_template(fmt: str) -> Template:
    try:
        return Template(fmt)
    except TemplateError as exc:
        raise FormatError(f"template parsing error: {exc}") from None


def render(fmt: str, rows: Iterable[Any], default_table: str, headers: dict[str, str]) -> str:
    """Render ``rows`` with ``fmt`` (``""`` means the command's default table)."""
    if fmt in ("", TABLE):
        fmt = default_table
    elif fmt == JSON:
        fmt = "{{json .}}"
    table = is_table(fmt)
    tmpl = parse_template(_prepare(fmt))
    body: list[str] = []
    for row in rows:
        try:
            body.append(tmpl.execute(row) + "\n")
        except TemplateError as exc:
            raise FormatError(f"template parsing error: {exc}") from None
    if not table:
        return "".join(body)
    header_funcs = {name: (lambda *a: "") for name in ("json", "split", "join", "title", "lower", "upper", "pad", "truncate")}
    header_funcs.update({"json": lambda v: v, "lower": lambda v: v, "upper": lambda v: v, "title": lambda v: v})
    try:
        header = Template(_prepare(fmt), funcs=header_funcs).execute(headers)
    except TemplateError:
        header = ""
    return align(header + "\n" + "".join(body), minwidth=10, padding=3)


def render_one(fmt: str, value: Any) -> str:
    """One value through a template (``inspect -f``, ``version -f``), plus newline."""
    tmpl = parse_template(_prepare(fmt))
    try:
        return tmpl.execute(value) + "\n"
    except TemplateError as exc:
        raise FormatError(f"template parsing error: {exc}") from None


# ---------------------------------------------------------------- images

IMAGE_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
IMAGE_TABLE_DIGESTS = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
IMAGE_QUIET = "{{.ID}}"
IMAGE_HEADERS = {
    "ID": "IMAGE ID",
    "Repository": "REPOSITORY",
    "Tag": "TAG",
    "Digest": "DIGEST",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "Size": "SIZE",
    "Containers": "CONTAINERS",
    "SharedSize": "SHARED SIZE",
    "UniqueSize": "UNIQUE SIZE",
    "VirtualSize": "VIRTUAL SIZE",
}


def _created_at(ts: int) -> str:
    """Go's ``time.Time.String()`` of a unix time, in local time."""
    t = time.localtime(ts)
    offset = time.strftime("%z", t)
    return time.strftime("%Y-%m-%d %H:%M:%S ", t) + f"{offset} {time.strftime('%Z', t)}"


class ImageRow(Struct):
    """One line of ``barge images``: an image under one repository and tag."""

    GO_TYPE = "*formatter.imageContext"
    FIELDS = ("Containers", "CreatedAt", "CreatedSince", "Digest", "ID", "Repository",
              "SharedSize", "Size", "Tag", "UniqueSize", "VirtualSize")

    def __init__(self, image: dict, repo: str, tag: str, digest: str, trunc: bool, now: float):
        self.image, self.Repository, self.Tag, self.Digest = image, repo, tag, digest
        self.trunc, self.now = trunc, now

    @property
    def ID(self) -> str:
        image_id = self.image.get("Id", "")
        return units.truncate_id(image_id) if self.trunc else image_id

    @property
    def CreatedSince(self) -> str:
        return units.since(self.image.get("Created", 0), self.now)

    @property
    def CreatedAt(self) -> str:
        return _created_at(self.image.get("Created", 0))

    @property
    def Size(self) -> str:
        return units.human_size(self.image.get("Size", 0), 3)

    @property
    def VirtualSize(self) -> str:
        return units.human_size(self.image.get("VirtualSize", self.image.get("Size", 0)), 3)

    @property
    def SharedSize(self) -> str:
        shared = self.image.get("SharedSize", -1)
        return "N/A" if shared is None or shared < 0 else units.human_size(shared, 3)

    @property
    def UniqueSize(self) -> str:
        shared = self.image.get("SharedSize", -1)
        if shared is None or shared < 0:
            return "N/A"
        return units.human_size(self.image.get("Size", 0) - shared, 3)

    @property
    def Containers(self) -> str:
        count = self.image.get("Containers", -1)
        return "N/A" if count is None or count < 0 else str(count)


def _familiar(repo: str) -> str:
    for prefix in ("docker.io/library/", "docker.io/"):
        if repo.startswith(prefix):
            return repo[len(prefix):]
    return repo


def _dangling(image: dict) -> bool:
    tags = image.get("RepoTags") or []
    digests = image.get("RepoDigests") or []
    if not tags and not digests:
        return True
    return tags == ["<none>:<none>"] and digests == ["<none>@<none>"]


def image_rows(images: list[dict], digests: bool = False, trunc: bool = True, now: float | None = None) -> list[ImageRow]:
    """Expand image summaries into display rows, one per repository and tag."""
    now = time.time() if now is None else now
    rows: list[ImageRow] = []
    for image in images:
        if _dangling(image):
            rows.append(ImageRow(image, "<none>", "<none>", "<none>", trunc, now))
            continue
        tags: dict[str, list[str]] = {}
        for ref in image.get("RepoTags") or []:
            repo, tag, _ = split_reference(ref)
            if tag and repo != "<none>":
                tags.setdefault(_familiar(repo), []).append(tag)
        by_digest: dict[str, list[str]] = {}
        for ref in image.get("RepoDigests") or []:
            repo, _, digest = split_reference(ref)
            if digest and repo != "<none>":
                by_digest.setdefault(_familiar(repo), []).append(digest)
        for repo, repo_tags in tags.items():
            # Digests of a tagged repository never get rows of their own.
            repo_digests = by_digest.pop(repo, [])
            if not digests:
                repo_digests = []
            for tag in repo_tags:
                if not repo_digests:
                    rows.append(ImageRow(image, repo, tag, "<none>", trunc, now))
                for digest in repo_digests:
                    rows.append(ImageRow(image, repo, tag, digest, trunc, now))
        for repo, repo_digests in by_digest.items():
            if digests:
                rows.extend(ImageRow(image, repo, "<none>", d, trunc, now) for d in repo_digests)
            else:
                rows.append(ImageRow(image, repo, "<none>", "<none>", trunc, now))
    return rows


# ---------------------------------------------------------------- history

HISTORY_TABLE = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
HISTORY_HEADERS = {
    "ID": "IMAGE",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "CreatedBy": "CREATED BY",
    "Size": "SIZE",
    "Comment": "COMMENT",
}


class HistoryRow(Struct):
    GO_TYPE = "*image.historyContext"
    FIELDS = ("Comment", "CreatedAt", "CreatedBy", "CreatedSince", "ID", "Size")

    def __init__(self, item: dict, trunc: bool, human: bool, now: float):
        self.item, self.trunc, self.human, self.now = item, trunc, human, now

    @property
    def ID(self) -> str:
        image_id = self.item.get("Id", "")
        return units.truncate_id(image_id) if self.trunc and image_id.startswith("sha256:") else image_id

    @property
    def CreatedSince(self) -> str:
        if not self.human:
            return self.CreatedAt
        return units.since(self.item.get("Created", 0), self.now)

    @property
    def CreatedAt(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.item.get("Created", 0))) + _rfc3339_zone(
            self.item.get("Created", 0)
        )

    @property
    def CreatedBy(self) -> str:
        text = (self.item.get("CreatedBy") or "").replace("\t", " ")
        return units.ellipsis(text, 45) if self.trunc else text

    @property
    def Size(self) -> str:
        size = self.item.get("Size", 0)
        return units.human_size(size, 3) if self.human else str(size)

    @property
    def Comment(self) -> str:
        return self.item.get("Comment") or ""


def _rfc3339_zone(ts: int) -> str:
    offset = time.strftime("%z", time.localtime(ts))
    if offset in ("+0000", "-0000", ""):
        return "Z"
    return f"{offset[:3]}:{offset[3:]}"


def history_rows(items: list[dict], trunc: bool = True, human: bool = True, now: float | None = None) -> list[HistoryRow]:
    now = time.time() if now is None else now
    return [HistoryRow(item, trunc, human, now) for item in items]


# ---------------------------------------------------------------- plain tables

def simple_table(headers: list[str], rows: Iterable[Iterable[Any]]) -> str:
    """Header and rows joined by tabs and aligned like docker's tables."""
    lines = ["\t".join(headers)] + ["\t".join("" if v is None or v is NO_VALUE else str(v) for v in row) for row in rows]
    return align("\n".join(lines) + "\n", minwidth=10, padding=3)
