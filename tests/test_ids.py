"""The gateway's own ids: unique in a process and across forked workers, 24 hex characters."""

from __future__ import annotations

import os
import re

from babelgate.ids import new_id


def test_ids_are_unique_hex_and_a_forked_worker_draws_its_own_prefix() -> None:
    many = [new_id() for _ in range(10_000)]
    assert len(set(many)) == len(many)
    assert all(re.fullmatch(r"[0-9a-f]{24}", i) for i in many)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: send one id and leave at once
        os.write(write, new_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert child[:12] != many[0][:12]
