"""Ids and time: fast time-ordered event ids, and the one normalized form of every timestamp."""

from __future__ import annotations

import os
import random
import re
import time
from datetime import UTC, datetime
from typing import Final

# A generator of our own, seeded from the OS: applications (and tests) often call random.seed(),
# which must never make preflog repeat ids. Reseeded in a forked child so parent and child differ.
_id_random = random.Random(int.from_bytes(os.urandom(32), "big"))
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _id_random.seed(int.from_bytes(os.urandom(32), "big")))


def new_id() -> str:
    """A time-ordered (version 7, RFC 9562) UUID string: 48 bits of Unix milliseconds, 12 bits of
    sub-millisecond time, then 62 random bits from a fast private Mersenne Twister seeded by the OS
    (ids need to be unique, not secret). Ids made later sort later, so the store's indexes on
    ``event_id`` and ``request_id`` grow at their right edge instead of touching a random page per
    event: on SQLite that keeps an append at about half the cost it has with random (version 4)
    ids once the log holds a few hundred thousand events (docs/store.md, "Ids and index locality")."""
    ns = time.time_ns()
    n = (ns // 1_000_000) << 80 | (ns % 1_000_000 * 4096 // 1_000_000) << 64 | _V7 | _id_bits(62)
    h = n.to_bytes(16).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_V7: Final = 0x7 << 76 | 0x2 << 62  # the version (7) and RFC 9562 variant bits
_id_bits: Final = _id_random.getrandbits


def format_time(ts: float) -> str:
    """UTC RFC 3339 with microseconds, the normalized form of every timestamp preflog writes."""
    return format_datetime(datetime.fromtimestamp(ts, UTC))


def format_datetime(moment: datetime) -> str:
    """An aware datetime in the normalized form: UTC, four-digit year (``strftime("%Y")`` writes
    ``999`` for the year 999), microseconds, ``Z``."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str) -> datetime:
    """Parse RFC 3339 with an offset (``Z`` allowed); raise ValueError without one."""
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        raise ValueError("needs a UTC offset (RFC 3339), e.g. 2026-11-26T10:00:00Z")
    return dt


_UTC_TIME: Final = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?Z$")


def normalize_time(value: str) -> str:
    utc = _UTC_TIME.match(value)
    if utc is not None:  # UTC already (what the SDK writes): only the fraction may need padding
        parse_time(value)  # still a real date
        fraction = utc[2] or ""
        return value if len(fraction) == 6 else f"{utc[1]}.{fraction.ljust(6, '0')}Z"
    return format_datetime(parse_time(value))
