"""bench/translate.py times babelgate's own translation calls; it must keep up with their API (a
renamed parser method once left the benchmark's figure "not measured" without a failing test)."""

from __future__ import annotations

from bench import translate


def test_the_translation_benchmark_runs_against_the_current_api() -> None:
    result = translate.babelgate(budget=0.01)
    assert result["impl"] == "babelgate" and result["requests"]
    assert all(r["total_us"] > 0 and r["bytes"] > 40_000 for r in result["requests"])
    assert result["responses_us"][f"sse_{translate.STREAM_CHUNKS}_chunks"] > 0
