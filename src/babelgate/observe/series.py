"""The dashboard's overview: request-log rows folded into per-minute points and totals."""

from __future__ import annotations

import math
from typing import Any

BUCKET = 60  # seconds per point


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def overview(rows: list[dict[str, Any]], since: float) -> dict[str, Any]:
    start = int(since // BUCKET) * BUCKET
    points = {start + i * BUCKET: _empty() for i in range(61)}
    latencies: dict[int, list[float]] = {}
    ttfts: dict[int, list[float]] = {}
    for row in rows:
        slot = int(row["started"] // BUCKET) * BUCKET
        point = points.get(slot)
        if point is None:
            continue
        point["requests"] += 1
        point["errors"] += row["status"] >= 400
        point["input_tokens"] += row["input_tokens"] + row["cache_read_tokens"] + row["cache_write_tokens"]
        point["output_tokens"] += row["output_tokens"]
        point["cost"] += row["cost"]
        latencies.setdefault(slot, []).append(row["latency_ms"])
        if row.get("ttft_ms") is not None:
            ttfts.setdefault(slot, []).append(row["ttft_ms"])
    series = []
    for slot, point in sorted(points.items()):
        lat, ttft = latencies.get(slot, []), ttfts.get(slot, [])
        quantiles = {"p50_ms": _percentile(lat, 0.5), "p99_ms": _percentile(lat, 0.99), "ttft_p50_ms": _percentile(ttft, 0.5)}
        series.append({"t": slot, **point, **quantiles})
    every_latency = [r["latency_ms"] for r in rows]
    totals = {
        "requests": len(rows),
        "errors": sum(r["status"] >= 400 for r in rows),
        "input_tokens": sum(p["input_tokens"] for p in points.values()),
        "output_tokens": sum(p["output_tokens"] for p in points.values()),
        "cost": round(sum(p["cost"] for p in points.values()), 6),
        "p50_ms": _percentile(every_latency, 0.5),
        "p99_ms": _percentile(every_latency, 0.99),
        "ttft_p50_ms": _percentile([r["ttft_ms"] for r in rows if r.get("ttft_ms") is not None], 0.5),
    }
    return {"bucket_seconds": BUCKET, "series": series, "totals": totals}


def _empty() -> dict[str, Any]:
    return {"requests": 0, "errors": 0, "input_tokens": 0, "output_tokens": 0, "cost": 0.0}
