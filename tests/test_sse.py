"""The SSE decoder: lines read as bytes, a data line's value decoded, the same events wherever the bytes are split."""

from __future__ import annotations

import pytest

from babelgate import sse

# Every shape of line an upstream may send: data with and without its space, a bare `data`, named events,
# ids, comments, CRLF and lone CR line ends, UTF-8 (a euro sign), an invalid byte, an event with two data lines.
STREAM = (
    b": a comment\n"
    b'event: message_start\ndata: {"a":1}\n\n'
    b'data:{"b":2}\r\n\r\n'
    b"id: 7\rdata: \xe2\x82\xac and \xff\r\r"
    b"data\n\n"
    b"data: first\ndata:  second\nretry: 10\n\n"
    b"event: ping\n\n"
    b"data: last, never ended"
)
EXPECTED = ['{"a":1}', '{"b":2}', "\u20ac and \ufffd", "", "first\n second", "last, never ended"]


def decoded(pieces: list[bytes], max_event: int | None = None) -> list[str]:
    decoder = sse.SSEDecoder(max_event)
    events = [event.data for piece in pieces for event in decoder.decode(piece)]
    return events + [event.data for event in decoder.flush()]


def test_every_kind_of_line() -> None:
    assert decoded([STREAM]) == EXPECTED


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13])
def test_the_same_events_however_the_bytes_are_split(size: int) -> None:
    """Inside a line, inside a UTF-8 sequence, between \\r and \\n."""
    assert decoded([STREAM[i : i + size] for i in range(0, len(STREAM), size)]) == EXPECTED


def test_an_event_over_the_limit_is_refused() -> None:
    assert decoded([b"data: 12345\ndata: 6\n\n"], max_event=6) == ["12345\n6"]
    with pytest.raises(ValueError, match="an SSE event larger than 5 bytes"):
        decoded([b"data: 123\ndata: 456\n\n"], max_event=5)


def test_the_limit_counts_characters_of_data_and_bytes_of_a_line() -> None:
    euros = "\u20ac" * 4  # 4 characters, 12 bytes
    assert decoded([f"data: {euros}\n\n".encode()], max_event=16) == [euros]
    assert decoded([b"data: " + euros.encode(), b"\n\n"], max_event=18) == [euros]
    with pytest.raises(ValueError, match="an SSE line longer than 16 bytes"):
        decoded([b"data: " + euros.encode(), b"\n\n"], max_event=16)
