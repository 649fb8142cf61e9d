"""Loopback local servers, each answering its model listings the way the real one documents them.

- Ollama: `GET /v1/models`, `GET /api/tags` (names and details), `POST /api/show` (`capabilities`,
  `model_info` with `<arch>.context_length`, `parameters` text with `num_ctx` when set); an
  unknown model in /api/show is a 404 `{"error": "model 'x' not found"}`.
- LM Studio: `GET /v1/models`, `GET /api/v0/models` (`type`, `max_context_length`,
  `loaded_context_length` once loaded, `capabilities`).
- vLLM: `GET /v1/models` with `max_model_len`; a chat request whose max_tokens does not fit the
  window next to the prompt is a 400 with vLLM's text (the prompt counted as characters / 4).
- llama.cpp: `GET /v1/models` with `meta.n_ctx` and `meta.n_ctx_train`.
"""

from __future__ import annotations

from typing import Any

from tests.fakes import openai_wire as wire
from tests.fakes.upstream import FakeUpstream, Received, Reply

NOT_FOUND = Reply(404, {"error": "404 page not found"})


def _listing(*ids: str, **extra: Any) -> dict[str, Any]:
    return {"object": "list", "data": [{"id": i, "object": "model", "created": 0, "owned_by": "local", **extra} for i in ids]}


class FakeOllama(FakeUpstream):
    """Two models: a tool-calling thinker served with num_ctx set, and a vision model on its trained window."""

    MODELS = {
        "qwen3:8b": {
            "capabilities": ["completion", "tools", "thinking"],
            "model_info": {"general.architecture": "qwen3", "qwen3.context_length": 40960},
            "parameters": 'num_ctx                        16384\nstop                           "<|im_end|>"',
            "details": {"family": "qwen3", "parameter_size": "8.2B", "quantization_level": "Q4_K_M"},
        },
        "llava:7b": {
            "capabilities": ["completion", "vision"],
            "model_info": {"general.architecture": "llama", "llama.context_length": 4096},
            "details": {"family": "llama", "parameter_size": "7B", "quantization_level": "Q4_0"},
        },
    }

    def __init__(self) -> None:
        super().__init__()
        self.script = self._route

    def _route(self, record: Received) -> Reply:
        if record.method == "GET" and record.path == "/v1/models":
            return Reply(json=_listing(*self.MODELS))
        if record.method == "GET" and record.path == "/api/tags":
            tags = [{"name": n, "model": n, "size": 1, "digest": "d", "details": m["details"]} for n, m in self.MODELS.items()]
            return Reply(json={"models": tags})
        if record.method == "POST" and record.path == "/api/show":
            name = (record.body or {}).get("model")
            if name not in self.MODELS:
                return Reply(404, {"error": f"model '{name}' not found"})
            shown = dict(self.MODELS[name])
            return Reply(json={"modelfile": "", "template": "", "modified_at": "2026-01-01T00:00:00Z", **shown})
        return NOT_FOUND


class FakeLMStudio(FakeUpstream):
    def __init__(self) -> None:
        super().__init__()
        self.script = self._route

    def _route(self, record: Received) -> Reply:
        if record.method == "GET" and record.path == "/v1/models":
            return Reply(json=_listing("qwen2-vl-7b-instruct", "meta-llama-3.1-8b-instruct"))
        if record.method == "GET" and record.path == "/api/v0/models":
            data = [
                {"id": "qwen2-vl-7b-instruct", "object": "model", "type": "vlm", "publisher": "mlx-community", "arch": "qwen2_vl"}
                | {"compatibility_type": "mlx", "quantization": "4bit", "state": "not-loaded", "max_context_length": 32768},
                {"id": "meta-llama-3.1-8b-instruct", "object": "model", "type": "llm", "publisher": "lmstudio-community", "arch": "llama"}
                | {"compatibility_type": "gguf", "quantization": "Q4_K_M", "state": "loaded", "max_context_length": 131072}
                | {"loaded_context_length": 8192, "capabilities": ["tool_use"]},
                {"id": "text-embedding-nomic-embed-text-v1.5", "object": "model", "type": "embeddings", "max_context_length": 2048},
            ]
            return Reply(json={"object": "list", "data": data})
        return NOT_FOUND


class FakeVLLM(FakeUpstream):
    MODEL = "Qwen/Qwen3-8B"
    WINDOW = 8192

    def __init__(self) -> None:
        super().__init__()
        self.script = self._route

    def _route(self, record: Received) -> Reply:
        if record.method == "GET" and record.path == "/v1/models":
            return Reply(json=_listing(self.MODEL, max_model_len=self.WINDOW, root=self.MODEL, parent=None, owned_by="vllm"))
        if record.method == "POST" and record.path == "/v1/chat/completions":
            return self._chat(record.body)
        return Reply(404, {"detail": "Not Found"})

    def _chat(self, body: dict[str, Any]) -> Reply:
        prompt = sum(len(m["content"]) for m in body["messages"] if isinstance(m.get("content"), str)) // 4
        wanted = body.get("max_completion_tokens") or body.get("max_tokens") or 0
        if wanted > self.WINDOW - prompt:
            message = (
                f"'max_tokens' or 'max_completion_tokens' is too large: {wanted}. This model's maximum context length is"
                f" {self.WINDOW} tokens and your request has {prompt} input tokens ({wanted} > {self.WINDOW} - {prompt}). None"
            )
            return Reply(400, {"error": {"message": message, "type": "BadRequestError", "param": None, "code": 400}})
        if body.get("stream"):
            return wire.stream_reply(wire.text_stream("Hi ", "from vLLM"))
        return Reply(json=wire.completion("Hi from vLLM", model=self.MODEL))


class FakeLlamaCpp(FakeUpstream):
    def __init__(self) -> None:
        super().__init__()
        self.script = self._route

    def _route(self, record: Received) -> Reply:
        if record.method == "GET" and record.path == "/v1/models":
            meta = {"vocab_type": 2, "n_vocab": 151936, "n_ctx": 4096, "n_ctx_train": 40960, "n_embd": 4096, "n_params": 8190735360}
            return Reply(json=_listing("qwen3-8b-q4_k_m.gguf", owned_by="llamacpp", meta=meta))
        return NOT_FOUND
