"""What one LLM span says, whatever convention it follows: :class:`LlmCall`.

The GenAI reader (:mod:`.genai`) and the OpenInference reader (:mod:`.openinference`) each fill
one; :mod:`.convert` makes the inference event from it, so both conventions give events of the
same shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from preflog.integrations.chat import Message


@dataclass
class LlmCall:
    """An LLM call read from a span. ``outputs`` are candidates without id, model or timing
    (``output``, ``finish_reason``, ``refusal``, ``tool_calls``, ``metadata``); ``missing`` says
    why the span carries no content to log, when it does not."""

    convention: str
    prompt: str | list[Message] | None = None
    system: str | None = None
    outputs: list[dict[str, Any]] = field(default_factory=list)
    model: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    response_id: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    missing: str | None = None

    def check(self) -> LlmCall:
        """Set :attr:`missing` when there is nothing to log: no prompt or no output."""
        if self.missing is None and not self.prompt:
            self.missing = "no prompt"
        if self.missing is None and not self.outputs:
            self.missing = "no output"
        return self
