"""Scenario 5, translation alone: `python -m bench.translate --impl babelgate|litellm` prints JSON.

Times, in one process and without I/O, what a gateway does to each Claude Code request
(Anthropic JSON bytes in, OpenAI chat JSON bytes out) and to each response (OpenAI
chat JSON or a 200-chunk SSE stream in, Anthropic out). `--impl litellm` runs in
LiteLLM's bench venv and times its Anthropic adapter the same way (a lower bound of
what its proxy does per request: the adapter only, not the rest of its call path).
Standard library only at import time, so either venv can run it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from bench import fixtures

CREATED = 1_760_000_000
STREAM_CHUNKS = 200


def measure(fn: Callable[[], object], budget: float, repeats: int = 5) -> float:
    """Median over `repeats` of the mean time of one call, in microseconds."""
    fn()
    number = 1
    while True:
        started = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - started
        if elapsed >= budget / repeats or number >= 1_000_000:
            break
        number *= 2
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - started) / number * 1e6)
    return statistics.median(runs)


def openai_text() -> dict[str, Any]:
    message = {"role": "assistant", "content": "Hello! How can I help you today?"}
    return _completion(message, "stop")


def openai_tool_call() -> dict[str, Any]:
    call = {
        "id": "call_bench1",
        "type": "function",
        "function": {"name": "Bash", "arguments": '{"command":"ls -la","description":"List files"}'},
    }
    message = {"role": "assistant", "content": "Let me look.", "tool_calls": [call]}
    return _completion(message, "tool_calls")


def _completion(message: dict[str, Any], finish: str) -> dict[str, Any]:
    usage = {"prompt_tokens": 12000, "completion_tokens": 40, "total_tokens": 12040, "prompt_tokens_details": {"cached_tokens": 0}}
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
    return {"id": "chatcmpl-bench", "object": "chat.completion", "created": CREATED, "model": "bench", "choices": [choice], "usage": usage}


def response_bodies() -> list[tuple[str, dict[str, Any]]]:
    return [("json_text", openai_text()), ("json_tool_call", openai_tool_call())]


def openai_sse(chunks: int = STREAM_CHUNKS) -> list[bytes]:
    """One upstream read per SSE event, as a token-by-token stream arrives."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        body = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": CREATED, "model": "bench"}
        body["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
        return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": "tok "}) for _ in range(chunks)]
    events.append(chunk({}, "stop"))
    usage = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": CREATED, "model": "bench", "choices": []}
    usage["usage"] = {"prompt_tokens": 12000, "completion_tokens": chunks, "total_tokens": 12000 + chunks}
    events.append(b"data: " + json.dumps(usage).encode() + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return events


def babelgate(budget: float) -> dict[str, Any]:
    import orjson

    from babelgate.dialects import anthropic, openai_chat
    from babelgate.dialects.base import EncodeOptions
    from babelgate.providers.framing import SSEFraming
    from babelgate.routing.sessions import session_key

    options = EncodeOptions()

    def whole(raw: bytes) -> bytes:
        return orjson.dumps(openai_chat.encode_request(anthropic.parse_request(orjson.loads(raw)), "bench", options))

    requests = []
    for fixture in fixtures.claude_code():
        raw = orjson.dumps(fixture.body)
        parsed = anthropic.parse_request(orjson.loads(raw))
        headers = {k.lower(): v for k, v in fixture.headers.items()}
        steps = {
            "json_loads": measure(partial(orjson.loads, raw), budget),
            "parse_request": measure(partial(anthropic.parse_request, orjson.loads(raw)), budget),
            "session_key": measure(partial(session_key, parsed, headers), budget),
            "encode_request": measure(partial(openai_chat.encode_request, parsed, "bench", options), budget),
            "json_dumps": measure(partial(orjson.dumps, openai_chat.encode_request(parsed, "bench", options)), budget),
        }
        requests.append({"fixture": fixture.name, "bytes": len(raw), "total_us": measure(partial(whole, raw), budget), "steps_us": steps})

    def complete(raw: bytes) -> bytes:
        return orjson.dumps(anthropic.render_response(openai_chat.parse_response(orjson.loads(raw))))

    responses = {name: measure(partial(complete, orjson.dumps(data)), budget) for name, data in response_bodies()}
    request = anthropic.parse_request(fixtures.claude_code()[0].body)
    events = openai_sse()

    def stream() -> int:  # as providers/stream.py reads one: framing, then the dialect's parser, then the renderer
        framing, parser = SSEFraming(), openai_chat.stream_parser()
        renderer = anthropic.stream_renderer(request)
        size = 0
        for chunk in events:
            size += len(b"".join([renderer.render(e) for data in framing.feed(chunk) for e in parser.frame(data)]))
        last = [e for data in framing.flush() for e in parser.frame(data)] + parser.end()
        return size + len(b"".join([renderer.render(e) for e in last]))

    responses[f"sse_{STREAM_CHUNKS}_chunks"] = measure(stream, budget)
    return {"impl": "babelgate", "requests": requests, "responses_us": responses, "stream_chunks": STREAM_CHUNKS}


def litellm(budget: float) -> dict[str, Any]:
    """LiteLLM's Anthropic adapter, the part of its proxy that translates (its venv only)."""
    from litellm.llms.anthropic.experimental_pass_through.adapters.transformation import AnthropicAdapter  # type: ignore[import-not-found]
    from litellm.types.utils import ModelResponse  # type: ignore[import-not-found]

    adapter = AnthropicAdapter()

    def whole(raw: bytes) -> bytes:
        return json.dumps(adapter.translate_completion_input_params(json.loads(raw)), default=str).encode()

    def complete(raw: bytes) -> bytes:
        return json.dumps(adapter.translate_completion_output_params(ModelResponse(**json.loads(raw))), default=str).encode()

    requests = []
    for fixture in fixtures.claude_code():
        raw = json.dumps(fixture.body).encode()
        translated = adapter.translate_completion_input_params(json.loads(raw))
        steps = {
            "json_loads": measure(partial(json.loads, raw), budget),
            "json_dumps": measure(partial(json.dumps, translated, default=str), budget),
        }
        requests.append({"fixture": fixture.name, "bytes": len(raw), "total_us": measure(partial(whole, raw), budget), "steps_us": steps})
    responses = {name: measure(partial(complete, json.dumps(data).encode()), budget) for name, data in response_bodies()}
    return {"impl": "litellm", "requests": requests, "responses_us": responses, "stream_chunks": STREAM_CHUNKS}


def main() -> None:
    parser = argparse.ArgumentParser(description="time request/response translation alone")
    parser.add_argument("--impl", choices=("babelgate", "litellm"), default="babelgate")
    parser.add_argument("--budget", type=float, default=1.0, help="seconds spent on each measurement")
    args = parser.parse_args()
    result = babelgate(args.budget) if args.impl == "babelgate" else litellm(args.budget)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
