"""One HTTP POST that is over by a deadline: connecting, waiting and the whole read together.

A socket timeout bounds each read, not the request: a server that accepts and never answers costs the
timeout once per retry, and one that trickles a byte within every timeout holds the caller forever. Here a
watchdog timer shuts the connection's socket down at the deadline, which wakes a read blocked on it, so the
request ends then whatever the server does. Standard library only.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
import urllib.parse

MAX_ANSWER_BYTES = 64 * 1024 * 1024  # a completion is kilobytes; more is a broken or hostile server


class AnswerTooLarge(OSError):
    """The server sent more than :data:`MAX_ANSWER_BYTES`."""


class _Watchdog:
    """Shuts ``conn``'s socket down at ``deadline`` (a :func:`time.monotonic` value) unless cancelled first."""

    def __init__(self, conn: http.client.HTTPConnection, deadline: float) -> None:
        self.conn = conn
        self.fired = threading.Event()
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired.set()  # before reading conn.sock: a connect that finishes now still sees the flag
        sock = self.conn.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed

    def cancel(self) -> None:
        self._timer.cancel()


def post(url: str, data: bytes, headers: dict[str, str], deadline: float) -> tuple[int, bytes]:
    """POST ``data`` to ``url`` and read the whole answer before ``deadline`` (a :func:`time.monotonic` value).

    Returns:
        The status code and the body, whatever the status.

    Raises:
        TimeoutError: the deadline passed (connecting, waiting for the answer or reading it).
        OSError, http.client.HTTPException: the connection failed or broke first.
    """
    parts = urllib.parse.urlsplit(url)
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the deadline passed before the request")
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(parts.hostname or "", parts.port, timeout=left)  # the connect alone cannot outlast it
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    watchdog = _Watchdog(conn, deadline)
    try:
        conn.request("POST", path, body=data, headers=headers)
        if watchdog.fired.is_set():
            raise TimeoutError("the deadline passed while connecting")
        resp = conn.getresponse()
        body = resp.read(MAX_ANSWER_BYTES + 1)
        if watchdog.fired.is_set():  # a body read to a shut socket's end is cut, not complete
            raise TimeoutError("the deadline passed while reading the answer")
        if len(body) > MAX_ANSWER_BYTES:
            raise AnswerTooLarge(f"the answer is larger than {MAX_ANSWER_BYTES} bytes")
        return resp.status, body
    except (OSError, http.client.HTTPException) as err:
        if watchdog.fired.is_set() and not isinstance(err, TimeoutError):
            raise TimeoutError("the deadline passed while waiting for the answer") from err
        raise
    finally:
        watchdog.cancel()
        conn.close()
