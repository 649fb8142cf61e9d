"""Processes the bench starts: spawn with a log file, wait until they answer, read /proc, stop by PID."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def raise_fd_limit() -> None:
    """1,000 streams need ~3,000 sockets across the processes; children inherit this."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def spawn(name: str, argv: list[str], log: Path, *, env: dict[str, str] | None = None, cwd: Path | None = None) -> Proc:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        popen = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=cwd)
    return Proc(name, popen, log)


def git_describe(path: Path) -> str:
    """The commit a checkout is at, short."""
    done = subprocess.run(["git", "-C", str(path), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=30)
    return done.stdout.strip() or "unknown"


def baseline_checkout(ref: str, cache: Path) -> Path:
    """A detached worktree of `ref` (kept under `cache` for later runs); returns its src/ folder."""
    repo = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", f"{ref}^{{commit}}"], capture_output=True, text=True, timeout=30
    )
    if done.returncode != 0:
        raise SystemExit(f"--baseline {ref}: not a commit of this repository")
    commit = done.stdout.strip()
    checkout = cache / f"baseline-{commit[:12]}"
    if not checkout.exists():
        subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", str(checkout), commit], check=True, timeout=120)
    return checkout / "src"


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (children, grandchildren...), from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    found: list[int] = []
    todo = [pid]
    while todo and len(found) < 10_000:
        children = parents.get(todo.pop(), [])
        found.extend(children)
        todo.extend(children)
    return found


def tree(pid: int) -> list[int]:
    return [pid, *descendants(pid)]


def rss_kb(pids: list[int]) -> int:
    """Resident set size summed over the processes (VmRSS from /proc/PID/status)."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
    return total


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the live processes."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / CLOCK_TICKS


def all_process_ticks() -> dict[int, int]:
    """utime + stime, in clock ticks, of every process on the machine."""
    ticks: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks[int(entry)] = int(fields[11]) + int(fields[12])
    return ticks


def others_cpu_seconds(before: dict[int, int], after: dict[int, int], ours: set[int]) -> float:
    """CPU time processes outside `ours` used between two `all_process_ticks` snapshots."""
    used = sum(t - before.get(pid, 0) for pid, t in after.items() if pid not in ours)
    return max(used, 0) / CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU time the whole machine spent busy since boot, all cores (from /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


@dataclass
class Quiet:
    """Waits, within a budget for the whole run, until other processes leave the cores alone."""

    budget: float = 300.0  # seconds of waiting allowed over the whole run
    threshold: float = 0.2  # cores used by other processes below which the machine counts as quiet
    waited: float = 0.0

    def wait(self, longest: float = 60.0) -> float:
        """Busy cores seen last; returns at once when quiet or when the budget is spent."""
        began = time.monotonic()
        busy = self._busy_cores()
        while busy >= self.threshold and time.monotonic() - began < min(longest, self.budget - self.waited):
            busy = self._busy_cores()
        self.waited += time.monotonic() - began
        return busy

    @staticmethod
    def _busy_cores(window: float = 1.0) -> float:
        """Cores used by processes that are not this bench's (its servers idle meanwhile)."""
        before = all_process_ticks()
        time.sleep(window)
        return others_cpu_seconds(before, all_process_ticks(), set(tree(os.getpid()))) / window


def wait_http(url: str, proc: Proc, timeout: float, headers: dict[str, str] | None = None) -> None:
    """Poll `url` until the server answers at all (any status), or fail with its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise RuntimeError(f"{proc.name} did not answer {url} within {timeout:.0f}s:\n{proc.tail()}")


def stop(proc: Proc, grace: float = 8.0) -> None:
    """SIGTERM the process and every descendant by PID, then SIGKILL what is left after `grace`."""
    pids = tree(proc.pid) if proc.alive() else []
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_exists(p) for p in pids):
        proc.popen.poll()
        time.sleep(0.1)
    for pid in pids:
        if _exists(pid):
            _signal(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.popen.wait(timeout=5)


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _exists(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@dataclass
class Sampler:
    """Samples RSS and CPU of a process tree in a thread, every `interval` seconds."""

    root: int
    interval: float = 0.25
    rss: list[int] = field(default_factory=list)
    cpu_start: float = 0.0
    cpu_end: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Sampler:
        self.cpu_start = cpu_seconds(tree(self.root))
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.cpu_end = cpu_seconds(tree(self.root))

    def _run(self) -> None:
        for _ in range(100_000):
            self.rss.append(rss_kb(tree(self.root)))
            if self._stop.wait(self.interval):
                return

    @property
    def cpu(self) -> float:
        return self.cpu_end - self.cpu_start

    @property
    def peak_kb(self) -> int:
        return max(self.rss, default=0)
