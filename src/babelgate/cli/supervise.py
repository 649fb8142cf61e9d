"""`babelgate serve --workers N`: the supervisor that keeps N worker processes serving.

- Start-up: each worker sets its `ready` event once it listens; when all have, `listening` is called
  (it prints "listening on"). A worker that exits before then stops them all, and the supervisor
  exits with that worker's status (2 for a start-up failure: cli/run.py); one killed by a signal
  meanwhile is replaced, as later.
- After that, a worker that dies (killed, crashed) while the supervisor runs is replaced at once; one that keeps
  dying within `QUICK_DEATH` seconds of its start is replaced after a doubling pause (up to
  `MAX_PAUSE`), and after `GIVE_UP` such deaths in a row the supervisor stops everything and exits 1
  (a config or port problem that no restart will fix).
- The workers die with the supervisor: each asks the kernel for SIGTERM when its parent dies
  (`PR_SET_PDEATHSIG`, Linux; elsewhere a thread watches the pipe multiprocessing keeps to the parent),
  so an orphan stops listening at once and finishes only what it was answering, even after
  `kill -9` of the supervisor.
- SIGHUP to the supervisor is passed to every worker: each reads the config file again (server/reload.py).
- SIGTERM or SIGINT to the supervisor stops every worker the same way (they drain, then exit), and the
  supervisor waits for them, killing any still running `drain_seconds` + `GRACE` later.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import wait
from multiprocessing.context import SpawnContext, SpawnProcess
from multiprocessing.synchronize import Event
from typing import Any

from babelgate.cli.run import EXIT_STARTUP

log = logging.getLogger("babelgate.supervisor")
QUICK_DEATH = 5.0  # seconds: a worker dying sooner than this after its start counts towards a crash loop
FIRST_PAUSE, MAX_PAUSE = 0.5, 30.0  # seconds before replacing a worker in a crash loop (doubling)
GIVE_UP = 5  # quick deaths in a row of one worker slot that end the supervisor
GRACE = 10.0  # seconds past drain_seconds before a worker that ignores SIGTERM is killed
READY_POLL = 0.1  # seconds between looks at the workers' ready events during start-up
PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Have this process get SIGTERM when `parent` (the supervisor) dies, however it dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    except (OSError, AttributeError):  # not Linux: watch the parent's end of multiprocessing's pipe
        watched = multiprocessing.parent_process()
        if watched is not None:
            sentinel = watched.sentinel
            threading.Thread(target=_term_when_ready, args=(sentinel,), name="babelgate-parent-watch", daemon=True).start()
    if os.getppid() != parent:  # it died before we asked
        os.kill(os.getpid(), signal.SIGTERM)


def _term_when_ready(sentinel: int) -> None:
    wait([sentinel])
    os.kill(os.getpid(), signal.SIGTERM)


def worker_main(parent: int, run: Callable[..., None], args: tuple[Any, ...]) -> None:
    """A worker process: tied to the supervisor's life, then serving (`run(*args, ready)`)."""
    die_with_parent(parent)
    run(*args)


