"""No secret in any output: a real `babelgate serve` with keys in the config, in the store and in
`base_url`s, an upstream that echoes the key it was sent, an unreachable one; its logs, every
body, `/health`, `/account-limits` and the store file are searched for each secret."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from pathlib import Path

import aiohttp
import yaml

from tests.fakes.upstream import FakeUpstream, Received, Reply
from tests.support.processes import free_port
from tests.test_serve_cli import base_env, serving

BABELGATE = str(Path(sys.executable).with_name("babelgate"))
SECRETS = {
    "config_key": "sk-config-secret-k1xyz",
    "stored_key": "sk-stored-secret-s1xyz",
    "url_user": "urluser-secret-u1xyz",
    "url_password": "urlpass-secret-p1xyz",
    "url_query": "querykey-secret-q1xyz",
    "admin": "admin-secret-a1xyz",
    "client": "client-secret-c1xyz",
}


def echo_key(record: Received) -> Reply:
    """An upstream that quotes the credentials it was given in its error (some do)."""
    sent = record.headers.get("authorization", "") + " " + record.path_qs
    return Reply(401, {"error": {"message": f"Incorrect API key provided: {sent}", "type": "invalid_request_error"}})


async def test_no_secret_in_any_output(tmp_path: Path) -> None:
    fake = await FakeUpstream().start()
    fake.script = echo_key
    closed = free_port()
    s = SECRETS
    creds = f"{s['url_user']}:{s['url_password']}@"
    config = {
        "server": {"api_keys": [s["client"]], "admin_key": s["admin"]},
        "store": {"path": str(tmp_path / "state" / "state.db"), "key_file": str(tmp_path / "keys" / "store.key")},
        "providers": {
            "up": {"base_url": f"http://127.0.0.1:{fake.port}/v1?key={s['url_query']}", "api_keys": [s["config_key"]]},
            "basic": {"base_url": f"http://{creds}127.0.0.1:{fake.port}/v1"},  # HTTP basic auth, no key
            "down": {"base_url": f"http://{creds}127.0.0.1:{closed}/v1?key={s['url_query']}"},
        },
        "routing": {"max_wait": 0},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    env = base_env(tmp_path)
    added = subprocess.run(
        [BABELGATE, "accounts", "add", "up", s["stored_key"], "--name", "extra", "-c", str(path)], env=env, capture_output=True, text=True
    )
    assert added.returncode == 0, added.stderr
    outputs = [added.stdout, added.stderr]
    port = free_port()
    client = {"Authorization": f"Bearer {s['client']}"}
    admin = {"Authorization": f"Bearer {s['admin']}"}
    async with serving("-c", str(path), env=env, port=port) as (_, lines), aiohttp.ClientSession() as session:
        base = f"http://127.0.0.1:{port}"
        for model in ("up/gpt-5", "basic/gpt-5", "down/gpt-5", "up/gpt-5"):
            body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
            async with session.post(f"{base}/v1/chat/completions", json=body, headers=client) as response:
                assert response.status >= 400
                outputs.append(await response.text())
        for url, headers in (("/health", {}), ("/health", admin), ("/account-limits", admin), ("/account-limits?format=table", admin)):
            async with session.get(base + url, headers=headers) as response:
                assert response.status == 200
                outputs.append(await response.text())
    await fake.stop()
    outputs += lines
    store = tmp_path / "state" / "state.db"
    outputs += [p.read_bytes().decode("latin-1") for p in store.parent.iterdir()]
    assert len(fake.received) >= 3, outputs  # the echoing upstream was reached, with the stored key too
    assert any("providers" in o for o in outputs)  # the admin saw /health's details
    everything = "\n".join(outputs)
    for name, secret in s.items():
        assert secret not in everything, f"{name} leaked"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600 and stat.S_IMODE(store.parent.stat().st_mode) == 0o700
    key_file = tmp_path / "keys" / "store.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


async def test_a_public_bind_without_client_keys_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"server": {"host": "0.0.0.0"}, "store": {"type": "memory"}}))
    process = await asyncio.create_subprocess_exec(
        BABELGATE, "serve", "-c", str(path), "--port", str(free_port()), env=base_env(tmp_path), stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    text = err.decode()
    assert "server.host" in text and "--allow-public" in text and "Traceback" not in text and "listening on" not in text
    assert os.environ.get("BABELGATE_STORE_KEY") is None  # the tests never rely on the env key
