"""Integrations: preflog events from what LLM applications already emit.

* :mod:`preflog.integrations.otlp` turns OpenTelemetry traces (OTLP, protobuf or JSON) whose spans
  follow the GenAI semantic conventions or OpenInference into inference and score events. It is
  pure (bytes in, events out) and loads the protobuf classes only when a protobuf body arrives;
  the service's ``POST /v1/traces`` (``preflog.server.routes_otlp``) is a thin shell over it.

Nothing here is imported by ``import preflog``: each integration is loaded when used, and its
third-party library is an optional extra.
"""
