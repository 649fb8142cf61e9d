"""The event-stream writer (server/eventstream.py), read back by botocore's decoder and parser."""

from __future__ import annotations

import base64
import json

import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer
from botocore.loaders import Loader
from botocore.model import ServiceModel
from botocore.parsers import EventStreamJSONParser

from babelgate.server import eventstream
from babelgate.server.eventstream import BedrockFraming


def messages(raw: bytes, split: int | None = None) -> list[object]:
    buffer = EventStreamBuffer()
    out: list[object] = []
    for i in range(0, len(raw), split or len(raw) or 1):
        buffer.add_data(raw[i : i + (split or len(raw))])
        out.extend(buffer)
    return out


def parsed(message: object) -> dict[str, object]:
    """What boto3's bedrock-runtime client makes of one message of InvokeModelWithResponseStream."""
    shape = ServiceModel(Loader().load_service_model("bedrock-runtime", "service-2")).shape_for("ResponseStream")
    result: dict[str, object] = EventStreamJSONParser().parse(message.to_response_dict(), shape)  # type: ignore[attr-defined]
    return result


def test_chunk_round_trips_through_botocore() -> None:
    event = '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"h\u00e9llo \u2603"}}'.encode()
    (message,) = messages(eventstream.chunk(event))
    assert message.headers == {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}  # type: ignore[attr-defined]
    assert parsed(message) == {"chunk": {"bytes": event}}


def test_exception_is_parsed_as_the_streams_error() -> None:
    (message,) = messages(eventstream.exception("throttlingException", "slow down"))
    error = parsed(message)["Error"]
    assert error == {"Code": "throttlingException", "Message": "slow down"}


def test_checksums_are_checked() -> None:
    raw = bytearray(eventstream.chunk(b'{"type":"ping"}'))
    raw[-6] ^= 0xFF  # a payload byte: the message CRC no longer matches
    with pytest.raises(ChecksumMismatch):
        messages(bytes(raw))
    raw = bytearray(eventstream.chunk(b'{"type":"ping"}'))
    raw[9] ^= 0xFF  # the prelude CRC itself
    with pytest.raises(ChecksumMismatch):
        messages(bytes(raw))


@pytest.mark.parametrize("split", [1, 3, 17])
def test_sse_split_anywhere_becomes_whole_messages(split: int) -> None:
    sse = (
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"m"}}\n\n'
        b'event: ping\r\ndata: {"type": "ping"}\r\n\r\n'
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    )
    framing = BedrockFraming()
    raw = b"".join(framing.feed(sse[i : i + split]) for i in range(0, len(sse), split)) + framing.flush()
    first, ping, error = messages(raw, split=5)
    assert json.loads(base64.b64decode(json.loads(first.payload)["bytes"]))["message"]["id"] == "m"  # type: ignore[attr-defined]
    assert json.loads(base64.b64decode(json.loads(ping.payload)["bytes"])) == {"type": "ping"}  # type: ignore[attr-defined]
    assert parsed(error)["Error"] == {"Code": "serviceUnavailableException", "Message": "Overloaded"}
