"""Claude Code's interactive TUI, run under Debian's tmux on a private tmux server.

The HOME is fresh and skips the first-run screens (`.claude.json`); `.claude/settings.json`
routes the CLI to `base_url`. Keys go in with `send-keys`, the screen comes back with
`capture-pane`, and every wait polls the pane for a marker until a deadline.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from tests.support.claude_cli import claude_binary

__all__ = ["ClaudeTui"]

POLL = 0.2  # seconds between two looks at the pane


class ClaudeTui:
    """`with ClaudeTui(url, project, "--permission-mode", "auto") as tui: tui.wait_for(...); tui.submit(...)`."""

    def __init__(self, base_url: str, project: Path, *args: str, settings_env: dict[str, str] | None = None) -> None:
        """`settings_env` joins the `env` block of the HOME's `.claude/settings.json`."""
        self.base_url, self.project, self.args = base_url, project, args
        self.settings_env = settings_env or {}
        self.tmux = shutil.which("tmux")
        self.root: Path | None = None
        self.pane_pid = 0

    def __enter__(self) -> ClaudeTui:
        if self.tmux is None:
            raise FileNotFoundError("tmux not found; `make test` installs it (apt-get install tmux)")
        self.root = Path(tempfile.mkdtemp(prefix="babelgate-claude-tui-"))
        (self.root / "tmux.conf").write_text("set -g remain-on-exit on\n")  # a CLI that dies leaves its last words
        env = ["env", "-i", f"PATH={os.environ.get('PATH', '/usr/bin:/bin')}", f"HOME={self._home(self.root)}", "TERM=xterm-256color"]
        env += ["DISABLE_AUTOUPDATER=1", "DISABLE_TELEMETRY=1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "IS_SANDBOX=1"]
        try:
            self._tmux(
                "new-session", "-d", "-s", "tui", "-x", "180", "-y", "50", "-c", str(self.project), *env, str(claude_binary()), *self.args
            )
            self.pane_pid = int(self._tmux("display-message", "-p", "-t", "tui", "#{pane_pid}"))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if self.pane_pid:  # the pane runs in its own session: the CLI and any shell it started
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pane_pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.SubprocessError):
            self._tmux("kill-server")
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def pane(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "tui", "-S", "-200")

    def wait_for(self, marker: str, timeout: float = 60, count: int = 1) -> str:
        """The pane once it shows `marker` (`count` times); TimeoutError with the pane's text if it does not within `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            pane = self.pane()
            if pane.count(marker) >= count:
                return pane
            dead, _, status = self._tmux("display-message", "-p", "-t", "tui", "#{pane_dead} #{pane_dead_status}").strip().partition(" ")
            if dead == "1":
                raise RuntimeError(f"Claude Code's TUI exited ({status}) before showing {marker!r}; the pane:\n{pane[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"Claude Code's TUI did not show {marker!r} within {timeout:.0f}s; the pane:\n{pane[-3000:]}")
            time.sleep(POLL)

    def submit(self, text: str) -> None:
        """Type `text` into the prompt, wait until the TUI shows it, press Enter."""
        self._tmux("send-keys", "-t", "tui", "-l", text)
        self.wait_for(text)
        self._tmux("send-keys", "-t", "tui", "Enter")

    def press(self, key: str) -> None:
        """One key, by tmux's name for it (Enter, Escape, Down)."""
        self._tmux("send-keys", "-t", "tui", key)

    def _home(self, root: Path) -> Path:
        home = root / "home"
        (home / ".claude").mkdir(parents=True)
        project = {"hasTrustDialogAccepted": True, "hasCompletedProjectOnboarding": True}
        state = {"hasCompletedOnboarding": True, "theme": "dark", "projects": {str(self.project): project}}
        (home / ".claude.json").write_text(json.dumps(state))
        env = {"ANTHROPIC_BASE_URL": self.base_url, "ANTHROPIC_AUTH_TOKEN": "babelgate-test-token", **self.settings_env}
        settings = {"env": env, "model": "opus"}
        (home / ".claude" / "settings.json").write_text(json.dumps(settings))
        return home

    def _tmux(self, *args: str) -> str:
        assert self.tmux is not None and self.root is not None
        argv = [self.tmux, "-f", str(self.root / "tmux.conf"), "-S", str(self.root / "tmux.sock"), *args]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=15, check=False)
        if done.returncode != 0:
            raise subprocess.SubprocessError(f"tmux {args[0]} failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout
