"""Requests and tokens per credential and model, per UTC day."""

from __future__ import annotations

import time
from dataclasses import dataclass

from babelgate import ir
from babelgate.providers.base import Credential


@dataclass(slots=True)
class Tally:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


_day: tuple[int, str] = (-1, "")


def today() -> str:
    """The UTC date, formatted once a day rather than once a request."""
    global _day
    number = int(time.time() // 86400)
    if number != _day[0]:
        _day = (number, time.strftime("%Y-%m-%d", time.gmtime(number * 86400)))
    return _day[1]


class UsageLedger:
    """Counts in memory; `drain()` hands the unsaved increments to the store."""

    def __init__(self) -> None:
        self.totals: dict[tuple[str, str, str], Tally] = {}
        self._unsaved: dict[tuple[str, str, str], Tally] = {}

    def record(self, credential: Credential, model: str, usage: ir.Usage) -> None:
        key = (credential.id, model, today())
        for book in (self.totals, self._unsaved):
            tally = book.get(key)
            if tally is None:
                tally = book[key] = Tally()
            tally.requests += 1
            tally.input_tokens += usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
            tally.output_tokens += usage.output_tokens

    def drain(self) -> dict[tuple[str, str, str], Tally]:
        unsaved, self._unsaved = self._unsaved, {}
        return unsaved

    def for_credential(self, credential_id: str) -> Tally:
        """Today's counts of one credential, over all its models."""
        day = today()
        total = Tally()
        for (cred, _, d), tally in self.totals.items():
            if cred == credential_id and d == day:
                total.requests += tally.requests
                total.input_tokens += tally.input_tokens
                total.output_tokens += tally.output_tokens
        return total
