"""One SDK client process for the crash tests: logs inferences over HTTP for a while, then makes
sure the service is back, flushes, and writes what it logged and its stats as JSON.

    python -m tests.reliability.client_proc URL KEY SPOOL_DIR OUT SECONDS
"""

from __future__ import annotations

import json
import sys
import time

import httpx

import preflog


def main(url: str, key: str, spool_dir: str, out: str, seconds: float) -> None:
    from preflog.sdk.http import HTTPTransport

    transport = HTTPTransport(url, api_key=key, retries=2, backoff=0.05, spool_dir=spool_dir)
    client = preflog.Client(transport=transport, batch_size=25, flush_interval=0.02, max_retries=1)
    logged: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        logged.append(client.log_inference("crash test", outputs=["a", "b"], model="m", user_id=out[-8:]))
        time.sleep(0.001)
    until = time.monotonic() + 60
    while time.monotonic() < until:  # the service is restarted by the test; wait for it
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    logged.append(
        client.log_inference("after restart", outputs=["a"], model="m")
    )  # a send that works replays the spool
    client.flush(timeout=60)
    until = time.monotonic() + 60
    while client.replay_spool().pending and time.monotonic() < until:
        time.sleep(0.1)  # what was spooled during the outage, delivered now rather than by the background
    stats = client.stats().to_dict()
    client.close()
    with open(out, "w") as fh:
        json.dump(
            {
                "logged": logged,
                "stats": stats,
                "spool_left": transport.spool.pending() if transport.spool else 0,
            },
            fh,
        )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]))
