"""Start barge's registry server for tests: a real ``barge registry serve``
process on 127.0.0.1 and a free port, storage under the caller's temp dir.

    url, proc = start_registry(tmp_path, auth="token", users={"user": "pass"})
    try: ...
    finally: stop_registry(proc)

``url`` is ``http://127.0.0.1:<port>`` (``https`` with ``tls=(cert, key)``).
The port comes from the server itself (``--addr 127.0.0.1:0``; it prints the
address it got), so there is no race for a free port. The server's log is
``<tmp_path>/registry.log``; storage is ``<tmp_path>/registry`` unless
``root`` is given. Users are written to ``<tmp_path>/htpasswd`` with bcrypt,
as ``htpasswd -B`` writes them.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import bcrypt

START_TIMEOUT = 20.0
DEFAULT_USERS = {"user": "pass"}


def write_htpasswd(path: Path, users: dict[str, str]) -> Path:
    lines = []
    for user, password in users.items():
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()
        lines.append(f"{user}:$2y${hashed[4:]}")  # htpasswd -B writes the $2y$ prefix
    path.write_text("\n".join(lines) + "\n")
    return path


def start_registry(tmp_path: Path, auth: str = "none", users: dict[str, str] | None = None,
                   root: Path | None = None, tls: tuple[Path, Path] | None = None,
                   extra_args: list[str] | tuple[str, ...] = ()) -> tuple[str, subprocess.Popen]:
    """Start the server; return its base URL and process (stop it with :func:`stop_registry`)."""
    tmp_path = Path(tmp_path)
    root = Path(root) if root is not None else tmp_path / "registry"
    args = [sys.executable, "-m", "barge", "registry", "serve", "--addr", "127.0.0.1:0", "--root", str(root),
            "--auth", auth]
    if auth != "none":
        args += ["--htpasswd", str(write_htpasswd(tmp_path / "htpasswd", users or DEFAULT_USERS))]
    if tls is not None:
        args += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
    args += list(extra_args)
    log = open(tmp_path / "registry.log", "ab")
    try:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
    finally:
        log.close()
    deadline = time.monotonic() + START_TIMEOUT
    line = b""
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        ready = select.select([proc.stdout], [], [], max(remaining, 0))[0] if remaining > 0 else []
        chunk = os.read(proc.stdout.fileno(), 4096) if ready else b""
        if not chunk:
            stop_registry(proc)
            raise RuntimeError(f"registry did not start: {(tmp_path / 'registry.log').read_text()[-2000:]}")
        line += chunk
    url = line.decode().strip().rsplit(" ", 1)[-1]
    return url, proc


def stop_registry(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout``; by PID, this process only."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
