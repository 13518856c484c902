"""A PostgreSQL cluster of a test's own, for tests that stop, start or restart the server: doing
that to the shared test cluster (``PREFLOG_TEST_POSTGRES_URL``) breaks every other test using it,
and on a machine whose URL names another server the script would stop the wrong one.
``scripts/pg-test-cluster.sh`` makes it on a free port in a temporary directory (initdb, ~2 s)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import require

SCRIPT = str(Path(__file__).resolve().parents[1] / "scripts" / "pg-test-cluster.sh")


@dataclass(frozen=True)
class Cluster:
    url: str
    env: dict[str, str]  # what points the script at this cluster

    def run(self, command: str) -> None:
        """``scripts/pg-test-cluster.sh COMMAND`` (start, stop, restart) on this cluster."""
        done = subprocess.run([SCRIPT, command], env=self.env, capture_output=True, text=True)
        assert done.returncode == 0, f"pg-test-cluster.sh {command}: {done.stderr}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def own_cluster() -> Iterator[Cluster]:
    require(
        any(Path("/usr/lib/postgresql").glob("*/bin/initdb")),
        "PostgreSQL is not installed (apt-get install -y postgresql)",
    )
    home = Path(tempfile.mkdtemp(prefix="preflog-own-pg-"))
    home.chmod(0o755)  # the server runs as the postgres user when the tests run as root
    env = {**os.environ, "PREFLOG_PG_DIR": str(home / "pg"), "PREFLOG_PG_PORT": str(_free_port())}
    started = subprocess.run([SCRIPT, "start"], env=env, capture_output=True, text=True)
    assert started.returncode == 0, f"pg-test-cluster.sh start: {started.stderr}"
    try:
        yield Cluster(started.stdout.strip(), env)
    finally:
        subprocess.run([SCRIPT, "stop"], env=env, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)
