"""Run the real Codex CLI and Gemini CLI (npm, pinned in the Makefile) against a local base URL.

Each run is isolated: only PATH and the variables a run needs, a fresh HOME, stdin from
/dev/null, the whole process group killed on timeout.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from tests.support.claude_cli import REPO_ROOT

BIN = REPO_ROOT / ".cache" / "node" / "node_modules" / ".bin"


def _run(args: list[str], env: dict[str, str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    proc = subprocess.Popen(
        args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        raise subprocess.TimeoutExpired(args, timeout, output=stdout, stderr=stderr) from None
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return subprocess.CompletedProcess(args, proc.returncode, stdout, stderr)


def _binary(name: str) -> str:
    path = BIN / name
    if not path.exists():
        raise FileNotFoundError(f"{path} not found; run `make node-clients`")
    return str(path)


def run_codex(base_url: str, prompt: str, *, model: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """`codex exec` with a custom Responses provider at `base_url` (which ends in /v1)."""
    home = Path(tempfile.mkdtemp(prefix="babelgate-codex-home-"))
    provider = f'model_providers.fake={{name="fake",base_url="{base_url}",env_key="FAKE_KEY",wire_api="responses"}}'
    args = [_binary("codex"), "exec", "--skip-git-repo-check", "-c", "model_provider=fake", "-c", provider]
    args += ["-m", model, "--dangerously-bypass-approvals-and-sandbox", prompt]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "FAKE_KEY": "codex-client-key"}
    try:
        return _run(args, env, cwd, timeout)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def run_gemini(base_url: str, prompt: str, *, model: str | None, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """`gemini -p` with an API key and `GOOGLE_GEMINI_BASE_URL` pointing at `base_url`; with no `model` it asks its router first."""
    home = Path(tempfile.mkdtemp(prefix="babelgate-gemini-home-"))
    (home / ".gemini").mkdir()
    (home / ".gemini" / "settings.json").write_text(json.dumps({"security": {"auth": {"selectedType": "gemini-api-key"}}}))
    args = [_binary("gemini"), "-p", prompt, "--skip-trust", *(["-m", model] if model else []), "--yolo"]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "GEMINI_API_KEY": "gemini-client-key",
        "GOOGLE_GEMINI_BASE_URL": base_url,
        "TMPDIR": str(home),  # it writes error reports into the temp folder
    }
    try:
        return _run(args, env, cwd, timeout)
    finally:
        shutil.rmtree(home, ignore_errors=True)
