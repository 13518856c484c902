"""``python -m preflog.archive.worker_main``: one worker process of an archive run
(:mod:`preflog.archive.workers`). Its own module, so that running it imports nothing twice."""

import sys

from preflog.archive.workers import work

if __name__ == "__main__":
    protocol, sys.stdout = sys.stdout, sys.stderr  # a stray print must not break the protocol
    work(sys.stdin, protocol)
