"""Issue 15's targets (faster than the Rust gateways), checked against one run's results."""

from __future__ import annotations

from typing import Any

from bench.goals import Row, _added, _get, _mark


def _ratio_goal(results: dict[str, Any], scenario: str, load: str, peer: str, factor: float, name: str) -> Row:
    by_target = _get(results, "scenarios", scenario, load)
    ours, theirs = _get(by_target, "babelgate", "rps"), _get(by_target, peer, "rps")
    if ours is None or not theirs or _get(by_target, peer, "errors"):
        why = "not measured" if ours is None or theirs is None else f"{peer} failed ({_get(by_target, peer, 'errors')} errors)"
        return [name, why, "-"]
    return [name, f"{ours / theirs:.2f}x ({ours:,.0f} vs {theirs:,.0f} req/s, 1 worker)", _mark(ours / theirs >= factor)]


def _c1_goal(results: dict[str, Any]) -> Row:
    name = "added p50 ≤ 0.5 ms, p99 ≤ 2 ms at c1 (OpenAI in → out; Anthropic in)"
    parts, met = [], True
    for scenario in ("openai-small", "small"):
        c1 = _get(results, "scenarios", scenario, "c1")
        p50, p99 = _added(c1, "babelgate", "latency_ms", "p50"), _added(c1, "babelgate", "latency_ms", "p99")
        if p50 is None or p99 is None:
            continue
        parts.append(f"p50 +{p50:.2f}, p99 +{p99:.2f} ms")
        met = met and p50 <= 0.5 and p99 <= 2
    return [name, "; ".join(parts) or "not measured", _mark(met) if parts else "-"]


def _ttft_goal(results: dict[str, Any]) -> Row:
    name = "added TTFT p50 ≤ 2 ms at c64 (OpenAI 20 chunks 5 ms apart; Anthropic 200 chunks)"
    parts, met = [], True
    for scenario, load in (("openai-stream", "c64 (20 chunks, 5 ms apart)"), ("stream", "c64")):
        added = _added(_get(results, "scenarios", scenario, load), "babelgate", "ttft_ms", "p50")
        if added is not None:
            parts.append(f"+{added:.1f} ms")
            met = met and added <= 2
    return [name, "; ".join(parts) or "not measured", _mark(met) if parts else "-"]


def _idle_goal(results: dict[str, Any]) -> Row:
    idle = _get(results, "scenarios", "idle", "babelgate")
    if not idle:
        return ["idle RSS ≤ 60 MB (1 worker)", "not measured", "-"]
    mb = idle["rss_kb"] / 1024
    return ["idle RSS ≤ 60 MB (1 worker)", f"{mb:.1f} MB", _mark(mb <= 60)]


def evaluate(results: dict[str, Any]) -> list[Row]:
    return [
        _ratio_goal(results, "openai-small", "c64", "tensorzero", 1, "non-streaming c64 ≥ TensorZero (OpenAI in → out)"),
        _ratio_goal(results, "small", "c64", "ccr", 3, "non-streaming c64 ≥ 3x claude-code-router (Anthropic in → OpenAI out)"),
        _ratio_goal(results, "openai-stream", "c64 (20 chunks)", "tensorzero", 1.5, "streaming c64 ≥ 1.5x TensorZero (20 chunks)"),
        _c1_goal(results),
        _ttft_goal(results),
        _idle_goal(results),
    ]
