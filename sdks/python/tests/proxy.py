"""A tiny TCP proxy between the SDK and the server, to break event streams on purpose.

``with CuttingProxy(server.base_url, cut_first_after=2) as proxy:`` listens on
127.0.0.1:<free port> and pipes every connection to the server, recording what the
client sent. The first connection is cut (both sockets closed) when the server starts
sending its ``cut_first_after + 1``-th event: the client has been sent the response
head, the opening message and ``cut_first_after`` events (0: none), and the rest of
what the server sent on it is dropped. Events are the messages with a ``data:`` line;
the opening message (``retry:``, ``id:``, ``: connected``) is not one. Later
connections are piped untouched.
"""

from __future__ import annotations

import re
import socket
import threading
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

_REQUEST_HEAD = re.compile(rb"[A-Z]+ [^\r\n]+\r\n(?:[^\r\n]+\r\n)*\r\n")


class CuttingProxy:
    def __init__(self, upstream: str, *, cut_first_after: int | None = None) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._cut_first_after = cut_first_after
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._lock = threading.Lock()
        self._sent: list[bytearray] = []
        self._sockets: list[socket.socket] = []
        self._cut = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"http://{host}:{port}"

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._sent)

    def requests(self) -> list[dict[str, str]]:
        """Every request head the client sent, in order: ``{":request": "GET /...",
        <lowercased header name>: value}``."""
        with self._lock:
            sent = [bytes(b) for b in self._sent]
        heads: list[dict[str, str]] = []
        for data in sent:
            for match in _REQUEST_HEAD.finditer(data):
                lines = match.group().decode("latin-1").split("\r\n")
                head = {":request": lines[0]}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name:
                        head[name.strip().lower()] = value.strip()
                heads.append(head)
        return heads

    def wait_cut(self, timeout: float) -> bool:
        return self._cut.wait(timeout)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            _close(sock)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self._upstream)
        except OSError:
            _close(client)
            return
        with self._lock:
            index = len(self._sent)
            sent = bytearray()
            self._sent.append(sent)
            self._sockets += [client, upstream]
        threading.Thread(target=self._pipe_up, args=(client, upstream, sent), daemon=True).start()
        cut = self._cut_first_after if index == 0 else None
        try:
            if cut is None:
                _pipe(upstream, client)
            else:
                self._pipe_down_and_cut(upstream, client, cut)
        finally:
            _close(client)
            _close(upstream)

    def _pipe_up(self, client: socket.socket, upstream: socket.socket, sent: bytearray) -> None:
        while True:
            try:
                data = client.recv(65536)
            except OSError:
                data = b""
            if not data:
                _shutdown(upstream)
                return
            with self._lock:
                sent += data
            try:
                upstream.sendall(data)
            except OSError:
                return

    def _pipe_down_and_cut(self, upstream: socket.socket, client: socket.socket, n: int) -> None:
        """Forwards the server's bytes up to the start of the ``n + 1``-th event, then
        stops: the caller closes both sockets."""
        received = bytearray()
        forwarded = 0
        while True:
            try:
                data = upstream.recv(65536)
            except OSError:
                return
            if not data:
                return
            received += data
            cut = _start_of_event(bytes(received), n + 1)
            stop = len(received) if cut is None else max(cut, forwarded)
            client.sendall(bytes(received[forwarded:stop]))
            forwarded = stop
            if cut is not None:
                self._cut.set()
                return


def _start_of_event(data: bytes, n: int) -> int | None:
    """Where the ``n``-th event message (one with a ``data:`` line) starts in the raw
    response: just past the blank line ending the message before it (or the head)."""
    body = data.find(b"\r\n\r\n")
    if body < 0:
        return None
    body += 4
    seen = 0
    previous = -1
    at = body
    while (line := data.find(b"\ndata:", at - 1)) >= 0:
        # The blank line ending the message before this one (the body may be chunked:
        # chunk sizes sit between messages, never inside one).
        start = max(data.rfind(b"\n\n", body, line + 1) + 2, body)
        if start != previous:
            seen += 1
            previous = start
            if seen == n:
                return start
        at = line + 7
    return None


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    while True:
        try:
            data = src.recv(65536)
        except OSError:
            return
        if not data:
            return
        try:
            dst.sendall(data)
        except OSError:
            return


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
