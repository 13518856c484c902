"""preflog: log preference pairs from LLM applications; compile them into training data and analytics.

``import preflog`` loads only the standard library: the SDK is safe on an application's hot path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from preflog.errors import PreflogError, ValidationError

if TYPE_CHECKING:
    from preflog.sdk.candidates import current_request_id
    from preflog.sdk.client import Client

__all__ = ["Client", "PreflogError", "ValidationError", "__version__", "current_request_id"]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Loaded on first use so that `import preflog.events` (the server, compile) does not start the SDK.
    if name == "Client":
        from preflog.sdk.client import Client

        return Client
    if name == "current_request_id":
        from preflog.sdk.candidates import current_request_id

        return current_request_id
    raise AttributeError(f"module 'preflog' has no attribute {name!r}")
