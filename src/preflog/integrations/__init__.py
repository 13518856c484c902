"""Integrations: preflog events from what LLM applications already emit.

* :func:`wrap_openai` and :func:`wrap_anthropic` wrap an ``openai`` / ``anthropic`` client in
  place so that every call logs an inference (each choice a candidate), without slowing or ever
  failing the call (:mod:`preflog.integrations.openai_sdk`, :mod:`~.anthropic_sdk`);
  :class:`PreflogLogger` is the same for LiteLLM, as one of its callbacks
  (:mod:`~.litellm_logger`). ``client.candidate_set(prompt)`` gathers several calls into one
  inference (:mod:`preflog.sdk.candidates`).
* :mod:`preflog.integrations.otlp` turns OpenTelemetry traces (OTLP, protobuf or JSON) whose spans
  follow the GenAI semantic conventions or OpenInference into inference and score events. It is
  pure (bytes in, events out) and loads the protobuf classes only when a protobuf body arrives;
  the service's ``POST /v1/traces`` (``preflog.server.routes_otlp``) is a thin shell over it.

Nothing here is imported by ``import preflog``, nor by ``import preflog.integrations``: each
integration is loaded when used, and its third-party library is an optional extra
(``preflog[openai]``, ``preflog[anthropic]``, ``preflog[litellm]``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from preflog.integrations.anthropic_sdk import wrap_anthropic
    from preflog.integrations.litellm_logger import PreflogLogger
    from preflog.integrations.openai_sdk import wrap_openai

__all__ = ["PreflogLogger", "wrap_anthropic", "wrap_openai"]

_LAZY = {
    "wrap_anthropic": "preflog.integrations.anthropic_sdk",
    "PreflogLogger": "preflog.integrations.litellm_logger",
    "wrap_openai": "preflog.integrations.openai_sdk",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'preflog.integrations' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