class Supervisor:
    def __init__(
        self,
        run: Callable[..., None],
        args: tuple[Any, ...],
        workers: int,
        drain_seconds: float,
        listening: Callable[[], None] | None = None,
    ) -> None:
        self.context: SpawnContext = multiprocessing.get_context("spawn")
        self.target, self.args, self.parent = run, args, os.getpid()
        self.drain_seconds = drain_seconds
        self.listening = listening
        self.ready: list[Event] = [self.context.Event() for _ in range(workers)]  # the first workers' (start-up)
        self.starting = True
        self.slots: list[SpawnProcess | None] = [None] * workers
        self.started = [0.0] * workers
        self.quick_deaths = [0] * workers
        self.due = [0.0] * workers  # monotonic time a slot's next worker may start
        self.stopping = False
        self.respawned = 0
        self._wake_read, self._wake_write = os.pipe()

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT (exit 0), a worker failing to start (its status) or a crash loop (exit 1)."""
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGHUP, self._hangup)
        code = 0
        try:
            for slot in range(len(self.slots)):
                self._start(slot)
            while not self.stopping:
                code = self._watch()
                if code:
                    break
        finally:
            self._stop_all()
            os.close(self._wake_read)
            os.close(self._wake_write)
        return code

    def _start(self, slot: int) -> None:
        ready = self.ready[slot] if self.starting else self.context.Event()
        args = (self.parent, self.target, (*self.args, ready))
        process = self.context.Process(target=worker_main, args=args, daemon=True, name=f"babelgate-worker-{slot}")
        process.start()
        self.slots[slot], self.started[slot] = process, time.monotonic()

    def _watch(self) -> int:
        """Wait for a worker to die (or a replacement to be due, or, starting, the workers to listen)
        and deal with it; an exit status to stop with, else 0."""
        now = time.monotonic()
        waiting = [self.due[s] for s, p in enumerate(self.slots) if p is None]
        timeout = max(0.0, min(waiting) - now) if waiting else None
        if self.starting:
            timeout = READY_POLL if timeout is None else min(timeout, READY_POLL)
        sentinels = [p.sentinel for p in self.slots if p is not None]
        wait([*sentinels, self._wake_read], timeout)
        if self.stopping:
            return 0
        for slot, process in enumerate(self.slots):
            if process is not None and not process.is_alive():
                process.join()
                if self.starting and (process.exitcode or 0) >= 0:  # it gave up before listening: a restart will not fix that
                    self.slots[slot] = None
                    return process.exitcode or EXIT_STARTUP
                if not self._died(slot, process):
                    return 1
        if self.starting and all(event.is_set() for event in self.ready):
            self.starting = False
            if self.listening is not None:
                self.listening()
        now = time.monotonic()
        for slot, process in enumerate(self.slots):
            if process is None and now >= self.due[slot]:
                self._start(slot)
                self.respawned += 1
        return 0

    def _died(self, slot: int, process: SpawnProcess) -> bool:
        self.slots[slot] = None
        lived = time.monotonic() - self.started[slot]
        code = process.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
        _forget_metrics(process.pid)
        if lived >= QUICK_DEATH:
            self.quick_deaths[slot] = 0
            self.due[slot] = 0.0
            log.warning("worker %s %s after %.0fs; starting another", process.pid, how, lived)
            return True
        self.quick_deaths[slot] += 1
        if self.quick_deaths[slot] >= GIVE_UP:
            log.error("worker %s %s %.1fs after starting, %d times in a row; stopping", process.pid, how, lived, GIVE_UP)
            print(f"babelgate: workers keep dying at start ({how}); see the log above", file=sys.stderr)
            return False
        pause = min(FIRST_PAUSE * 2 ** (self.quick_deaths[slot] - 1), MAX_PAUSE)
        self.due[slot] = time.monotonic() + pause
        log.warning("worker %s %s %.1fs after starting; starting another in %.1fs", process.pid, how, lived, pause)
        return True

    def _hangup(self, signum: int, frame: object) -> None:
        for process in self.slots:
            if process is not None and process.pid is not None and process.is_alive():
                os.kill(process.pid, signal.SIGHUP)

    def _stop(self, signum: int, frame: object) -> None:
        self.stopping = True
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"x")

    def _stop_all(self) -> None:
        running = [p for p in self.slots if p is not None]
        for process in running:
            if process.is_alive():
                process.terminate()  # SIGTERM: stop listening, finish what is in flight, close the store
        deadline = time.monotonic() + self.drain_seconds + GRACE
        for process in running:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.error("worker %s still running %.0fs after SIGTERM; killing it", process.pid, self.drain_seconds + GRACE)
                process.kill()
                process.join()


def _forget_metrics(pid: int | None) -> None:
    """A dead worker's live gauges (in-flight requests) leave /metrics."""
    if pid is None or not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    from prometheus_client import multiprocess

    with contextlib.suppress(OSError):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
