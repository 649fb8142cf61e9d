"""Local servers: found by asking their usual ports for `/v1/models`, then asked what their models can do.

Each says it its own way. vLLM lists each model's `max_model_len` and llama.cpp its `meta.n_ctx`
(else `n_ctx_train`) in `/v1/models` itself. LM Studio's `/api/v0/models` gives
`max_context_length` (`loaded_context_length` once a model is loaded), `type: vlm` for vision
models and, in newer versions, `capabilities` (`tool_use`). Ollama's `/api/tags` names its
models and `/api/show` tells each one's `capabilities` (`tools`, `vision`, `thinking`), its
trained `<arch>.context_length` in `model_info` and, when set, the `num_ctx` it serves with in
`parameters`. Whatever a server does not say stays unknown. Ollama may be moved with its own
`OLLAMA_HOST` variable, which is read the way Ollama reads it.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from babelgate.config import ModelSpec, ProviderConfig, ReasoningStyle

LOCAL = (
    ("ollama", 11434),
    ("llamacpp", 8080),
    ("lmstudio", 1234),
    ("vllm", 8000),
)
HOST_VARIABLES = {"ollama": "OLLAMA_HOST"}
PROBE_TIMEOUT = aiohttp.ClientTimeout(total=0.8)
MAX_SHOWN = 32  # Ollama is asked about this many models at most
_NUM_CTX = re.compile(r"^num_ctx\s+(\d+)\s*$", re.M)

Listing = list[dict[str, Any]]
Reader = Callable[[aiohttp.ClientSession, str, Listing], Awaitable[dict[str, ModelSpec]]]


@dataclass(slots=True)
class Found:
    name: str
    config: ProviderConfig
    models: dict[str, ModelSpec] = field(default_factory=dict)  # what the server said of each model


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


async def _json(session: aiohttp.ClientSession, method: str, url: str, body: Any = None) -> Any:
    """The JSON a server answers, or None for any failure: a probe never raises."""
    try:
        async with session.request(method, url, json=body) as response:
            return await response.json(content_type=None) if response.status == 200 else None
    except (TimeoutError, aiohttp.ClientError, ValueError):
        return None


def _entries(body: Any, key: str = "data") -> Listing:
    items = body.get(key) if isinstance(body, dict) else None
    return [e for e in items if isinstance(e, dict)] if isinstance(items, list) else []


async def from_listing(session: aiohttp.ClientSession, root: str, listing: Listing) -> dict[str, ModelSpec]:
    """vLLM's `max_model_len` and llama.cpp's `meta.n_ctx` / `meta.n_ctx_train`, from `/v1/models` itself."""
    out = {}
    for entry in listing:
        meta = found if isinstance(found := entry.get("meta"), dict) else {}
        window = _int(entry.get("max_model_len")) or _int(meta.get("n_ctx")) or _int(meta.get("n_ctx_train"))
        if window and "id" in entry:
            out[str(entry["id"])] = ModelSpec(context_window=window)
    return out


async def lmstudio(session: aiohttp.ClientSession, root: str, listing: Listing) -> dict[str, ModelSpec]:
    out = {}
    for entry in _entries(await _json(session, "GET", f"{root}/api/v0/models")):
        capabilities = entry.get("capabilities")
        out[str(entry.get("id"))] = ModelSpec(
            context_window=_int(entry.get("loaded_context_length")) or _int(entry.get("max_context_length")),
            vision=entry.get("type") == "vlm" if entry.get("type") in ("llm", "vlm") else None,
            tools="tool_use" in capabilities if isinstance(capabilities, list) else None,
        )
    return out


def _ollama_spec(shown: Any) -> ModelSpec | None:
    if not isinstance(shown, dict):
        return None
    info = found if isinstance(found := shown.get("model_info"), dict) else {}
    trained = next((_int(v) for k, v in info.items() if k.endswith(".context_length")), None)
    served = _NUM_CTX.search(shown["parameters"]) if isinstance(shown.get("parameters"), str) else None
    listed = shown.get("capabilities")
    window = int(served.group(1)) if served else trained
    if not isinstance(listed, list):
        return ModelSpec(context_window=window)
    reasoning: ReasoningStyle = "builtin" if "thinking" in listed else "none"
    return ModelSpec(context_window=window, vision="vision" in listed, tools="tools" in listed, reasoning=reasoning)


async def ollama(session: aiohttp.ClientSession, root: str, listing: Listing) -> dict[str, ModelSpec]:
    tags = _entries(await _json(session, "GET", f"{root}/api/tags"), "models")
    names = [str(t["name"]) for t in tags if "name" in t][:MAX_SHOWN]
    shown = await asyncio.gather(*(_json(session, "POST", f"{root}/api/show", {"model": n}) for n in names))
    specs = {name: _ollama_spec(answer) for name, answer in zip(names, shown, strict=True)}
    return {name: spec for name, spec in specs.items() if spec is not None}


READERS: dict[str, Reader] = {"ollama": ollama, "lmstudio": lmstudio}


def root_of(name: str, port: int, env: dict[str, str]) -> str:
    """`http://127.0.0.1:{port}`, or where the server's own variable says it listens (`OLLAMA_HOST=host[:port]`)."""
    moved = env.get(HOST_VARIABLES.get(name, ""), "")
    if not moved:
        return f"http://127.0.0.1:{port}"
    scheme, _, rest = moved.rpartition("://")
    host, _, given = rest.rstrip("/").partition(":")
    host = "127.0.0.1" if host in ("", "0.0.0.0") else host  # a server listening everywhere is reached on loopback
    return f"{scheme or 'http'}://{host}:{given or port}"


async def _probe(session: aiohttp.ClientSession, name: str, root: str) -> Found | None:
    body = await _json(session, "GET", f"{root}/v1/models")
    if not isinstance(body, dict):
        return None
    listing = _entries(body)
    config = ProviderConfig(type="openai", base_url=f"{root}/v1", models=[str(m["id"]) for m in listing if "id" in m])
    specs = await from_listing(session, root, listing)
    specs.update(await READERS.get(name, from_listing)(session, root, listing))
    return Found(name, config, {m: s for m, s in specs.items() if m in config.models})


async def probe_local(ports: tuple[tuple[str, int], ...] = LOCAL, env: dict[str, str] | None = None) -> list[Found]:
    env = dict(os.environ) if env is None else env
    async with aiohttp.ClientSession(timeout=PROBE_TIMEOUT) as session:
        found = await asyncio.gather(*(_probe(session, name, root_of(name, port, env)) for name, port in ports))
    return [f for f in found if f is not None]
