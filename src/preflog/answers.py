"""The answer to one event of a write: the vocabulary shared by the store (``Store.append``), the
service (``POST /v1/events``) and the SDK's transports.

It lives apart from :mod:`preflog.store` so that the SDK can speak it without importing store
code (``import preflog; preflog.Client(url=...)`` loads no ``preflog.store`` module).

>>> AppendResult("rejected", "e-1", field="candidates[0].output", reason="empty").to_dict()
{'status': 'rejected', 'event_id': 'e-1', 'field': 'candidates[0].output', 'reason': 'empty'}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["AppendResult", "AppendStatus"]

AppendStatus = Literal["stored", "duplicate", "conflict", "rejected"]


@dataclass(frozen=True)
class AppendResult:
    """The store's answer for one event of an ``append`` call, in input order.

    ``stored``: new, with its ``position``. ``duplicate``: the same event id with the same content
    was stored before (``position`` is the original's). ``conflict``: the same id with other
    content; nothing overwritten. ``rejected``: invalid; ``field`` and ``reason`` say why.
    """

    status: AppendStatus
    event_id: str | None = None
    position: int | None = None
    field: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}
