"""Real client requests, captured at run time from the pinned CLIs and kept under .cache/captures/.

A scenario runs one CLI against a loopback FakeUpstream that speaks the client's own wire
format (Anthropic Messages SSE, OpenAI Responses SSE, Gemini streamGenerateContent SSE),
scripted for a tool loop: the first model turn asks for a tool call, the next one answers
in text. Each request of the loop is written to `<client>-<version>-<scenario>.<n>.json` as
`{method, path, headers, body}`: the path with its query, the headers as sent (pairs, with
the secrets redacted), the parsed JSON body.

A scenario runs only when one of its files is missing, and at most once per process (a
failure is kept and raised again). A lock file keeps two processes from running the same CLI
at once, and every file lands by rename, so a reader never sees half of one. The versions in
the names come from the Makefile pins, so a bump captures afresh; `make clean` removes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from tests.fakes import turns
from tests.fakes.turns import ToolCall, Turn
from tests.fakes.upstream import FakeUpstream, Received, Reply
from tests.support.claude_cli import REPO_ROOT, run_claude
from tests.support.claude_tui import ClaudeTui
from tests.support.node_clis import run_codex, run_gemini
from tests.support.pins import CLAUDE_CODE_VERSION, CODEX_VERSION, GEMINI_CLI_VERSION

__all__ = ["CAPTURES", "NAMES", "SCENARIOS", "CaptureError", "ensure", "load"]

CAPTURES = REPO_ROOT / ".cache" / "captures"
SECRET_HEADERS = {"authorization", "x-api-key", "x-goog-api-key"}
REDACTED = "<redacted>"
TIMEOUT = 120  # seconds for one CLI run
LOCK_TIMEOUT = 600  # seconds to wait for another process capturing the same scenario

PROMPT = "create out.txt containing hello"
FINAL = "Wrote hello to out.txt."
# A request without tools is a side request: Gemini CLI's router wants this JSON; the others take any text.
ROUTE = json.dumps({"complexity_reasoning": "One explicit step.", "complexity_score": 5})
RESULT_MARKERS = {"anthropic": '"tool_result"', "openai-responses": '"function_call_output"', "gemini": '"functionResponse"'}
BASH = {"command": "echo hello > out.txt", "description": "write file"}


class CaptureError(RuntimeError):
    """A CLI run that did not give the scenario's requests; the message carries its output."""


Drive = Callable[[str, Path], None]  # run the CLI against the fake's URL, in a project folder


@dataclass(frozen=True)
class Scenario:
    client: str  # the files' prefix: claude-code, codex, gemini-cli
    version: str
    name: str  # tool-loop, toolsearch, tui-tool-loop
    kind: str  # the wire format the fake speaks (tests/fakes/turns.py)
    count: int  # the requests the loop makes, one file each
    drive: Drive
    call: ToolCall  # what the first model turn asks for

    @property
    def key(self) -> str:
        return f"{self.client}-{self.version}-{self.name}"

    @property
    def files(self) -> list[str]:
        return [f"{self.key}.{n}.json" for n in range(1, self.count + 1)]


# ---- the CLI runs -----------------------------------------------------------------------------


def _checked(done: subprocess.CompletedProcess[str]) -> None:
    if done.returncode != 0:
        raise CaptureError(f"{done.args[0]} exited with {done.returncode}\nstderr:\n{done.stderr[-4000:]}\nstdout:\n{done.stdout[-2000:]}")


def _claude_print(prompt: str, *, stream_json: bool) -> Drive:
    def drive(url: str, project: Path) -> None:
        _checked(run_claude(url, prompt, cwd=project, stream_json=stream_json, timeout=TIMEOUT))

    return drive


def _claude_tui(url: str, project: Path) -> None:
    """Auto mode, so every request carries `safeguards`; a command inside the project is not checked."""
    with ClaudeTui(url, project, "--permission-mode", "auto") as tui:
        tui.wait_for("auto mode on")
        tui.submit(PROMPT)
        tui.wait_for(FINAL)


def _codex(url: str, project: Path) -> None:
    _checked(run_codex(f"{url}/v1", PROMPT, model="gpt-fake", cwd=project, timeout=TIMEOUT))


def _gemini(url: str, project: Path) -> None:
    _checked(run_gemini(url, PROMPT, model=None, cwd=project, timeout=TIMEOUT))  # no model: it asks its router first


def _claude(name: str, drive: Drive, call: ToolCall) -> Scenario:
    return Scenario("claude-code", CLAUDE_CODE_VERSION, name, "anthropic", 2, drive, call)


SEARCH = {"query": "select:WebFetch", "max_results": 5}
SCENARIOS = [
    _claude("tool-loop", _claude_print(PROMPT, stream_json=True), ToolCall("Bash", BASH, "toolu_fake_bce8b1817a0e")),
    # ToolSearch loads the deferred WebFetch tool: the second request holds `tool_reference` blocks.
    _claude("toolsearch", _claude_print("fetch example.com", stream_json=False), ToolCall("ToolSearch", SEARCH, "toolu_fake_9a7da7e65d1a")),
    _claude("tui-tool-loop", _claude_tui, ToolCall("Bash", BASH, "toolu_fake_e592b197ed1d")),
    Scenario(
        "codex",
        CODEX_VERSION,
        "tool-loop",
        "openai-responses",
        2,
        _codex,
        ToolCall("exec_command", {"cmd": BASH["command"]}, "call_fake_0371ef29"),
    ),
    # The router's call, then the loop; the call's id has the shape Gemini CLI gives calls itself (name_millis_index).
    Scenario(
        "gemini-cli",
        GEMINI_CLI_VERSION,
        "tool-loop",
        "gemini",
        3,
        _gemini,
        ToolCall("run_shell_command", BASH, "run_shell_command_1795311913050_0"),
    ),
]
NAMES = [name for scenario in SCENARIOS for name in scenario.files]


