"""Replaying the spool: the events a client could not deliver go out once the service takes them.

A :class:`Replayer` belongs to a client with a spool. Its daemon thread replays what the spool
holds when the client starts (an earlier process may have left events), and after a batch was
spooled it *probes*: it tries the oldest spooled batch again after a wait that grows with each
failure (``backoff`` doubling up to ``max_backoff``, jittered, or the service's ``Retry-After``),
so the spool drains by itself once the service answers, with no further log call. While the
service is down or refuses the key, the client sends new batches straight to the spool
(:attr:`Replayer.holding`) instead of trying each one; a refused key is probed slowly (every
``max_backoff`` seconds) and warned about once.

Every event of a replayed batch must be answered before its segment may go (see
:meth:`preflog.sdk.spool.DiskSpool.replay`): ``stored`` and ``duplicate`` count as ``replayed``,
``conflict`` and ``rejected`` with a reason as ``replay_rejected`` (each reason logged); events
refused because of the key (another project's key, a scope that may not write that type) or
answered without a reason stay in the spool.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from preflog.answers import AppendResult
from preflog.errors import RetryableError, Unauthorized
from preflog.sdk.base import Transport
from preflog.sdk.retry import RetryPolicy
from preflog.sdk.spool import DiskSpool
from preflog.sdk.stats import Warner

logger = logging.getLogger("preflog")

__all__ = ["Answers", "ReplayReport", "Replayer", "replay_spool", "sort_answers"]

# Fields whose rejection says "not with this key", not "never": the event names the client's
# project but the key belongs to another (``project``), or the key's scope may not write its type
# (``type``); the SDK built the event, so neither is a malformed one.
_KEY_FIELDS: Final = frozenset({"project", "type"})


@dataclass
class Answers:
    """The per-event answers of one delivered batch, sorted by what the client does with them."""

    stored: int = 0
    duplicates: int = 0
    conflicts: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # "field: reason" of each
    keep: list[dict[str, Any]] = field(default_factory=list)  # to the spool: not answered for good
    refused: str | None = None  # why the first kept event was refused


def sort_answers(events: Sequence[dict[str, Any]], results: Sequence[AppendResult]) -> Answers:
    """Sort ``results`` (one per event, in order; missing ones are kept) into :class:`Answers`."""
    out = Answers()
    for index, event in enumerate(events):
        result = results[index] if index < len(results) else None
        if result is None or (result.status == "rejected" and not result.reason):
            out.keep.append(event)
            out.refused = out.refused or "the transport gave no answer (or no reason) for an event"
        elif result.status == "stored":
            out.stored += 1
        elif result.status == "duplicate":
            out.duplicates += 1
        elif result.status == "conflict":
            out.conflicts.append(f"conflict: event {result.event_id} was stored before with other content")
        elif result.field in _KEY_FIELDS:
            out.keep.append(event)
            out.refused = out.refused or f"{result.field}: {result.reason}"
        else:
            out.rejected.append(f"{result.field}: {result.reason}")
    return out


class ReplayReport(NamedTuple):
    """What a client's replays did so far: events ``replayed`` and ``rejected``, events still
    ``pending`` in ``directory``, and the ``error`` that stopped the last replay (None: it ran to
    the end)."""

    replayed: int
    rejected: int
    pending: int
    directory: str
    error: str | None = None


class Replayer:
    """Drains ``spool`` through ``transport`` (one attempt per batch; the waits between passes
    are the retries), in a daemon thread started by :meth:`start`."""

    def __init__(
        self,
        spool: DiskSpool,
        transport: Transport,
        project: str,
        *,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        warn_every: int = 100,
        announce: bool = True,
    ) -> None:
        self.spool = spool
        self.transport = transport
        self.project = project
        self.policy = RetryPolicy(0, backoff, max_backoff)
        self.announce = announce  # log changes of state (a caller that reports them itself says no)
        self._warner = Warner(warn_every)
        self._reset()

    def _reset(self) -> None:
        self.holding: str | None = None  # "unavailable", "unauthorized", "failing": spool new batches
        self.hold_error: BaseException | None = None
        self.replayed = 0
        self.rejected = 0
        self.last_error: str | None = None
        self._failures = 0  # failed deliveries since the last replay that ran to the end
        self._holds = 0  # calls of hold(): tells the thread a batch was spooled meanwhile
        self._kept_refused = False
        self._pass_lock = threading.Lock()
        self._cond = threading.Condition()
        self._kick = self._idle = self._stopping = False
        self._active = False  # batches were spooled while holding: probe within `backoff`
        self._last_probe = 0.0  # time.monotonic() of the last replay pass
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------------------------ control

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="preflog-replay", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def after_fork(self) -> None:
        """In a forked child: fresh locks and counters, and a thread of its own."""
        self.spool.after_fork()
        self._reset()
        self.start()

    def hold(self, exc: BaseException) -> None:
        """A batch could not be delivered (``exc``) and was spooled: spool the next ones too, and
        probe after a wait. A refused key is warned about once, with the service's reason."""
        kind = "unauthorized" if isinstance(exc, Unauthorized) else "failing"
        if isinstance(exc, RetryableError):
            kind = "unavailable"
        with self._cond:
            was, self.holding, self.hold_error = self.holding, kind, exc
            self._failures += 1
            self._holds += 1
            self._last_probe = time.monotonic()  # a failed delivery tells as much as a probe
            if self._idle:
                self._kick = True
                self._cond.notify_all()
        if kind != was and self.announce:  # one warning per change of state, not one per batch
            why = "refused the API key" if kind == "unauthorized" else "did not take a batch"
            logger.warning(
                "preflog: the service %s (%s); events are kept in the spool %s and delivered %s",
                why,
                exc,
                self.spool.directory,
                "by a client with a valid key (or `preflog spool replay`)"
                if kind == "unauthorized"
                else "when it answers again",
            )

    def spooled_while_holding(self) -> None:
        """The client is still logging while the service is down: probe again at most
        ``backoff`` seconds after the last probe (not at the end of a long backoff), so delivery
        resumes within about a second of the service's return; a refused key stays slow."""
        with self._cond:
            if self.holding != "unauthorized":
                self._active = True
                self._cond.notify_all()

    def wake(self) -> None:
        """Events were spooled while nothing held: replay them (slowly, if they are refused again)."""
        with self._cond:
            if self._idle:
                self._kick = True
                self._cond.notify_all()

    def report(self) -> ReplayReport:
        return ReplayReport(
            self.replayed, self.rejected, self.spool.pending(), str(self.spool.directory), self.last_error
        )

    # ------------------------------------------------------------------------------------ one pass

    def replay_now(self) -> ReplayReport:
        """One replay of everything in the spool, in the calling thread (waits for a pass that
        is running). The report's ``error`` says why it stopped early, if it did."""
        with self._pass_lock:
            self._kept_refused = False
            self._last_probe = time.monotonic()
            try:
                self.spool.replay(self._deliver)
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                self.hold(exc)
                logger.debug("preflog: spool replay stopped: %s", exc)
            else:
                self.last_error = None
                with self._cond:
                    was, self.holding, self.hold_error, self._failures = self.holding, None, None, 0
                if was is not None and self.announce:
                    logger.info(
                        "preflog: the service answers again; %d spooled events delivered", self.replayed
                    )
            return self.report()

    def _deliver(self, events: list[dict[str, Any]], project: str) -> list[dict[str, Any]]:
        answers = sort_answers(events, self.transport.send(events, project))
        self.replayed += answers.stored + answers.duplicates
        for why in answers.conflicts + answers.rejected:
            self.rejected += 1
            self._warner.warn("replay_rejected", "a spooled event was rejected: %s", why)
        if answers.keep:
            self._kept_refused = True
            self._warner.warn(
                "kept", "%d spooled events stay in the spool: %s", len(answers.keep), answers.refused
            )
        return answers.keep

    # ------------------------------------------------------------------------------------ the thread

    def _run(self) -> None:
        delay = 0.0
        errors = 0
        while not self._stopping:
            if delay > 0 and self._sleep(delay):
                return
            try:
                delay = self._step()
                errors = 0
            except Exception as exc:  # a bug, or the spool's directory failing: never silently
                logger.exception("preflog: the spool replay hit an unexpected error")
                self.last_error = f"{type(exc).__name__}: {exc}"  # in stats(), not only the log
                delay = max(self.policy.backoff, self.policy.delay(errors))  # doubling to max_backoff
                errors += 1

    def _step(self) -> float:
        """One turn of the thread: a pass when something waits, else sleep until there is; the
        wait before the next turn."""
        with self._cond:
            holds = self._holds
        if not self.spool.has_pending():  # the names, not a count: a put-back never reads as empty
            with self._cond:
                if self._holds != holds:  # a batch was spooled after we looked
                    return self._probe_delay()
                self.holding = self.hold_error = None  # nothing waits: the next batch tries for itself
                self._failures = 0
                self._idle = True
                # Woken by this client's batches; and a look every max_backoff for what another
                # client or process left in the directory, whose own replay may have ended.
                if not (self._kick or self._stopping):
                    self._cond.wait(self.policy.max_backoff)
                self._idle = self._kick = False
                return self._probe_delay() if self.holding is not None else 0.0
        done = self.replayed + self.rejected
        self.replay_now()
        if self.holding is not None:
            return self._probe_delay()
        if self._kept_refused:
            return self.policy.max_backoff  # events refused for the key: try them again slowly
        if self.replayed + self.rejected == done:
            return self.policy.backoff  # what is pending is claimed by another process's replay
        return 0.0

    def _probe_delay(self) -> float:
        if self.holding == "unauthorized":
            return self.policy.max_backoff  # a refused key: probe slowly
        retry_after = getattr(self.hold_error, "retry_after", None)
        wait = self.policy.delay(max(0, self._failures - 1), retry_after)
        return max(self.policy.backoff, wait)

    def _sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` — less when batches are spooled meanwhile (see
        :meth:`spooled_while_holding`) — or until :meth:`stop`; True when stopping."""
        deadline = time.monotonic() + seconds
        with self._cond:
            while not (self._kick or self._stopping):
                if self._active:
                    deadline = min(deadline, self._last_probe + self.policy.backoff)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            self._kick = self._active = False
            return self._stopping


def replay_spool(spool: DiskSpool, transport: Transport, project: str = "default") -> ReplayReport:
    """Replay ``spool`` through ``transport`` once, in this thread, and report (``preflog spool
    replay``). Events rejected with a reason are logged; the report's ``error`` says why the replay
    stopped early (the service is down, the key was refused), and ``pending`` what is left."""
    return Replayer(spool, transport, project, announce=False).replay_now()
