"""Container calls of the Engine API, with the queries the docker client sends
(vendor/github.com/docker/docker/client/container_*.go): a flag that is off
is left out of the query, never sent as ``0``.

Mixed into :class:`barge.client.api.Client`, which supplies ``request``,
``get_json``, ``api_version`` and ``endpoint``.
"""

from __future__ import annotations

import json
import socket
from typing import Any

from barge.client import hijack as _hijack
from barge.client.errors import ClientError


def _flag(value: bool) -> str | None:
    return "1" if value else None


class Waiter:
    """A ``wait`` whose headers have arrived; :meth:`result` reads the body
    (``{"StatusCode": N, "Error": {"Message": ...} | null}``) when it comes."""

    def __init__(self, response):
        self.response = response

    def result(self) -> dict:
        try:
            data = self.response.json()
        except (OSError, ValueError) as exc:
            raise ClientError(f"error waiting for container: {exc}") from None
        if not isinstance(data, dict):
            raise ClientError("error waiting for container: the daemon closed the connection")
        return data

    def close(self) -> None:
        """Drop the wait; safe while another thread blocks in :meth:`result`
        (the socket is shut down, which wakes it, instead of closed under it)."""
        sock = getattr(self.response.raw, "_barge_sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        else:
            self.response.close()


class ContainerAPI:
    """One method per container endpoint."""

    # ------------------------------------------------------------ create/start
    def create_container(self, body: dict, name: str | None = None, platform: str | None = None) -> dict:
        """``POST /containers/create``: ``{"Id", "Warnings"}``. ``body`` is the
        flattened Config plus ``HostConfig`` and ``NetworkingConfig``."""
        query = {"name": name or None, "platform": platform or None}
        data = json.dumps(body).encode()
        return self.request("POST", "/containers/create", query, data, {"Content-Type": "application/json"}).json()

    def start(self, container: str) -> None:
        self.request("POST", f"/containers/{_q(container)}/start").close()

    def wait(self, container: str, condition: str | None = None) -> Waiter:
        """Send ``wait`` and return once its headers are in: the daemon now
        watches for the exit, so the caller may start the container."""
        query = {"condition": condition or None}
        return Waiter(self.request("POST", f"/containers/{_q(container)}/wait", query))

    def attach(self, container: str, stdin: bool = False, stdout: bool = True, stderr: bool = True,
               stream: bool = True, logs: bool = False, detach_keys: str | None = None) -> _hijack.HijackedConnection:
        """``POST /containers/{id}/attach`` upgraded to a raw connection."""
        query = {
            "stream": _flag(stream), "stdin": _flag(stdin), "stdout": _flag(stdout),
            "stderr": _flag(stderr), "detachKeys": detach_keys or None, "logs": _flag(logs),
        }
        path = f"/v{self.api_version}/containers/{_q(container)}/attach"
        return _hijack.hijack(self.endpoint, "POST", path, query)

    def resize(self, container: str, height: int, width: int) -> None:
        self.request("POST", f"/containers/{_q(container)}/resize", {"h": str(height), "w": str(width)}).close()

    # ------------------------------------------------------------ lifecycle
    def stop(self, container: str, timeout: int | None = None, signal: str | None = None) -> None:
        query = {"t": None if timeout is None else str(timeout), "signal": signal or None}
        self.request("POST", f"/containers/{_q(container)}/stop", query).close()

    def restart(self, container: str, timeout: int | None = None, signal: str | None = None) -> None:
        query = {"t": None if timeout is None else str(timeout), "signal": signal or None}
        self.request("POST", f"/containers/{_q(container)}/restart", query).close()

    def kill(self, container: str, signal: str | None = None) -> None:
        self.request("POST", f"/containers/{_q(container)}/kill", {"signal": signal or None}).close()

    def pause(self, container: str) -> None:
        self.request("POST", f"/containers/{_q(container)}/pause").close()

    def unpause(self, container: str) -> None:
        self.request("POST", f"/containers/{_q(container)}/unpause").close()

    def remove_container(self, container: str, force: bool = False, volumes: bool = False, link: bool = False) -> None:
        query = {"v": _flag(volumes), "link": _flag(link), "force": _flag(force)}
        self.request("DELETE", f"/containers/{_q(container)}", query).close()

    def rename(self, container: str, name: str) -> None:
        self.request("POST", f"/containers/{_q(container)}/rename", {"name": name}).close()

    def update(self, container: str, body: dict) -> dict:
        data = json.dumps(body).encode()
        return self.request(
            "POST", f"/containers/{_q(container)}/update", None, data, {"Content-Type": "application/json"}
        ).json() or {}

    # ------------------------------------------------------------ reading
    def containers(self, all: bool = False, limit: int = -1, size: bool = False,
                   filters: dict[str, list[str]] | None = None) -> list[dict]:
        query: dict[str, Any] = {"all": _flag(all), "limit": str(limit) if limit > 0 else None, "size": _flag(size)}
        if filters:
            query["filters"] = json.dumps({k: {v: True for v in vs} for k, vs in filters.items()})
        return self.get_json("/containers/json", query)

    def inspect_container(self, container: str, size: bool = False) -> dict:
        return self.get_json(f"/containers/{_q(container)}/json", {"size": _flag(size)})

    def top(self, container: str, ps_args: list[str] | None = None) -> dict:
        query = {"ps_args": " ".join(ps_args) if ps_args else None}
        return self.get_json(f"/containers/{_q(container)}/top", query)

    def logs(self, container: str, stdout: bool = True, stderr: bool = True, follow: bool = False,
             since: str | None = None, until: str | None = None, timestamps: bool = False,
             tail: str = "all", details: bool = False):
        """The log stream (a :class:`~barge.client.api.Response`): framed
        unless the container has a TTY. ``since``/``until`` are already in
        the API's ``seconds.nanoseconds`` form (see :func:`timestamp`)."""
        query = {
            "stdout": _flag(stdout), "stderr": _flag(stderr), "since": since or None, "until": until or None,
            "timestamps": _flag(timestamps), "details": _flag(details), "follow": _flag(follow), "tail": tail,
        }
        return self.request("GET", f"/containers/{_q(container)}/logs", query)

    def stats(self, container: str, stream: bool = True):
        """``GET /containers/{id}/stats?stream=0|1``: a JSON object stream."""
        return self.request("GET", f"/containers/{_q(container)}/stats", {"stream": "1" if stream else "0"})

    # ------------------------------------------------------------ exec
    def exec_create(self, container: str, body: dict) -> str:
        """``POST /containers/{id}/exec``: the new exec's id."""
        data = json.dumps(body).encode()
        answer = self.request("POST", f"/containers/{_q(container)}/exec", None, data,
                              {"Content-Type": "application/json"}).json() or {}
        if not answer.get("Id"):
            raise ClientError("exec ID empty")
        return answer["Id"]

    def exec_start(self, exec_id: str, detach: bool = False, tty: bool = False,
                   console_size: tuple[int, int] | None = None):
        """``POST /exec/{id}/start``: hijacked (``101``) unless detached."""
        body: dict[str, Any] = {"Detach": detach, "Tty": tty}
        if console_size and any(console_size):
            body["ConsoleSize"] = [console_size[0], console_size[1]]
        data = json.dumps(body).encode()
        if detach:
            self.request("POST", f"/exec/{_q(exec_id)}/start", None, data, {"Content-Type": "application/json"}).close()
            return None
        path = f"/v{self.api_version}/exec/{_q(exec_id)}/start"
        return _hijack.hijack(self.endpoint, "POST", path, None, data, content_type="application/json")

    def exec_inspect(self, exec_id: str) -> dict:
        return self.get_json(f"/exec/{_q(exec_id)}/json")

    def exec_resize(self, exec_id: str, height: int, width: int) -> None:
        self.request("POST", f"/exec/{_q(exec_id)}/resize", {"h": str(height), "w": str(width)}).close()

    # ------------------------------------------------------------ images
    def pull(self, from_image: str, tag: str | None = None, platform: str | None = None):
        """``POST /images/create?fromImage=`` (progress messages)."""
        from barge.client import credentials
        from barge.reference import parse

        query = {"fromImage": from_image, "tag": tag or None, "platform": platform or None}
        header = credentials.ConfigFile.load_or_warn().header_for(credentials.auth_key(parse(from_image).domain))
        return self.request("POST", "/images/create", query, None, {"X-Registry-Auth": header})


def _q(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")
