"""`python tensorzero_serve.py CONFIG`: TensorZero's gateway, started in-process from its PyPI wheel.

Run by the bench-only venv's python (bench/peers_openai.py), not babelgate's. The wheel's
`_start_http_gateway` binds 127.0.0.1 on a free port; the first line printed is its base URL
(`http://127.0.0.1:PORT/openai/v1`). The gateway's own threads serve until SIGTERM.
"""

import signal
import sys
import threading

import tensorzero

stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
gateway = tensorzero._start_http_gateway(
    config_file=sys.argv[1], clickhouse_url=None, postgres_url=None, valkey_url=None, async_setup=False
)
print(f"BASE_URL {gateway.base_url}", flush=True)
stop.wait()
gateway.close()
