"""Attached streams outside ``run``: ``start -a/-i`` and ``attach``, plus the
pieces all three share (watching for the exit, TTY resizing, the event
queue the main thread waits on so signal handlers keep running).

Flows as docker's start.go and attach.go.
"""

from __future__ import annotations

import queue
import sys
import threading
import time


def resize_loop(api, container_id: str, exec_id: str | None = None) -> None:
    """docker's ``initTtySize``: resize now (the container's TTY, or an
    exec's), retry up to 10 times if refused."""
    import time

    from barge.client.errors import ClientError
    from barge.client.term import size

    def attempt() -> bool:
        height, width = size(sys.stdout)
        if height == 0 and width == 0:
            return True
        try:
            if exec_id:
                api.exec_resize(exec_id, height, width)
            else:
                api.resize(container_id, height, width)
            return True
        except (ClientError, OSError):
            return False

    if attempt():
        return

    def retry() -> None:
        for n in range(10):
            time.sleep((n + 1) * 0.01)
            if attempt():
                return
        sys.stderr.write("failed to resize tty, using default size\n")

    threading.Thread(target=retry, daemon=True).start()


class Events:
    """What the main thread waits for: ("stream", error) when the output
    ended, ("status", code) when the container did, in whatever order they
    come. Waiting for one kind keeps the others for later."""

    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue()
        self._held: list[tuple] = []

    def put(self, event: tuple) -> None:
        self._queue.put(event)

    def next(self, kind: str | None = None, timeout: float | None = None) -> tuple:
        """The next event (of ``kind``); ``(kind, None)`` after ``timeout``.
        The wait is a lock wait, which Python interrupts for signal handlers."""
        for i, event in enumerate(self._held):
            if kind is None or event[0] == kind:
                return self._held.pop(i)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                event = self._queue.get(timeout=remaining)
            except queue.Empty:
                return (kind, None)
            if kind is None or event[0] == kind:
                return event
            self._held.append(event)


def next_event(events: Events, kind: str | None = None, timeout: float | None = None) -> tuple:
    return events.next(kind, timeout)


class ExitWatch:
    """docker's ``waitExitOrRemoved``: the wait request is sent (and its
    headers read) when this is made; the status arrives on ``events`` as
    ("status", code), 125 if waiting failed. :meth:`close` drops the wait
    quietly when the caller is done (detached, or start failed)."""

    def __init__(self, api, container_id: str, auto_remove: bool, events: Events):
        from barge.client.errors import ClientError

        self.events = events
        self.closed = threading.Event()
        self.waiter = None
        try:
            self.waiter = api.wait(container_id, "removed" if auto_remove else "next-exit")
        except ClientError as exc:
            self._report(f"error waiting for container: {exc}", 125)
            return
        threading.Thread(target=self._read, name="barge-wait", daemon=True).start()

    def _report(self, message: str | None, code: int) -> None:
        if self.closed.is_set():
            return
        if message:
            sys.stderr.write(message + "\n")
            sys.stderr.flush()
        self.events.put(("status", code))

    def _read(self) -> None:
        from barge.client.errors import ClientError

        try:
            result = self.waiter.result()
        except Exception as exc:  # noqa: BLE001 - closed under us, or a real failure
            if not isinstance(exc, ClientError) and self.closed.is_set():
                return
            self._report(str(exc), 125)
            return
        error = result.get("Error")
        if error and error.get("Message"):
            self._report(f"Error waiting for container: {error['Message']}", 125)
            return
        self._report(None, int(result.get("StatusCode", 0)))

    def close(self) -> None:
        self.closed.set()
        if self.waiter is not None:
            self.waiter.close()


def stream_in_thread(streamer, events: Events) -> None:
    def stream() -> None:
        try:
            streamer.wait()
            events.put(("stream", None))
        except Exception as exc:  # noqa: BLE001 - handed to the main thread
            events.put(("stream", exc))

    threading.Thread(target=stream, name="barge-stream", daemon=True).start()


def configured_detach_keys() -> str:
    """config.json's ``detachKeys``, the docker CLI's default when ``--detach-keys`` is not given."""
    from barge.client.credentials import ConfigFile, CredentialsError

    try:
        return ConfigFile.load().detach_keys
    except CredentialsError:
        return ""  # a broken file is reported by the commands that need its credentials


def start_attached(api, name: str, interactive: bool, detach_keys: str) -> int:
    """``start -a [-i]``: attach, watch the exit, start, stream; the exit code."""
    from barge.client.attach import Detached, Streamer
    from barge.client.errors import ClientError
    from barge.client.runconfig import DEFAULT_DETACH_KEYS, parse_detach_keys
    from barge.client.signals import SignalRouter
    from barge.client.term import is_terminal

    info = api.inspect_container(name)
    cid = info["Id"]
    config = info.get("Config") or {}
    tty = bool(config.get("Tty"))
    keys = parse_detach_keys(detach_keys) if detach_keys else DEFAULT_DETACH_KEYS
    want_in = interactive and bool(config.get("OpenStdin"))
    resizing = tty and is_terminal(sys.stdout)
    started = threading.Event()

    def forward(sig: str) -> None:
        try:
            api.kill(cid, sig)
        except ClientError:
            pass

    events = Events()
    with SignalRouter(None if tty else forward, (lambda: started.is_set() and resize_loop(api, cid)) if resizing else None):
        conn = api.attach(cid, stdin=want_in, stdout=True, stderr=True, stream=True, detach_keys=detach_keys or None)
        streamer = Streamer(conn, sys.stdin if want_in else None, sys.stdout, sys.stderr, tty, keys)
        streamer.start()
        stream_in_thread(streamer, events)
        watch = ExitWatch(api, cid, bool((info.get("HostConfig") or {}).get("AutoRemove")), events)
        try:
            api.start(cid)
        except ClientError:
            streamer.cancel()
            if (info.get("HostConfig") or {}).get("AutoRemove"):
                next_event(events, "status", timeout=30)
            watch.close()
            raise
        started.set()
        if resizing:
            resize_loop(api, cid)
        error = next_event(events, "stream")[1]
        conn.close()
        if isinstance(error, Detached):
            watch.close()
            return 0
        if error is not None:
            watch.close()
            raise error
        return next_event(events, "status")[1] or 0


