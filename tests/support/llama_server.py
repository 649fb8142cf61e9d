"""Run llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`) on a free loopback port.

    with start_llama_server(build_tiny_gguf(tmp / "tiny.gguf"), "tiny") as (base_url, process):
        ...  # POST f"{base_url}/v1/chat/completions"

`base_url` has no `/v1` suffix (`server.openai_base_url` has it). The server is
started with the same interpreter as the tests (the project venv, where the
`local-model` extra installs `llama-cpp-python[server]`), its output goes to a log
file whose tail is quoted if it fails to start, and it is always stopped by PID
on exit: SIGTERM, wait, then SIGKILL.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, NamedTuple

from tests.support.processes import free_port

__all__ = ["LlamaServer", "LlamaServerError", "free_port", "llama_cpp_available", "start_llama_server", "stop_process"]

HOST = "127.0.0.1"
POLL_INTERVAL = 0.05
STOP_TIMEOUT = 10.0
PORT_ATTEMPTS = 3


class LlamaServerError(RuntimeError):
    """The server exited or did not answer `GET /v1/models` before the deadline."""


class LlamaServer(NamedTuple):
    """What `start_llama_server` yields; unpacks as `(base_url, process)`."""

    base_url: str
    process: subprocess.Popen[bytes]

    @property
    def openai_base_url(self) -> str:
        """The base URL as OpenAI SDKs want it (with `/v1`)."""
        return self.base_url + "/v1"


def llama_cpp_available() -> bool:
    """Whether `llama_cpp.server` can be imported by this interpreter (for `pytest.mark.skipif`)."""
    return importlib.util.find_spec("llama_cpp") is not None and importlib.util.find_spec("uvicorn") is not None


def stop_process(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """Stop one process by PID: SIGTERM, wait up to `timeout`, then SIGKILL and reap it."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _is_ready(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(base_url + "/v1/models", timeout=1.0) as response:
            status: int = response.status
            return status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _wait_ready(process: subprocess.Popen[bytes], base_url: str, deadline: float) -> bool:
    """Poll `GET /v1/models` until it answers 200 (True), the process exits (False), or the deadline passes."""
    while time.monotonic() < deadline:
        if _is_ready(base_url):
            return True
        try:
            process.wait(timeout=POLL_INTERVAL)  # doubles as the pause between polls
        except subprocess.TimeoutExpired:
            continue
        return False
    raise LlamaServerError(f"llama server at {base_url} not ready before the deadline")


def _log_tail(log: IO[bytes], limit: int = 4000) -> str:
    log.flush()
    log.seek(0)
    return log.read().decode("utf-8", "replace")[-limit:]


@contextmanager
def start_llama_server(
    model_path: Path,
    alias: str,
    *,
    n_ctx: int | None = None,
    extra_args: Sequence[str] = (),
    startup_timeout: float = 60.0,
) -> Iterator[LlamaServer]:
    """Start the server for `model_path`, served under the model name `alias`; yield `(base_url, process)`.

    `n_ctx` sets `--n_ctx` (the server's default is 2048 tokens); `extra_args` are appended
    verbatim (e.g. `["--chat_format", "chatml-function-calling"]`). If the chosen port was
    taken in the meantime the start is retried on another port.
    """
    with tempfile.TemporaryFile(prefix="llama-server-", suffix=".log") as log:
        for _attempt in range(PORT_ATTEMPTS):
            port = free_port()
            base_url = f"http://{HOST}:{port}"
            args = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path), "--model_alias", alias]
            args += ["--host", HOST, "--port", str(port), "--interrupt_requests", "False"]
            if n_ctx is not None:
                args += ["--n_ctx", str(n_ctx)]
            args += list(extra_args)
            log.seek(0)
            log.truncate()
            process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
            try:
                ready = _wait_ready(process, base_url, time.monotonic() + startup_timeout)
            except BaseException:
                stop_process(process)
                raise
            if ready:
                break
            if "address already in use" not in _log_tail(log).lower():
                raise LlamaServerError(f"llama server exited with {process.returncode} before it was ready:\n{_log_tail(log)}")
        else:
            raise LlamaServerError(f"llama server could not bind a free port in {PORT_ATTEMPTS} attempts:\n{_log_tail(log)}")
        try:
            yield LlamaServer(base_url, process)
        finally:
            stop_process(process)
