"""The background batcher behind :class:`preflog.Client`: a bounded queue, one daemon worker thread,
batches by count, interval and bytes, the one retry policy, the spool, counters, flush at exit,
fork safety.

Nothing here raises into the host application once an event is queued. The queue is a
``collections.deque`` (an append is ~40 ns, ``queue.Queue.put`` ~600 ns); producers never take a lock
on the common path, and wake the worker only when a batch is full. The worker takes records under
a lock, builds and checks the events, and hands them to the transport through the client's
:class:`~preflog.sdk.retry.RetryPolicy` (only a ``RetryableError`` is retried). A batch that is not
delivered goes to the spool when there is one, and its :class:`~preflog.sdk.replay.Replayer`
takes over; what each counter means is in :mod:`preflog.sdk.stats`.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Any, Final

from preflog.answers import AppendResult
from preflog.errors import ConfigError, FieldError, RetryableError, Unauthorized
from preflog.events import Limits
from preflog.sdk.base import Spool, Transport
from preflog.sdk.build import Clock, Record, deep_check
from preflog.sdk.replay import Replayer, ReplayReport, sort_answers
from preflog.sdk.retry import RetryPolicy
from preflog.sdk.spool import DiskSpool, SpoolFull
from preflog.sdk.stats import COUNTED, ClientStats, Tally, Warner

logger = logging.getLogger("preflog")

__all__ = ["BatchOptions", "Batcher", "ClientStats"]

ON_FULL: Final = ("drop_new", "drop_oldest", "block")


@dataclass(frozen=True)
class BatchOptions:
    """How the worker batches and retries; see :class:`preflog.Client` for each option."""

    batch_size: int = 500
    max_batch_size: int | None = None
    flush_interval: float = 1.0
    max_batch_bytes: int | None = None
    max_queue: int = 100_000
    on_full: str = "drop_new"
    block_timeout: float = 1.0
    max_retries: int = 3
    retry_backoff: float = 0.1
    exit_timeout: float = 5.0
    warn_every: int = 100
    replay_backoff: float = 1.0
    replay_max_backoff: float = 60.0

    def __post_init__(self) -> None:
        for name in ("batch_size", "max_batch_bytes", "max_queue", "warn_every"):
            value = getattr(self, name)
            if (value is not None or name != "max_batch_bytes") and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.max_batch_size is not None and (
            not isinstance(self.max_batch_size, int) or self.max_batch_size < self.batch_size
        ):
            raise ConfigError(f"max_batch_size must be an integer >= batch_size, got {self.max_batch_size!r}")
        for name in (
            "flush_interval",
            "block_timeout",
            "retry_backoff",
            "exit_timeout",
            "replay_backoff",
            "replay_max_backoff",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"{name} must be a number of seconds >= 0, got {value!r}")
        if self.flush_interval <= 0:
            raise ConfigError("flush_interval must be > 0")
        if not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ConfigError(f"max_retries must be an integer >= 0, got {self.max_retries!r}")
        if self.on_full not in ON_FULL:
            raise ConfigError(f"on_full must be one of {', '.join(ON_FULL)}, got {self.on_full!r}")


class Batcher:
    """Queue + worker for one client. ``put`` is the hot path; everything else is off it."""

    def __init__(
        self,
        transport: Transport,
        project: str,
        options: BatchOptions,
        limits: Limits,
        spool: Spool | None = None,
    ) -> None:
        self.transport = transport
        self.project = project
        self.options = options
        self.limits = limits
        self.spool = spool
        self.retry = getattr(transport, "retry", None) or RetryPolicy(
            options.max_retries, options.retry_backoff
        )
        self.replayer: Replayer | None = None
        if isinstance(spool, DiskSpool):  # a spool that can be replayed: the replayer drains it
            self.replayer = Replayer(
                spool,
                transport,
                project,
                backoff=options.replay_backoff,
                max_backoff=options.replay_max_backoff,
                warn_every=options.warn_every,
            )
        hint = transport.backlog_batch_size or 0
        self._take_max = options.max_batch_size or max(options.batch_size, hint)
        self._bytes_max = options.max_batch_bytes or transport.batch_bytes
        self._reset()
        _LIVE.add(self)
        self._start()

    # ------------------------------------------------------------------------------------------ state

    def _reset(self) -> None:
        """Fresh queue, locks and counters: at construction, and in a forked child."""
        self._queue: deque[Record] = deque()
        self._max_queue = self.options.max_queue
        self._batch_size = self.options.batch_size
        self._lock = threading.Lock()
        self._progress = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._woken = False
        self._abort = threading.Event()  # set when close() gives up waiting: no more retry sleeps
        self._flushers = 0
        self._tick = False
        self._next_tick = time.monotonic() + self.options.flush_interval
        self._closing = False
        self._closed = False
        self._in_flight = 0
        self._done = 0  # records taken off the queue and finished (or dropped from it)
        self._totals = dict.fromkeys(COUNTED, 0)
        self._last_error: str | None = None
        self._warner = Warner(self.options.warn_every)
        self._clock = Clock()
        self._thread: threading.Thread | None = None

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="preflog-sdk", daemon=True)
        self._thread.start()
        if self.replayer is not None:
            self.replayer.start()

    def after_fork_child(self) -> None:
        """In a forked child: the parent's queued events stay the parent's (never sent twice); the
        child starts empty with its own worker, replayer and connection."""
        self._reset()
        self.transport.after_fork()
        if self.replayer is not None:
            self.replayer.after_fork()
        self._thread = threading.Thread(target=self._run, name="preflog-sdk", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------------------------------ producers

    def put(self, record: Record) -> None:
        q = self._queue
        if len(q) >= self._max_queue:
            self._full(record)
            return
        q.append(record)
        if len(q) >= self._batch_size and not self._woken:
            self._woken = True
            self._wake.set()

    def _full(self, record: Record) -> None:
        if self._closed:
            self._drop_new("the client is closed")
            return
        policy = self.options.on_full
        if policy == "block" and self._wait_for_space():
            self._queue.append(record)
            self._wake.set()
            return
        if policy == "drop_oldest":
            with self._lock:
                try:
                    self._queue.popleft()
                except IndexError:
                    pass
                else:
                    self._done += 1
                    self._totals["dropped"] += 1
                self._queue.append(record)
            self._warner.warn("dropped", "queue full (%d events): dropped the oldest", self._max_queue)
            return
        self._drop_new(f"queue full ({self._max_queue} events)")

    def _wait_for_space(self) -> bool:
        self._wake.set()
        deadline = time.monotonic() + self.options.block_timeout
        with self._progress:
            while len(self._queue) >= self._max_queue and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._progress.wait(remaining)
        return not self._closed

    def _drop_new(self, why: str) -> None:
        with self._lock:
            self._totals["dropped"] += 1
        self._warner.warn("dropped", "%s: dropped an event", why)

    # ------------------------------------------------------------------------------------------ control

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every event queued before this call is delivered (or counted as not);
        False when ``timeout`` seconds passed first."""
        if threading.current_thread() is self._thread:
            return False
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._progress:
            target = self._done + self._in_flight + len(self._queue)
            self._flushers += 1
            try:
                self._wake.set()
                while self._done < target:
                    if self._thread is None or not self._thread.is_alive():
                        return False
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._progress.wait(remaining if remaining is not None else 0.5)
                return True
            finally:
                self._flushers -= 1

    def close(self, timeout: float | None = None) -> bool:
        """Flush, stop the worker and close the transport. Events logged afterwards are dropped
        (and counted). True when everything queued was delivered in time."""
        if self._closed:
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        delivered = self.flush(timeout)
        with self._lock:
            self._closing = self._closed = True
            self._max_queue = 0  # later calls take the full-queue path, which counts them as dropped
            self._progress.notify_all()
        if not delivered:
            self._abort.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining if delivered else min(remaining or 1.0, 1.0))
        finished = thread is None or not thread.is_alive()
        if self.replayer is not None:
            self.replayer.stop(timeout=1.0)
        if finished:
            self._drop_leftovers()
            self.transport.close()
        _LIVE.discard(self)
        return delivered and finished

    def _drop_leftovers(self) -> None:
        with self._lock:
            n = len(self._queue)
            self._queue.clear()
            self._done += n
            self._totals["dropped"] += n

    def stats(self) -> ClientStats:
        with self._lock:
            t = dict(self._totals)
            queued, in_flight = len(self._queue), self._in_flight
            last_error = self._last_error
        events = ("sent", "duplicates", "conflicts", "rejected", "failed", "spooled", "dropped")
        logged = queued + in_flight + sum(t[k] for k in events)
        replay = self.replayer
        extra = {}
        if replay is not None:
            last_error = last_error or replay.last_error
            extra = {
                "replayed": replay.replayed,
                "replay_rejected": replay.rejected,
                "spool_pending": replay.spool.pending(),
            }
        return ClientStats(
            logged=logged, queued=queued, in_flight=in_flight, last_error=last_error, **t, **extra
        )

    def replay_spool(self) -> ReplayReport | None:
        """Replay the spool now, in the calling thread; None when this client has no disk spool."""
        return None if self.replayer is None else self.replayer.replay_now()

    # ------------------------------------------------------------------------------------------ worker

    def _run(self) -> None:
        while True:
            self._wait_for_work()
            try:
                self._drain()
            except Exception:  # a bug here must not kill the worker silently
                logger.exception("preflog: the SDK worker hit an unexpected error")
            if self._closing and not self._queue:
                return

    def _wait_for_work(self) -> None:
        timeout = self._next_tick - time.monotonic()
        if timeout <= 0:
            self._tick = True
            self._next_tick = time.monotonic() + self.options.flush_interval
            return
        self._wake.clear()
        self._woken = False
        if len(self._queue) >= self._batch_size or self._flushers or self._closing:
            return
        self._wake.wait(timeout)

    def _drain(self) -> None:
        while self._queue:
            if len(self._queue) < self._batch_size and not (self._flushers or self._closing or self._tick):
                break
            self._process(self._take())
        self._tick = False

    def _take(self) -> list[Record]:
        with self._lock:
            q = self._queue
            # A backlog goes out in bigger batches: a store's per-batch cost (a commit) is amortized.
            records = [q.popleft() for _ in range(min(self._take_max, len(q)))]
            self._in_flight += len(records)
            self._progress.notify_all()  # room for producers blocked on a full queue
        return records

    def _process(self, records: list[Record]) -> None:
        tally = Tally()
        try:
            for chunk in self._build(records, tally):
                self._deliver(chunk, tally)
        finally:
            self._finish(len(records), tally)

    def _build(self, records: list[Record], tally: Tally) -> list[list[dict[str, Any]]]:
        """Events of ``records`` that pass the size checks, split into chunks of at most
        ``max_batch_bytes`` (estimated)."""
        chunks: list[list[dict[str, Any]]] = [[]]
        size = 0
        limit = self._bytes_max
        for record in records:
            try:
                event = record[0](record, self.project, self._clock)
                nbytes, problem = deep_check(event, self.limits)
            except Exception as exc:  # e.g. an object that is not JSON in metadata
                nbytes, problem = 0, FieldError("", f"could not build the event: {type(exc).__name__}: {exc}")
            if problem is not None:
                self._reject(str(problem), tally)
                continue
            if size + nbytes > limit and chunks[-1]:
                chunks.append([])
                size = 0
            chunks[-1].append(event)
            size += nbytes
        return [chunk for chunk in chunks if chunk]

    def _reject(self, why: str, tally: Tally) -> None:
        tally.rejected += 1
        tally.errors.append(f"rejected: {why}")
        self._warner.warn("rejected", "event rejected: %s", why)

    def _deliver(self, events: list[dict[str, Any]], tally: Tally) -> None:
        replayer = self.replayer
        if replayer is not None and replayer.holding is not None and replayer.hold_error is not None:
            # The service is down or refused the key: straight to the spool, whose replayer probes.
            self._on_failed_batch(events, replayer.hold_error, tally)
            replayer.spooled_while_holding()
            return

        def on_retry(_: RetryableError) -> None:
            tally.retries += 1

        def attempt() -> list[AppendResult]:
            return self.transport.send(events, self.project)

        try:
            results = self.retry.call(attempt, stop=self._abort, on_retry=on_retry)
        except Exception as exc:  # a transport bug too: never raised into the host
            self._on_failed_batch(events, exc, tally)
            if replayer is not None and self.spool is not None:
                replayer.hold(exc)
            return
        tally.batches += 1
        self._count_results(events, results, tally)

    def _count_results(self, events: list[dict[str, Any]], results: list[AppendResult], tally: Tally) -> None:
        answers = sort_answers(events, results)
        tally.sent += answers.stored
        tally.duplicates += answers.duplicates
        tally.conflicts += len(answers.conflicts)
        tally.errors += answers.conflicts
        for why in answers.rejected:
            self._reject(why, tally)
        if not answers.keep:
            return
        # Refused for the key (or not answered): kept, like a batch refused whole. When nothing of
        # the batch was taken the key is refused outright (another project's): hold, as for a 401.
        refused = Unauthorized(answers.refused or "refused")
        self._on_failed_batch(answers.keep, refused, tally)
        if self.replayer is None:
            return
        if len(answers.keep) == len(events):
            self.replayer.hold(refused)
        else:
            self._warner.warn("kept", "%d events kept in the spool: %s", len(answers.keep), refused)
            self.replayer.wake()

    def _on_failed_batch(self, events: list[dict[str, Any]], exc: BaseException, tally: Tally) -> None:
        """A batch not delivered (after the retries, if ``exc`` was retryable): to the spool if
        there is one (the HTTP transport's disk spool plugs in here), else counted as failed."""
        why = f"{type(exc).__name__}: {exc}"
        refused = isinstance(exc, Unauthorized)
        if self.spool is not None:
            try:
                self.spool.save(events, self.project)
            except Exception as spool_exc:
                why += f"; the spool refused it: {type(spool_exc).__name__}: {spool_exc}"
                if isinstance(spool_exc, SpoolFull):  # at its size cap: dropped, like a full queue
                    tally.dropped += len(events)
                    tally.errors.append(f"dropped: {why}")
                    self._warner.warn("dropped", "could not deliver %d events: %s", len(events), why)
                    return
            else:
                tally.spooled += len(events)
                tally.unauthorized += len(events) if refused else 0
                tally.errors.append(f"spooled after delivery failed: {why}")
                return
        tally.failed += len(events)
        tally.unauthorized += len(events) if refused else 0
        tally.errors.append(f"delivery failed: {why}")
        self._warner.warn(
            "unauthorized" if refused else "failed", "could not deliver %d events: %s", len(events), why
        )

    def _finish(self, n: int, tally: Tally) -> None:
        with self._lock:
            self._in_flight -= n
            self._done += n
            for key in COUNTED:
                self._totals[key] += getattr(tally, key)
            if tally.errors:
                self._last_error = tally.errors[-1]
            self._progress.notify_all()


# ---------------------------------------------------------------------------------------------- process hooks

_LIVE: weakref.WeakSet[Batcher] = weakref.WeakSet()


def _close_all_at_exit() -> None:
    for batcher in list(_LIVE):
        try:
            batcher.close(batcher.options.exit_timeout)
        except Exception:  # never turn an exit into a traceback
            logger.exception("preflog: flush at exit failed")


def _after_fork_in_child() -> None:
    for batcher in list(_LIVE):
        batcher.after_fork_child()


atexit.register(_close_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
