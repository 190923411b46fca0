"""A tiny local HTTP server that records the webhooks KaiCalls delivers to it."""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self


@dataclass(frozen=True)
class Delivery:
    """One POST received; header names lowercased."""

    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """``with Receiver() as r:`` serves on 127.0.0.1:<free port>; every POST is
    answered 200 and recorded; `wait_for` returns the first matching delivery."""

    def __init__(self) -> None:
        deliveries: queue.Queue[Delivery] = queue.Queue()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                deliveries.put(Delivery(self.path, headers, body))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._deliveries = deliveries
        self._seen: list[Delivery] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def wait_for(self, path: str, nth: int = 1, timeout: float = 30.0) -> Delivery:
        """The ``nth`` delivery to ``path`` (waiting for it up to ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            matching = [d for d in self._seen if d.path == path]
            if len(matching) >= nth:
                return matching[nth - 1]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no delivery #{nth} to {path} within {timeout}s")
            try:
                self._seen.append(self._deliveries.get(timeout=min(remaining, 0.5)))
            except queue.Empty:
                pass

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
