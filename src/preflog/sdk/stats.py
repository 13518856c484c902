"""What a client counts (:class:`ClientStats`), and how it warns without flooding the log.

Every accepted call is ``logged`` and ends in exactly one of ``queued`` (waiting), ``in_flight``
(taken by the worker), ``sent`` (stored), ``duplicates``, ``conflicts``, ``rejected`` (failed a
size check, or rejected by the store with a reason), ``failed`` (not delivered, and no spool to
keep it), ``spooled`` (kept on disk, to be replayed) or ``dropped`` (the queue or the spool was
full, or the client was closed).

Beside that sum: ``unauthorized`` (events spooled because the service refused the key),
``replayed`` and ``replay_rejected`` (events this client's replays delivered from the spool, or
saw rejected with a reason — some may have been spooled by an earlier process), and
``spool_pending`` (events waiting in the spool now); ``integration_errors`` (calls of wrapped LLM
clients, :mod:`preflog.integrations`, that preflog could not turn into an event).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any, Final

logger = logging.getLogger("preflog")

__all__ = ["COUNTED", "ClientStats", "Tally", "Warner"]


@dataclass(frozen=True)
class ClientStats:
    """A snapshot of a client's counters (events, except ``batches`` and ``retries``).

    ``logged == queued + in_flight + sent + duplicates + conflicts + rejected + failed + spooled + dropped``.
    """

    logged: int
    queued: int
    in_flight: int
    sent: int
    duplicates: int
    conflicts: int
    rejected: int
    failed: int
    spooled: int
    dropped: int
    batches: int
    retries: int
    last_error: str | None
    unauthorized: int = 0
    replayed: int = 0
    replay_rejected: int = 0
    spool_pending: int = 0
    integration_errors: int = 0

    @property
    def stored(self) -> int:
        """Events the store took as new: the same count as ``sent``."""
        return self.sent

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "stored": self.sent}


@dataclass
class Tally:
    """Counts of one batch, applied to the totals at once under the lock."""

    sent: int = 0
    duplicates: int = 0
    conflicts: int = 0
    rejected: int = 0
    failed: int = 0
    spooled: int = 0
    dropped: int = 0
    batches: int = 0
    retries: int = 0
    unauthorized: int = 0
    errors: list[str] = field(default_factory=list)


COUNTED: Final = tuple(name for name in Tally.__dataclass_fields__ if name != "errors")


class Warner:
    """Logs the first occurrence of each kind of trouble and then one in every ``every``."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.counts: dict[str, int] = {}

    def warn(self, kind: str, message: str, *args: Any) -> None:
        n = self.counts.get(kind, 0) + 1
        self.counts[kind] = n
        if n == 1 or n % self.every == 0:
            logger.warning(
                "preflog: " + message + " (%s #%d; later ones logged 1 in %d)", *args, kind, n, self.every
            )
