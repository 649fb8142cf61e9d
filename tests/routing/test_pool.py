"""Credential order by strategy: weights, priority tiers, sticky sessions, health."""

from __future__ import annotations

from collections import Counter

import pytest

from babelgate.providers.base import Credential
from babelgate.routing.pool import Pool


def creds(*specs: tuple[str, int, int]) -> list[Credential]:
    return [Credential(f"p#{name}", "p", f"key-{name}", weight, priority) for name, weight, priority in specs]


def firsts(pool: Pool, credentials: list[Credential], strategy: str, n: int, session: str | None = None) -> Counter[str]:
    return Counter(pool.order(credentials, strategy, session)[0].id for _ in range(n))  # type: ignore[arg-type]


def test_round_robin_follows_weights() -> None:
    pool = Pool()
    keys = creds(("a", 2, 0), ("b", 1, 0), ("c", 1, 0))
    assert firsts(pool, keys, "round-robin", 40) == {"p#a": 20, "p#b": 10, "p#c": 10}
    order = pool.order(keys, "round-robin")
    assert sorted(c.id for c in order) == ["p#a", "p#b", "p#c"]  # the rest follow as fallbacks


def test_fill_first_keeps_config_order() -> None:
    keys = creds(("a", 1, 0), ("b", 1, 0))
    assert [c.id for c in Pool().order(keys, "fill-first")] == ["p#a", "p#b"]


def test_priority_tiers_come_first() -> None:
    pool = Pool()
    keys = creds(("cheap", 1, 0), ("main1", 1, 10), ("main2", 1, 10))
    for _ in range(6):
        order = [c.id for c in pool.order(keys, "round-robin")]
        assert order[-1] == "p#cheap" and set(order[:2]) == {"p#main1", "p#main2"}


def test_sticky_binds_a_session_to_a_credential() -> None:
    pool = Pool()
    keys = creds(("a", 1, 0), ("b", 1, 0), ("c", 1, 0))
    chosen = pool.order(keys, "sticky", "conv-1")[0]
    pool.used(chosen, "conv-1", ok=True)
    assert firsts(pool, keys, "sticky", 10, "conv-1") == {chosen.id: 10}
    pool.bind("conv-2", "p#c")
    assert pool.order(keys, "sticky", "conv-2")[0].id == "p#c"


def test_hybrid_prefers_healthy_then_idle() -> None:
    now = [1000.0]
    pool = Pool(clock=lambda: now[0])
    a, b, c = keys = creds(("a", 1, 0), ("b", 1, 0), ("c", 1, 0))
    pool.used(a, None, ok=False)
    now[0] += 1
    pool.used(b, None, ok=True)
    now[0] += 1
    pool.used(c, None, ok=True)
    assert [k.id for k in pool.order(keys, "hybrid")] == ["p#b", "p#c", "p#a"]
    now[0] += 3600  # failures fade
    assert pool.order(keys, "hybrid")[0].id == "p#a"  # now simply the one idle longest


def test_bindings_are_bounded_forgetting_the_least_recently_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    from babelgate.routing import pool as pool_module

    monkeypatch.setattr(pool_module, "MAX_BINDINGS", 3)
    pool = Pool()
    for session in ("a", "b", "c"):
        pool.bind(session, f"p#{session}")
    pool.bind("a", "p#a2")  # bound again: now the most recent
    pool.bind("d", "p#d")
    assert [pool.binding(s) for s in ("a", "b", "c", "d")] == ["p#a2", None, "p#c", "p#d"]
