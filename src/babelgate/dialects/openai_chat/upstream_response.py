"""An OpenAI-compatible upstream's answer into ir: a completion (`parse_response`), a
chunk stream (`Parser`, made by `stream_parser`) and an error body (`error_message`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from babelgate import ir
from babelgate.dialects.base import FrameParser
from babelgate.dialects.parts import load_arguments, openai_usage
from babelgate.errors import Kind
from babelgate.ids import new_id

FINISH_TO_STOP: dict[str, ir.StopReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def _stop_reason(finish: str | None, has_tool_calls: bool) -> ir.StopReason:
    if has_tool_calls and finish in (None, "stop", "tool_calls", "function_call"):
        return "tool_use"  # some servers (llama.cpp, Ollama) report "stop" after tool calls
    return FINISH_TO_STOP.get(finish or "stop", "end_turn")


def _detail_text(detail: Any) -> str:
    if not isinstance(detail, dict):
        return ""
    text = detail.get("text") if detail.get("type") == "reasoning.text" else detail.get("summary")
    return text if isinstance(text, str) else ""


REASONING_KEYS = frozenset(("reasoning_content", "reasoning", "reasoning_details"))


def _reasoning(source: dict[str, Any]) -> str:
    """Reasoning text as servers send it: `reasoning_content` (DeepSeek, vLLM), `reasoning` (OpenRouter,
    Groq, Cerebras, Ollama), else the text and summaries of OpenRouter's `reasoning_details`."""
    if REASONING_KEYS.isdisjoint(source):  # most chunks: one C call instead of three lookups
        return ""
    for key in ("reasoning_content", "reasoning"):
        value = source.get(key)
        if isinstance(value, str) and value:
            return value
    details = source.get("reasoning_details")
    return "".join(_detail_text(d) for d in details) if isinstance(details, list) else ""


def _content(content: Any) -> tuple[str, str]:
    """(text, thinking) of a message's content: a string, or chunks (Mistral puts its reasoning in
    `thinking` chunks, each a list of text chunks)."""
    if isinstance(content, str):
        return content, ""
    if not isinstance(content, list):
        return "", ""
    chunks = [c for c in content if isinstance(c, dict)]
    text = "".join(str(c.get("text") or "") for c in chunks if c.get("type") == "text")
    inner = [t for c in chunks if c.get("type") == "thinking" and isinstance(c.get("thinking"), list) for t in c["thinking"]]
    return text, "".join(str(t.get("text") or "") for t in inner if isinstance(t, dict))


def parse_response(body: dict[str, Any]) -> ir.Response:
    choices = body.get("choices") or [{}]
    choice = choices[0]
    message = choice.get("message") or {}
    parts: list[ir.Part] = []
    text, thought = _content(message.get("content"))
    reasoning = _reasoning(message) + thought
    if reasoning:
        parts.append(ir.ThinkingPart(reasoning, family="openai"))
    if text:
        parts.append(ir.TextPart(text))
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        call_id = str(call.get("id") or f"call_{new_id()}")
        parts.append(ir.ToolCallPart(call_id, str(function.get("name") or ""), load_arguments(str(function.get("arguments") or ""))))
    has_calls = any(isinstance(p, ir.ToolCallPart) for p in parts)
    return ir.Response(
        id=str(body.get("id") or f"chatcmpl-{new_id()}"),
        model=str(body.get("model") or ""),
        parts=parts,
        stop_reason=_stop_reason(choice.get("finish_reason"), has_calls),
        usage=openai_usage(body.get("usage")),
    )


@dataclass(slots=True)
class _ToolCall:
    id: str = ""
    name: str = ""
    pending: str = ""
    index: int = -1


def _stream_error_kind(error: dict[str, Any]) -> Kind:
    """An error inside a stream (OpenRouter and others send them): rate limits and overloads keep their kind."""
    code, kind = str(error.get("code") or ""), str(error.get("type") or "")
    if code == "429" or "rate_limit" in code or "rate_limit" in kind:
        return Kind.RATE_LIMIT
    if code in ("502", "503", "529") or "overloaded" in kind or "overloaded" in code:
        return Kind.OVERLOADED
    return Kind.UPSTREAM


