"""A Server-Sent Events parser, as the WHATWG HTML standard defines the format.

`SSEDecoder` takes the body as it arrives (bytes, in chunks of any size) and returns
each complete message as a `ServerSentEvent`:

- lines end with ``\\r\\n``, ``\\n`` or ``\\r`` (a ``\\r\\n`` split across two chunks
  ends one line, not two); a UTF-8 byte order mark at the start is dropped;
- ``field: value`` (one space after the colon is dropped), ``field`` alone means an
  empty value; lines starting with ``:`` are comments (the server's ``: connected``
  and ``: heartbeat``) and are skipped; unknown fields are ignored;
- ``data`` lines accumulate, joined with ``\\n``; a blank line ends the message, which
  is dispatched only if it carried data;
- ``id`` sets the last event id (kept for the following messages, as the standard
  says; an id containing NUL is ignored); ``retry`` with only digits sets `retry`
  (milliseconds), anything else there is ignored.

A message that sets a (non-empty) ``id`` but carries no data dispatches no event, yet
it moves the last event id, which a reconnection sends as ``Last-Event-ID``: the
server's opening message names the stream's starting point this way. `feed` leaves
such messages out; `messages` returns them too, in order, as `IdOnly`.

An unfinished message is never returned: when the connection drops mid-message the
decoder is thrown away and that message arrives again after the reconnect.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

_EOL = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class ServerSentEvent:
    """One dispatched message: its ``event`` type (``"message"`` when not given), its
    ``data`` (lines joined with ``\\n``) and the last event ``id`` seen."""

    event: str
    data: str
    id: str | None = None


@dataclass(frozen=True)
class IdOnly:
    """A message with an ``id`` and no data (no event): the ``id`` it set."""

    id: str


class SSEDecoder:
    """Incremental parser: `feed` each chunk, get the messages it completed."""

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._started = False
        # The previous chunk ended with "\r": a "\n" opening this one belongs to it.
        self._after_cr = False
        self._data: list[str] = []
        self._event = ""
        # The current message has an ``id`` field (of its own, not carried over).
        self._has_id = False
        #: The last ``id`` field seen (the standard's "last event ID buffer").
        self.last_event_id: str | None = None
        #: The last valid ``retry`` field, in milliseconds.
        self.retry: int | None = None

    def feed(self, chunk: bytes | str) -> list[ServerSentEvent]:
        """The events (messages with data) that ``chunk`` completed."""
        return [m for m in self.messages(chunk) if isinstance(m, ServerSentEvent)]

    def messages(self, chunk: bytes | str) -> list[ServerSentEvent | IdOnly]:
        """The messages ``chunk`` completed: events, and ``id``-only messages."""
        text = self._utf8.decode(chunk) if isinstance(chunk, bytes) else chunk
        if not text:
            return []
        if not self._started:
            self._started = True
            text = text.removeprefix("\ufeff")
        if self._after_cr:
            self._after_cr = False
            text = text.removeprefix("\n")
        buffer = self._buffer + text
        events: list[ServerSentEvent | IdOnly] = []
        start = 0
        for match in _EOL.finditer(buffer):
            event = self._line(buffer[start : match.start()])
            if event is not None:
                events.append(event)
            start = match.end()
            if match.group() == "\r" and start == len(buffer):
                self._after_cr = True
        self._buffer = buffer[start:]
        return events

    def _line(self, line: str) -> ServerSentEvent | IdOnly | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id" and "\0" not in value:
            self.last_event_id = value
            self._has_id = True
        elif field == "retry" and value.isascii() and value.isdigit():
            self.retry = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | IdOnly | None:
        data, event, has_id = self._data, self._event, self._has_id
        self._data, self._event, self._has_id = [], "", False
        if not data:
            return IdOnly(self.last_event_id) if has_id and self.last_event_id else None
        return ServerSentEvent(
            event=event or "message", data="\n".join(data), id=self.last_event_id or None
        )
