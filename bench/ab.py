"""`python -m bench.ab REF [--rounds N] [--load small-c64|stream-c64|...]`: babelgate at REF and this
checkout side by side, the same load on each in turn, N rounds, so drift on a shared machine hits
both alike. With `--direct` the fake upstream itself runs too (the floor: added = target - direct).
Prints one line per run (req/s, CPU, p50, TTFT p50) and the medians with their range."""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from bench import procs, scenarios
from bench.peers import CACHE
from bench.targets import Babelgate, Direct, Upstream

LOADS = {
    f"{s}-{load.name}".replace(" ", "-"): load
    for s in scenarios.LOAD_SCENARIOS
    if s != "held-streams"
    for load in scenarios.loads(s, scenarios.Settings.full())
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__.split("\n\n")[0])
    parser.add_argument("ref")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--direct", action="store_true", help="also run each load straight at the fake upstream (the floor)")
    parser.add_argument("--load", action="append", default=[], help=f"one of {', '.join(LOADS)}; repeatable (default small-c64)")
    args = parser.parse_args()
    settings = scenarios.Settings.full()
    work = Path(tempfile.mkdtemp(prefix="babelgate-ab-"))
    upstream = Upstream.start(work)
    targets = [Babelgate(), Babelgate.baseline(args.ref, procs.baseline_checkout(args.ref, CACHE))]
    running = [t.start(work, upstream.port, scenarios.models(settings)) for t in targets]
    if args.direct:
        running.insert(0, Direct().start(work, upstream.port, []))
    try:
        for run in running:
            scenarios.prime(run)
        for name in args.load or ["small-c64"]:
            load = LOADS[name]
            seen: dict[str, list[tuple[float, float]]] = {}
            for round_ in range(args.rounds):
                for run in running if round_ % 2 == 0 else running[::-1]:
                    outcome = scenarios.run_load(run, upstream.proc, load, settings, work)
                    cpu = outcome["cpu_us_per_request"].get("target", 0.0)
                    ttft = (outcome.get("ttft_ms") or {}).get("p50", 0.0)
                    p50 = (outcome.get("latency_ms") or {}).get("p50", 0.0)
                    seen.setdefault(run.key, []).append((outcome["rps"], cpu, p50, ttft))
                    print(
                        f"{name} round {round_ + 1} {run.key:20} {outcome['rps']:8.0f} req/s {cpu:7.0f} µs/req"
                        f" p50 {p50:7.2f} ms TTFT p50 {ttft:7.2f} ms (others {outcome['other_cpu_cores']:.2f} cores)",
                        flush=True,
                    )
            for key, values in seen.items():
                rps, cpu, p50, ttft = (sorted(v[i] for v in values) for i in range(4))
                print(
                    f"{name} median {key:20} {statistics.median(rps):8.0f} req/s {statistics.median(cpu):7.0f} µs/req"
                    f" p50 {statistics.median(p50):7.2f} ms TTFT p50 {statistics.median(ttft):7.2f} ms"
                    f" (TTFT range {ttft[0]:.2f}-{ttft[-1]:.2f}, req/s range {rps[0]:.0f}-{rps[-1]:.0f})",
                    flush=True,
                )
    finally:
        for run in running:
            run.stop()
        procs.stop(upstream.proc)


if __name__ == "__main__":
    main()
