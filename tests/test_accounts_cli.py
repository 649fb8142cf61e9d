"""`babelgate accounts ...` run as a real process against a loopback upstream and a shared store."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import anthropic
import yaml

from babelgate.store.sqlite import SqliteStore
from tests.conftest import GatewayFactory
from tests.fakes import openai_wire as wire
from tests.fakes.upstream import FakeUpstream, Received, Reply
from tests.support.serve_process import until

KEYS = {"a": "sk-alpha-key-0001", "b": "sk-bravo-key-0002", "c": "sk-charlie-key-03"}
BABELGATE = str(Path(sys.executable).with_name("babelgate"))


async def babelgate(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        BABELGATE, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"}
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


async def test_verify_benches_refused_keys_and_clears_fixed_ones(
    upstream: FakeUpstream, gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    refused = {KEYS["b"]}

    def script(record: Received) -> Reply:
        key = record.headers["authorization"].removeprefix("Bearer ")
        if key in refused:
            return wire.error(401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key")
        if record.method == "GET":
            return Reply(json={"object": "list", "data": [{"id": "gpt-5", "object": "model", "created": 0, "owned_by": "x"}]})
        return Reply(json=wire.completion(f"served by {key[3]}"))

    upstream.script = script
    store_path = tmp_path / "state.db"
    config = {
        "providers": {"pool": {"base_url": f"{upstream.url}/v1", "api_keys": list(KEYS.values()), "models": ["gpt-5"]}},
        "aliases": {"claude-*": "pool/gpt-5"},
        "routing": {"max_wait": 0, "strategy": "fill-first"},
        "store": {"path": str(store_path)},
    }
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    gw = await gateway_factory(config, SqliteStore(store_path))
    sdk = anthropic.AsyncAnthropic(base_url=gw.url, api_key="k", max_retries=0)
    ask = {"model": "claude-x", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}

    code, output = await babelgate("accounts", "verify", "-c", str(config_path))
    assert code == 1
    assert "invalid" in output and "pool#1" in output and output.count("ok") >= 2
    assert all(key not in output for key in KEYS.values())
    book = gw.gateway.book  # the store tells a running gateway of the change (store/sqlite.py, `watch`)
    await until(lambda: book.blocked("pool#1", "gpt-5") is not None, 5, "benched by verify, before any request met it")

    refused.clear()  # the key is fixed upstream
    code, output = await babelgate("accounts", "verify", "pool", "-c", str(config_path))
    assert code == 0, output
    await until(lambda: book.blocked("pool#1", "gpt-5") is None, 5, "cleared by verify")
    upstream.received.clear()
    for _ in range(2):
        await sdk.messages.create(**ask)  # type: ignore[arg-type]

    code, output = await babelgate("accounts", "list", "-c", str(config_path))
    assert code == 0 and "pool#0" in output and "pool#2" in output and "ok" in output
    assert all(key not in output for key in KEYS.values())


async def test_add_and_remove_stored_keys(tmp_path: Path, upstream: FakeUpstream) -> None:
    config_path = tmp_path / "config.yaml"
    config_path.write_text(
        yaml.safe_dump(
            {"providers": {"pool": {"base_url": f"{upstream.url}/v1", "models": ["m"]}}, "store": {"path": str(tmp_path / "s.db")}}
        )
    )
    code, output = await babelgate("accounts", "add", "pool", "sk-added-key-123456", "--name", "extra", "-c", str(config_path))
    assert code == 0 and "pool#extra" in output
    code, output = await babelgate("accounts", "list", "-c", str(config_path))
    assert "pool#extra" in output and "sk-added-key-123456" not in output
    code, output = await babelgate("accounts", "add", "nope", "k", "--name", "x", "-c", str(config_path))
    assert code == 2 and "no provider 'nope'" in output
    code, _ = await babelgate("accounts", "remove", "pool", "extra", "-c", str(config_path))
    assert code == 0
    code, output = await babelgate("accounts", "remove", "pool", "extra", "-c", str(config_path))
    assert code == 2 and "no stored key" in output