def attach_running(api, name: str, no_stdin: bool, sig_proxy: bool, detach_keys: str) -> int:
    """``attach``: stream a running container's stdio until it ends.

    Long on purpose: docker's ``attach`` in its order (check, attach, resize,
    signal proxy, wait for the stream or the exit), one clean-up for all.
    """
    from barge.cli.common import fail
    from barge.client.attach import Streamer
    from barge.client.errors import ClientError
    from barge.client.runconfig import DEFAULT_DETACH_KEYS, parse_detach_keys
    from barge.client.signals import SignalRouter
    from barge.client.term import is_terminal, size

    waiter = api.wait(name)

    def check() -> dict:
        info = api.inspect_container(name)
        state = info.get("State") or {}
        if not state.get("Running"):
            raise fail("You cannot attach to a stopped container, start it first")
        if state.get("Paused"):
            raise fail("You cannot attach to a paused container, unpause it first")
        if state.get("Restarting"):
            raise fail("You cannot attach to a restarting container, wait until it is running")
        return info

    try:
        info = check()
    except BaseException:
        waiter.close()
        raise
    cid = info["Id"]
    config = info.get("Config") or {}
    tty = bool(config.get("Tty"))
    if tty and not no_stdin and not is_terminal(sys.stdin):
        waiter.close()
        raise fail("the input device is not a TTY")
    keys = parse_detach_keys(detach_keys) if detach_keys else DEFAULT_DETACH_KEYS
    want_in = not no_stdin and bool(config.get("OpenStdin"))
    resizing = tty and is_terminal(sys.stdout)

    def forward(sig: str) -> None:
        try:
            api.kill(cid, sig)
        except ClientError:
            pass

    with SignalRouter(forward if sig_proxy and not tty else None, (lambda: resize_loop(api, cid)) if resizing else None):
        conn = api.attach(cid, stdin=want_in, stdout=True, stderr=True, stream=True, detach_keys=detach_keys or None)
        try:
            check()
        except BaseException:
            conn.close()
            raise
        if resizing:
            # docker resizes to one more row and column first, so a shell
            # redraws its prompt on every attach, then to the real size.
            height, width = size(sys.stdout)
            try:
                api.resize(cid, height + 1, width + 1)
            except ClientError:
                pass
            resize_loop(api, cid)
        streamer = Streamer(conn, sys.stdin if want_in else None, sys.stdout, sys.stderr, tty, keys)
        streamer.start()
        try:
            streamer.wait()  # Detached propagates: docker prints "read escape sequence", exit 1
        finally:
            conn.close()
    result = waiter.result()
    error = result.get("Error")
    if error and error.get("Message"):
        raise fail(error["Message"])
    return int(result.get("StatusCode", 0))


def exec_in(api, container: str, body: dict, detach: bool, detach_keys: str) -> int:
    """docker's ``RunExec``: inspect (so "no such container" comes first),
    create the exec, then start it detached or attached; the exit code is
    the exec's, read from ``GET /exec/{id}/json`` after the stream ends."""
    from barge.client.attach import Streamer
    from barge.client.runconfig import DEFAULT_DETACH_KEYS, parse_detach_keys
    from barge.client.signals import SignalRouter
    from barge.client.term import is_terminal, size

    api.inspect_container(container)
    tty = bool(body.get("Tty"))
    if not detach and tty and body.get("AttachStdin") and not is_terminal(sys.stdin):
        from barge.cli.common import fail

        raise fail("the input device is not a TTY")
    keys = parse_detach_keys(detach_keys) if detach_keys else DEFAULT_DETACH_KEYS
    console = size(sys.stdout) if is_terminal(sys.stdout) else (0, 0)
    if any(console):
        body["ConsoleSize"] = [console[0], console[1]]
    exec_id = api.exec_create(container, body)
    if detach:
        api.exec_start(exec_id, detach=True, tty=tty, console_size=console)
        return 0
    conn = api.exec_start(exec_id, tty=tty, console_size=console)
    resizing = tty and is_terminal(sys.stdin)
    with SignalRouter(None, (lambda: resize_loop(api, container, exec_id)) if resizing else None):
        streamer = Streamer(conn, sys.stdin if body.get("AttachStdin") else None,
                            sys.stdout if body.get("AttachStdout") else None,
                            (sys.stdout if tty else sys.stderr) if body.get("AttachStderr") else None, tty, keys)
        streamer.start()
        if resizing:
            resize_loop(api, container, exec_id)
        try:
            streamer.wait()
        finally:
            conn.close()
    return int(api.exec_inspect(exec_id).get("ExitCode") or 0)