class Parser(FrameParser):
    """OpenAI chat chunks into ir events.

    Blocks open in the order content arrives; a tool call opens once both its id and its
    name are known (some servers send the id after the name), with the argument fragments
    seen so far flushed right after.
    """

    def __init__(self) -> None:
        super().__init__()
        self._started = False
        self._open: int | None = None
        self._open_kind = ""
        self._next = 0
        self._tools: dict[int, _ToolCall] = {}
        self._finish: str | None = None
        self._usage = ir.Usage()
        self._done = False

    def _eof(self, out: list[ir.Event]) -> None:
        if self._done:
            return
        if self._finish is None:
            out.append(ir.StreamError(Kind.UPSTREAM.value, "upstream stream ended before a finish_reason"))
            self._done = True
        else:
            self._end(out)

    def _frame(self, data: str, out: list[ir.Event]) -> None:
        if self._done or not data:
            return
        if data[0] != "{" and data.strip() == "[DONE]":  # a chunk starts with its brace: no copy to strip
            self._end(out)
            return
        chunk = orjson.loads(data)
        if "error" in chunk and not chunk.get("choices"):
            error = chunk["error"] if isinstance(chunk["error"], dict) else {"message": chunk["error"]}
            out.append(ir.StreamError(_stream_error_kind(error).value, str(error.get("message") or error)))
            self._done = True
            return
        if not self._started:
            self._started = True
            out.append(ir.Start(str(chunk.get("id") or f"chatcmpl-{new_id()}"), str(chunk.get("model") or "")))
        if chunk.get("usage"):
            self._usage = openai_usage(chunk["usage"])
        for choice in chunk.get("choices") or []:
            self._delta(choice.get("delta") or {}, out)
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]
                self._start_waiting_tools(out)
                self._close_block(out)

    def _delta(self, delta: dict[str, Any], out: list[ir.Event]) -> None:
        content, thought = _content(delta.get("content"))
        reasoning = _reasoning(delta) + thought
        if reasoning:
            self._ensure_block("thinking", out)
            out.append(ir.ThinkingDelta(self._open, text=reasoning, family="openai"))  # type: ignore[arg-type]
        if content:
            self._ensure_block("text", out)
            out.append(ir.TextDelta(self._open, content))  # type: ignore[arg-type]
        for position, call in enumerate(delta.get("tool_calls") or []):
            self._tool_delta(call.get("index", position), call, out)

    def _tool_delta(self, key: int, call: dict[str, Any], out: list[ir.Event]) -> None:
        tool = self._tools.get(key)
        if tool is None:
            self._start_waiting_tools(out)
            tool = self._tools[key] = _ToolCall()
        function = call.get("function") or {}
        tool.id = tool.id or str(call.get("id") or "")
        tool.name = tool.name or str(function.get("name") or "")
        arguments = function.get("arguments") or ""
        if tool.index >= 0:
            if arguments:
                out.append(ir.ToolArgsDelta(tool.index, arguments))
            return
        tool.pending += arguments
        if tool.id and tool.name:
            self._open_tool(tool, out)

    def _open_tool(self, tool: _ToolCall, out: list[ir.Event]) -> None:
        self._close_block(out)
        tool.index = self._open = self._next
        self._open_kind = "tool_call"
        self._next += 1
        out.append(ir.BlockStart(tool.index, "tool_call", id=tool.id or f"call_{new_id()}", name=tool.name))
        if tool.pending:
            out.append(ir.ToolArgsDelta(tool.index, tool.pending))
            tool.pending = ""

    def _start_waiting_tools(self, out: list[ir.Event]) -> None:
        """Give up waiting for a missing id once something else arrives."""
        for tool in self._tools.values():
            if tool.index < 0:
                self._open_tool(tool, out)

    def _ensure_block(self, kind: str, out: list[ir.Event]) -> None:
        if self._open is not None and self._open_kind == kind:
            return
        self._start_waiting_tools(out)
        self._close_block(out)
        self._open, self._open_kind = self._next, kind
        self._next += 1
        out.append(ir.BlockStart(self._open, kind))  # type: ignore[arg-type]

    def _close_block(self, out: list[ir.Event]) -> None:
        if self._open is not None:
            out.append(ir.BlockStop(self._open))
            self._open = None

    def _end(self, out: list[ir.Event]) -> None:
        if not self._started:
            out.append(ir.StreamError(Kind.UPSTREAM.value, "upstream stream ended without any data"))
            self._done = True
            return
        self._start_waiting_tools(out)
        self._close_block(out)
        self._done = True
        out.append(ir.Finish(_stop_reason(self._finish, bool(self._tools)), self._usage))


def stream_parser() -> Parser:
    return Parser()


def _validation(detail: Any) -> str | None:
    """A validation error list (`[{"loc": [...], "msg": ...}]`, Mistral's and vLLM's 422s) as `loc: msg` lines."""
    if not isinstance(detail, list) or not all(isinstance(d, dict) and "msg" in d for d in detail):
        return None
    return "; ".join(f"{'.'.join(str(p) for p in d.get('loc') or [])}: {d['msg']}" for d in detail)


def error_message(body: Any) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or error)
        if isinstance(error, str):
            return error
        message = body.get("message")
        if isinstance(message, dict | list):
            return _validation(message.get("detail") if isinstance(message, dict) else message) or str(message)
        if "message" in body:
            return str(body["message"])
        if "detail" in body:
            return _validation(body["detail"]) or str(body["detail"])
    if isinstance(body, list) and body:
        return error_message(body[0])
    return str(body)[:500]
