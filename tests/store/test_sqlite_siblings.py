"""Two gateways on one SQLite file (what `--workers` runs): a cooldown one of them records reaches the
other within the store's watch interval, not at its next periodic sync."""

from __future__ import annotations

import time
from pathlib import Path

from tests.support.serve_process import until

from babelgate.config import parse
from babelgate.providers.classify import Reason
from babelgate.server import gateway as gateway_module
from babelgate.server.gateway import Gateway
from babelgate.store.base import Entry


async def test_a_sibling_adopts_a_cooldown_well_before_its_next_sync(tmp_path: Path) -> None:
    config = parse(
        {
            "providers": {"up": {"type": "openai", "base_url": "http://127.0.0.1:9/v1", "api_keys": ["sk-one"]}},
            "store": {"path": str(tmp_path / "state.db")},
        }
    )
    assert gateway_module.SYNC_SECONDS >= 2  # the periodic sync would take this long
    first, second = Gateway(config), Gateway(config)
    await first.start()
    await second.start()
    try:
        entry = Entry("up#0", "gpt-5", Reason.RATE_LIMIT, time.time() + 60, 1, 429)
        first.book.restore([entry])
        first.journal.cooldown(entry)
        await first.journal.durable()
        await until(lambda: second.book.blocked("up#0", "gpt-5") is not None, 1.5, "the sibling adopted the cooldown")
    finally:
        await first.stop()
        await second.stop()
