"""The issue's targets, checked against one run's results (each row: target, measured, met)."""

from __future__ import annotations

from typing import Any

Row = list[str]


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _mark(ok: bool | None) -> str:
    return "-" if ok is None else ("yes" if ok else "**no**")


def _added(scenario: dict[str, Any] | None, target: str, metric: str, q: str) -> float | None:
    ours, floor = _get(scenario, target, metric, q), _get(scenario, "direct", metric, q)
    return None if ours is None or floor is None else float(ours) - float(floor)


def _latency_goal(results: dict[str, Any], target: str, label: str) -> Row:
    c64 = _get(results, "scenarios", "small", "c64")
    p50, p99 = _added(c64, target, "latency_ms", "p50"), _added(c64, target, "latency_ms", "p99")
    if p50 is None or p99 is None:
        return [f"added latency p50 ≤ 1 ms, p99 ≤ 5 ms at c64 ({label})", "not measured", "-"]
    return [f"added latency p50 ≤ 1 ms, p99 ≤ 5 ms at c64 ({label})", f"p50 +{p50:.1f} ms, p99 +{p99:.1f} ms", _mark(p50 <= 1 and p99 <= 5)]


def _paced_goal(results: dict[str, Any]) -> Row:
    loads = _get(results, "scenarios", "small") or {}
    paced = next((v for k, v in loads.items() if k.startswith("c64 paced")), None)
    name = "same, at 64 connections but a paced offered load (no queueing; for reference)"
    p50, p99 = _added(paced, "babelgate", "latency_ms", "p50"), _added(paced, "babelgate", "latency_ms", "p99")
    if p50 is None or p99 is None:
        return [name, "not measured", "-"]
    return [name, f"p50 +{p50:.2f} ms, p99 +{p99:.2f} ms (1 worker)", _mark(p50 <= 1 and p99 <= 5)]


def _throughput_goal(results: dict[str, Any], peer: str, factor: float, label: str) -> Row:
    c64 = _get(results, "scenarios", "small", "c64")
    ours, theirs = _get(c64, "babelgate", "rps"), _get(c64, peer, "rps")
    ours_n = _get(c64, "babelgate-workers", "rps") if _get(c64, "babelgate-workers", "rps") is not None else None
    name = f"throughput ≥ {factor:g}x {label} (c64)"
    if ours is None or not theirs:
        return [name, "not measured", "-"]
    text = f"{ours / theirs:.1f}x ({ours:,.0f} vs {theirs:,.0f} req/s, 1 worker)"
    if ours_n is not None:
        text += f"; {ours_n / theirs:.1f}x with workers"
    return [name, text, _mark(ours / theirs >= factor)]


def _ttft_goal(results: dict[str, Any]) -> Row:
    added = _added(_get(results, "scenarios", "stream", "c64"), "babelgate", "ttft_ms", "p50")
    if added is None:
        return ["time-to-first-token overhead ≤ 2 ms p50 (200-chunk stream, c64)", "not measured", "-"]
    return ["time-to-first-token overhead ≤ 2 ms p50 (200-chunk stream, c64)", f"+{added:.1f} ms", _mark(added <= 2)]


def _streams_goal(results: dict[str, Any], target: str, label: str) -> Row:
    held = _get(results, "scenarios", "held-streams", "held", target)
    name = f"1,000 concurrent streams: 0 errors, ≤ 100 KB each ({label})"
    if not held or "failed" in held:
        return [name, "not measured" if not held else "failed", "-" if not held else "**no**"]
    open_max = max(int(held.get("max_open_streams") or 0), 1)
    per_stream = (held["rss_peak_kb"] - held["rss_before_kb"]) / open_max
    text = f"{held['ok']} ok, {held['errors']} errors, {per_stream:.0f} KB/stream ({open_max} open at once)"
    return [name, text, _mark(held["errors"] == 0 and held["ok"] >= 1000 and per_stream <= 100)]


def _idle_goal(results: dict[str, Any], target: str, label: str) -> Row:
    idle = _get(results, "scenarios", "idle", target)
    if not idle:
        return [f"idle RSS ≤ 80 MB ({label})", "not measured", "-"]
    mb = idle["rss_kb"] / 1024
    return [f"idle RSS ≤ 80 MB ({label})", f"{mb:.1f} MB ({idle['processes']} processes)", _mark(mb <= 80)]


def _translate_goal(results: dict[str, Any]) -> Row:
    requests = _get(results, "translate", "babelgate", "requests")
    if not requests:
        return ["translating one 50 KB Claude Code request ≤ 1 ms", "not measured", "-"]
    worst = max(r["total_us"] for r in requests)
    return [
        "translating one 50 KB Claude Code request ≤ 1 ms",
        f"{worst / 1000:.2f} ms worst of {len(requests)} fixtures (JSON in → JSON out)",
        _mark(worst <= 1000),
    ]


def evaluate(results: dict[str, Any]) -> list[Row]:
    workers = results.get("meta", {}).get("workers", "N")
    return [
        _latency_goal(results, "babelgate", "1 worker"),
        _latency_goal(results, "babelgate-workers", f"{workers} workers"),
        _paced_goal(results),
        _throughput_goal(results, "litellm", 10, "LiteLLM"),
        _throughput_goal(results, "ccr", 2, "claude-code-router"),
        _ttft_goal(results),
        _streams_goal(results, "babelgate", "1 worker"),
        _streams_goal(results, "babelgate-workers", f"{workers} workers"),
        _idle_goal(results, "babelgate", "1 worker"),
        _idle_goal(results, "babelgate-workers", f"{workers} workers"),
        _translate_goal(results),
    ]
