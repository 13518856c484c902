"""``preflog serve`` as ``make run`` uses it (issue #12, item 5), in real processes on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("needs_store")

PREFLOG = [sys.executable, "-m", "preflog"]


def test_a_busy_port_is_refused_before_anything_is_printed_or_made(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*PREFLOG, "--db", str(db), "serve", "--demo", "--host", "127.0.0.1", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2
    assert done.stdout == ""  # no banner, no key
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"preflog: error: --port {port}: cannot listen on 127.0.0.1:{port}")
    assert not db.exists()  # no demo loaded, no key minted
