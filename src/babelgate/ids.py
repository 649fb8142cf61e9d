"""Ids the gateway gives what it names itself (requests, messages, tool calls, responses).

A random prefix drawn once per process and a counter: unique across workers and instances without a
random draw per id (`uuid4` costs a syscall and an object each time). A forked worker draws its own
prefix. Every id is 24 lowercase hex characters.
"""

from __future__ import annotations

import itertools
import os
import secrets

_counter = itertools.count()
_prefix = secrets.token_hex(6)


def _reseed() -> None:
    global _prefix
    _prefix = secrets.token_hex(6)


os.register_at_fork(after_in_child=_reseed)


def new_id() -> str:
    return f"{_prefix}{next(_counter) & 0xFFFFFFFFFFFF:012x}"
