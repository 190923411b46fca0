"""The Server-Sent Events parser (`kaicalls.SSEDecoder`), fed the way a socket would."""

from __future__ import annotations

import json

import pytest

from kaicalls import IdOnly, ServerSentEvent, SSEDecoder


def feed_all(*chunks: bytes | str) -> tuple[list[ServerSentEvent], SSEDecoder]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    return events, decoder


def test_the_servers_wire_format() -> None:
    event = {"id": "evt_1", "type": "call.completed", "data": {"call_id": "c1"}}
    wire = (
        "retry: 2000\n: connected\n\n"
        f"id: evt_1\nevent: call.completed\ndata: {json.dumps(event)}\n\n"
        ": heartbeat\n\n"
    )
    events, decoder = feed_all(wire.encode())
    assert events == [ServerSentEvent("call.completed", json.dumps(event), "evt_1")]
    assert json.loads(events[0].data) == event
    assert decoder.retry == 2000
    assert decoder.last_event_id == "evt_1"


def test_multi_line_data_is_joined_with_newlines() -> None:
    events, _ = feed_all(b"data: first\ndata: second\ndata:\ndata:  indented\n\n")
    assert [e.data for e in events] == ["first\nsecond\n\n indented"]
    assert events[0].event == "message" and events[0].id is None


def test_crlf_and_lone_cr_line_endings() -> None:
    events, decoder = feed_all(
        b"retry: 1500\r\nid: a\r\nevent: x\r\ndata: 1\r\ndata: 2\r\n\r\n",
        b"id: b\rdata: 3\r\r",
        b"id: c\ndata: 4\n\n",
    )
    assert [(e.id, e.event, e.data) for e in events] == [
        ("a", "x", "1\n2"),
        ("b", "message", "3"),
        ("c", "message", "4"),
    ]
    assert decoder.retry == 1500


def test_a_crlf_split_across_chunks_ends_one_line_not_two() -> None:
    # Were the "\n" after a chunk-final "\r" another line end, "data: a" would be
    # dispatched on its own, before "data: b".
    events, _ = feed_all(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n")
    assert [e.data for e in events] == ["a\nb"]


def test_comments_are_skipped_and_messages_without_data_are_not_dispatched() -> None:
    events, decoder = feed_all(
        b": connected\n\n: heartbeat\n\n:\n\nid: evt_9\nevent: ping\n\nevent: x\ndata: y\n\n"
    )
    # "id: evt_9" alone dispatches nothing, but is the last event id from then on.
    assert events == [ServerSentEvent("x", "y", "evt_9")]
    assert decoder.last_event_id == "evt_9"


def test_a_comment_between_fields_does_not_end_the_message() -> None:
    events, _ = feed_all(b"data: a\n: heartbeat\ndata: b\n\n")
    assert [e.data for e in events] == ["a\nb"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [("retry: 3000", 3000), ("retry:250", 250), ("retry: 2.5", None), ("retry: soon", None)],
)
def test_retry_needs_digits_only(line: str, expected: int | None) -> None:
    _, decoder = feed_all(f"{line}\n\n")
    assert decoder.retry == expected


def test_fields_without_colon_space_variants_and_unknown_fields() -> None:
    events, _ = feed_all(b"data\ndata:x\ndata: y\nfoo: bar\nDATA: no\n\n")
    assert [e.data for e in events] == ["\nx\ny"]


def test_ids_carry_over_and_ids_with_nul_are_ignored() -> None:
    events, _ = feed_all(b"id: 1\ndata: a\n\ndata: b\n\nid: 2\x00x\ndata: c\n\nid\ndata: d\n\n")
    assert [(e.id, e.data) for e in events] == [("1", "a"), ("1", "b"), ("1", "c"), (None, "d")]


def test_a_message_arriving_byte_by_byte_is_held_until_its_blank_line() -> None:
    wire = 'id: evt_1\nevent: call.queued\ndata: {"a": "é ✓"}\n\n'.encode()
    decoder = SSEDecoder()
    got: list[ServerSentEvent] = []
    for i in range(len(wire)):
        got.extend(decoder.feed(wire[i : i + 1]))
        if i < len(wire) - 1:
            assert got == [], f"dispatched early at byte {i}"
    assert got == [ServerSentEvent("call.queued", '{"a": "é ✓"}', "evt_1")]


def test_a_leading_byte_order_mark_is_dropped_once() -> None:
    events, _ = feed_all(b"\xef\xbb", b"\xbfdata: a\n\n", "\ufeffdata: b\n\n")
    assert [e.data for e in events] == ["a"]  # a BOM later is part of a field name


def test_an_unfinished_message_at_the_end_is_never_returned() -> None:
    events, _ = feed_all(b"data: complete\n\ndata: cut off")
    assert [e.data for e in events] == ["complete"]


def test_messages_also_returns_id_only_messages_in_order() -> None:
    decoder = SSEDecoder()
    wire = "retry: 2000\nid: evt_0\n: connected\n\nid: evt_1\ndata: a\n\n: heartbeat\n\n"
    assert decoder.messages(wire) == [IdOnly("evt_0"), ServerSentEvent("message", "a", "evt_1")]
    # Only a message with an id field of its own: not a carried-over id, an empty one
    # (a reset) or one with NUL.
    assert decoder.messages("event: ping\n\nid\n\nid: x\x00y\n\n: c\n\n") == []
    assert decoder.last_event_id == ""
    assert decoder.messages("id: evt_2\n") == []  # not ended yet
    assert decoder.messages("\n") == [IdOnly("evt_2")]


def test_feed_leaves_id_only_messages_out() -> None:
    events, decoder = feed_all("retry: 2000\nid: evt_0\n: connected\n\n", "data: a\n\n")
    assert events == [ServerSentEvent("message", "a", "evt_0")]
    assert decoder.last_event_id == "evt_0"
