"""Run the real Claude Code CLI (npm `@anthropic-ai/claude-code`, pinned) against a local base URL.

The Makefile target `node-clients` installs it into `.cache/node`; its `.bin/claude` is
a native linux-x64 binary that needs no network. Every run is isolated: an `env -i`-style
environment (only the variables listed in `isolated_env`), a fresh temporary HOME, stdin
from /dev/null, and the whole process group killed if the run outlives its timeout.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from tests.support.pins import CLAUDE_CODE_VERSION

__all__ = ["CLAUDE_CODE_VERSION", "claude_binary", "isolated_env", "run_claude"]

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BINARY = REPO_ROOT / ".cache" / "node" / "node_modules" / ".bin" / "claude"
BINARY_ENV_VAR = "BABELGATE_CLAUDE_BIN"


def claude_binary() -> Path:
    """Path of the pinned `claude` binary; `$BABELGATE_CLAUDE_BIN` overrides the default location."""
    override = os.environ.get(BINARY_ENV_VAR)
    path = Path(override) if override else DEFAULT_BINARY
    if not path.exists():
        hint = f"run `make node-clients` (installs @anthropic-ai/claude-code@{CLAUDE_CODE_VERSION})"
        raise FileNotFoundError(f"Claude Code CLI not found at {path}; {hint}")
    return path


def isolated_env(base_url: str, home: Path, *, extra_env: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """The whole environment of a run: nothing is inherited except PATH. A `None` in `extra_env` removes that variable."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_AUTH_TOKEN": "babelgate-test-token",
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_MAX_RETRIES": "1",
    }
    for name, value in (extra_env or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run_claude(
    base_url: str,
    prompt: str,
    *,
    model: str | None = None,
    cwd: Path,
    extra_env: Mapping[str, str | None] | None = None,
    stream_json: bool = False,
    timeout: float = 180,
) -> subprocess.CompletedProcess[str]:
    """Run `claude -p PROMPT --allowedTools Bash` in `cwd` and return its completed process (text mode).

    `extra_env` is applied last and can override or (with `None`) remove any default; e.g.
    `{"ANTHROPIC_API_KEY": "k", "ANTHROPIC_AUTH_TOKEN": None}` sends only `x-api-key` (with both
    set the CLI sends both `x-api-key` and `Authorization: Bearer`). With `stream_json`
    stdout is `--output-format stream-json --verbose` (one JSON object per line). A non-zero
    exit is returned, not raised; a run that outlives `timeout` has its process group killed
    and raises `subprocess.TimeoutExpired`.
    """
    args = [str(claude_binary()), "-p", prompt, "--allowedTools", "Bash"]
    if model is not None:
        args += ["--model", model]
    if stream_json:
        args += ["--output-format", "stream-json", "--verbose"]
    home = Path(tempfile.mkdtemp(prefix="babelgate-claude-home-"))
    try:
        proc = subprocess.Popen(
            args,
            cwd=cwd,
            env=isolated_env(base_url, home, extra_env=extra_env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            _kill_group(proc)
            stdout, stderr = proc.communicate()
            raise subprocess.TimeoutExpired(args, timeout, output=stdout, stderr=stderr) from exc
        finally:
            if proc.poll() is None:
                _kill_group(proc)
                proc.wait()
        return subprocess.CompletedProcess(args, proc.returncode, stdout, stderr)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """Kill the session started for `proc` (the CLI and any Bash tool it spawned)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