# ---- the scripted fake --------------------------------------------------------------------------


def _first_turn(scenario: Scenario, stream: bool) -> Reply:
    call = scenario.call
    if scenario.kind == "gemini":  # the call's id and no thoughtSignature, so the CLI echoes its own placeholder
        body = turns.gemini_body(Turn(), [{"functionCall": {"id": call.id, "name": call.name, "args": call.arguments}}])
        return Reply(chunks=[b"data: " + orjson.dumps(body) + b"\r\n\r\n"]) if stream else Reply(json=body)
    text = "Running it." if scenario.kind == "anthropic" else ""
    return turns.reply(scenario.kind, Turn(text=text, calls=[call]), stream)


def _script(scenario: Scenario) -> Callable[[Received], Reply]:
    def answer(record: Received) -> Reply:
        body = record.body if isinstance(record.body, dict) else {}
        stream = bool(body.get("stream")) or "streamGenerateContent" in record.path
        if not body.get("tools"):
            return turns.reply(scenario.kind, Turn(text=ROUTE), stream)
        if RESULT_MARKERS[scenario.kind] in orjson.dumps(body).decode():
            return turns.reply(scenario.kind, Turn(text=FINAL), stream)
        return _first_turn(scenario, stream)

    return answer


def _stored(scenario: Scenario, record: Received) -> bool:
    """Claude Code's side requests (a session title) carry no tools and are no part of the loop."""
    return scenario.kind != "anthropic" or bool(isinstance(record.body, dict) and record.body.get("tools"))


async def _record(scenario: Scenario) -> list[dict[str, Any]]:
    fake = await FakeUpstream().start()
    fake.script = _script(scenario)
    project = Path(tempfile.mkdtemp(prefix=f"babelgate-capture-{scenario.name}-"))
    try:
        await asyncio.to_thread(scenario.drive, fake.url, project)
    except Exception as error:
        stderr = getattr(error, "stderr", None) or ""  # a subprocess.TimeoutExpired brings what the CLI wrote
        stderr = f"\nstderr:\n{stderr[-4000:]}" if isinstance(stderr, str) and stderr else ""
        raise CaptureError(f"capturing {scenario.key} failed: {error}{stderr}") from error
    finally:
        await fake.stop()
        shutil.rmtree(project, ignore_errors=True)
    records = [r for r in fake.received if _stored(scenario, r)]
    if len(records) != scenario.count:
        seen = "\n".join(f"  {r.method} {r.path_qs} tools={bool(isinstance(r.body, dict) and r.body.get('tools'))}" for r in fake.received)
        raise CaptureError(f"{scenario.key}: expected {scenario.count} requests of the tool loop, got {len(records)}:\n{seen}")
    return [_capture(r) for r in records]


def _capture(record: Received) -> dict[str, Any]:
    headers = [[k, REDACTED if k.lower() in SECRET_HEADERS else v] for k, v in record.header_pairs]
    return {"method": record.method, "path": record.path_qs, "headers": headers, "body": record.body}


# ---- the cache ----------------------------------------------------------------------------------

_outcomes: dict[str, BaseException | None] = {}


def ensure(scenario: Scenario) -> None:
    """Capture `scenario` unless its files are all there; run it at most once per process."""
    if scenario.key in _outcomes:
        failure = _outcomes[scenario.key]
        if failure is not None:
            raise failure
        return
    try:
        CAPTURES.mkdir(parents=True, exist_ok=True)
        with _locked(CAPTURES / f".{scenario.key}.lock"):
            if not all((CAPTURES / name).exists() for name in scenario.files):
                for name, captured in zip(scenario.files, _in_thread(scenario), strict=True):
                    _write(CAPTURES / name, captured)
    except Exception as error:
        _outcomes[scenario.key] = error
        raise
    _outcomes[scenario.key] = None


def load(name: str) -> dict[str, Any]:
    """One captured request (`method`, `path`, `headers`, `body`), captured first if need be."""
    owner = next((s for s in SCENARIOS if name in s.files), None)
    if owner is None:
        raise KeyError(f"no capture scenario makes {name!r}; they make {', '.join(NAMES)}")
    ensure(owner)
    captured: dict[str, Any] = json.loads((CAPTURES / name).read_text())
    return captured


def _in_thread(scenario: Scenario) -> list[dict[str, Any]]:
    """`_record` on its own event loop in its own thread, so a caller may or may not be inside a loop."""
    with ThreadPoolExecutor(1, thread_name_prefix="capture") as pool:
        return pool.submit(asyncio.run, _record(scenario)).result()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise CaptureError(f"{path} stayed locked for {LOCK_TIMEOUT}s (another process capturing?)") from None
                time.sleep(0.2)
        yield


def _write(path: Path, captured: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(captured, indent=1, ensure_ascii=False) + "\n")
    os.replace(temporary, path)
