"""`python -m bench.ab REF [--rounds N] [--load small-c64|stream-c64|...]`: babelgate at REF and this
checkout side by side, the same load on each in turn, N rounds, so drift on a shared machine hits
both alike. Prints one line per run and the medians."""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from bench import procs, scenarios
from bench.peers import CACHE
from bench.targets import Babelgate, Upstream

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
    parser.add_argument("--load", action="append", default=[], help=f"one of {', '.join(LOADS)}; repeatable (default small-c64)")
    args = parser.parse_args()
    settings = scenarios.Settings.full()
    work = Path(tempfile.mkdtemp(prefix="babelgate-ab-"))
    upstream = Upstream.start(work)
    targets = [Babelgate(), Babelgate.baseline(args.ref, procs.baseline_checkout(args.ref, CACHE))]
    running = [t.start(work, upstream.port, scenarios.models(settings)) for t in targets]
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
                    seen.setdefault(run.key, []).append((outcome["rps"], cpu))
                    print(
                        f"{name} round {round_ + 1} {run.key:20} {outcome['rps']:8.0f} req/s {cpu:7.0f} µs/req"
                        f" (others {outcome['other_cpu_cores']:.2f} cores)",
                        flush=True,
                    )
            for key, values in seen.items():
                print(
                    f"{name} median {key:20} {statistics.median(v[0] for v in values):8.0f} req/s "
                    f"{statistics.median(v[1] for v in values):7.0f} µs/req",
                    flush=True,
                )
    finally:
        for run in running:
            run.stop()
        procs.stop(upstream.proc)


if __name__ == "__main__":
    main()
