"""Start the real ``preflog serve`` (uvicorn) on a free loopback port, for tests and benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

PREFLOG = [sys.executable, "-m", "preflog.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(db: str, *args: str) -> str:
    """Run ``preflog --db DB ARGS``; return its stdout (raise with stderr on failure)."""
    done = subprocess.run([*PREFLOG, "--db", db, *args], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"preflog {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done.stdout


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[str]
    banner: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_server(
    db: str, *extra: str, env: dict[str, str] | None = None, timeout_s: float = 60
) -> LiveServer:
    """``preflog --db DB serve --port P EXTRA``; wait until ``/healthz`` answers."""
    port = free_port()
    args: Sequence[str] = [*PREFLOG, "--db", db, "serve", "--host", "127.0.0.1", "--port", str(port), *extra]
    log = Path(db).with_suffix(".serve.log") if "://" not in db else Path(os.devnull)
    process = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=open(log, "w"),  # noqa: SIM115 - the child owns it for its lifetime
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert process.stdout is not None
    banner = process.stdout.readline()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"preflog serve exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return LiveServer(url, process, banner)
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"preflog serve did not answer on {url} within {timeout_s} s")
