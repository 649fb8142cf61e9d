"""The gateway's own ids: unique in a process and across forked workers, 24 hex characters."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

from babelgate.ids import new_id

FORKING = textwrap.dedent(
    """
    import os
    from babelgate.ids import new_id

    before = new_id()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: send one id and leave at once
        os.write(write, new_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.waitpid(pid, 0)
    print(before, child)
    """
)


def test_ids_are_unique_hex() -> None:
    many = [new_id() for _ in range(10_000)]
    assert len(set(many)) == len(many)
    assert all(re.fullmatch(r"[0-9a-f]{24}", i) for i in many)


def test_a_forked_worker_draws_its_own_prefix() -> None:
    # In a fresh interpreter: forking the test process itself (threads, event loops) is not safe.
    done = subprocess.run([sys.executable, "-c", FORKING], capture_output=True, text=True, timeout=60, check=True)
    parent, child = done.stdout.split()
    assert parent[:12] != child[:12]
