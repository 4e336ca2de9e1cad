"""ADD's URL sources: downloaded for every build (their checksum decides the cache), never unpacked.

As moby's ``downloadSource``: the file is named after the URL's last path
element (or the response's ``Content-Disposition``), made 0600, dated by
``Last-Modified``; progress goes to the build's output.
"""

from __future__ import annotations

import contextlib
import email.utils
import os
import posixpath
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from email.message import Message
from pathlib import Path
from typing import Iterator

from barge.builder.output import BuildOutput
from barge.builder.sources import CopyInfo, SourceRoot
from barge.errors import InvalidParameter

UNNAMED = "__unnamed__"
TIMEOUT = 60


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def filename_for(url: str, disposition: str) -> str:
    path = urllib.parse.urlsplit(url).path
    if path and not path.endswith("/"):
        name = posixpath.basename(path)
        if name:
            return name
    if disposition:
        msg = Message()
        msg["content-disposition"] = disposition
        name = msg.get_filename() or ""
        if name and not name.endswith("/"):
            return posixpath.basename(name)
    return ""


class Downloads:
    def __init__(self, tmp_dir: Path, out: BuildOutput, cancel: threading.Event):
        self.tmp_dir = tmp_dir
        self.out = out
        self.cancel = cancel

    is_url = staticmethod(is_url)

    @contextlib.contextmanager
    def fetch(self, url: str, dest: str) -> Iterator[CopyInfo]:
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        where = Path(tempfile.mkdtemp(prefix="add-", dir=self.tmp_dir))
        try:
            yield self._download(url, dest, where)
        finally:
            shutil.rmtree(where, ignore_errors=True)

    def _download(self, url: str, dest: str, where: Path) -> CopyInfo:
        try:
            response = urllib.request.urlopen(url, timeout=TIMEOUT)
        except urllib.error.HTTPError as exc:
            raise InvalidParameter(f"failed to GET {url} with status {exc.code}: {exc.reason}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise InvalidParameter(f"Get {url}: {getattr(exc, 'reason', exc)}") from None
        with response:
            name = filename_for(url, response.headers.get("Content-Disposition", ""))
            if not name:
                if dest.endswith("/"):
                    raise InvalidParameter(f"cannot determine filename for source {url}")
                name = UNNAMED
            target = where / name
            total = int(response.headers.get("Content-Length") or -1)
            done, last = 0, 0.0
            with open(target, "wb") as fh:
                while True:
                    if self.cancel.is_set():
                        raise InvalidParameter("Build cancelled")
                    chunk = response.read(1 << 20)
                    if not chunk:
                        break
                    fh.write(chunk)
                    done += len(chunk)
                    now = time.monotonic()
                    if done == total or now - last >= 0.1:  # moby's reader: at the end, else 10 a second
                        self.out.download_progress(done, total)
                        last = now
            self.out.stdout("\n")
            os.chmod(target, 0o600)
            modified = response.headers.get("Last-Modified")
            if modified:
                with contextlib.suppress(TypeError, ValueError, OverflowError):
                    when = email.utils.parsedate_to_datetime(modified).timestamp()
                    os.utime(target, (when, when))
        source = SourceRoot(where)
        return CopyInfo(source, name, source.hash(name), decompress=False)  # moby: no "file:" for a URL
