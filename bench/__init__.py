"""babelgate's benchmark suite: `python -m bench.run` (or `make bench`) writes docs/BENCHMARKS.md.

Every server and client runs in its own process on 127.0.0.1: a fast fake upstream
(`bench.upstream`), the load generator (`bench.load`), babelgate itself and the peers
(`bench.peers`). Nothing here is imported by the gateway or by the tests.
"""
