"""Redaction of personal data and secrets, applied by the store before anything is written.

A :class:`Redactor` replaces what its rules match in the *text content* of an event with
``[REDACTED:<kind>]`` and counts the replacements per kind. Built-in kinds:

* ``email``: e-mail addresses;
* ``phone``: phone numbers (an optional ``+country`` prefix, 7 to 15 digits in groups; dates,
  versions, IP addresses and plain digit runs such as timestamps are left alone);
* ``secrets``: secret-looking tokens: ``sk-...`` API keys, AWS access key ids, GitHub, Slack and
  Google tokens, preflog keys, JWTs, ``Bearer ...`` credentials, PEM private keys, and long
  hexadecimal (32+) or base64 (40+, mixing upper case, lower case and digits) strings.

Custom rules are regular expressions with a name of their own. Configuration comes from keyword
arguments or, for the service and the CLI, the environment (:meth:`Redactor.from_env`):
``PREFLOG_REDACT=email,phone,secrets`` (or ``all``; empty or ``off`` means none) and
``PREFLOG_REDACT_PATTERNS='{"employee_id": "EMP-\\\\d{6}"}'``. Redaction is off unless configured.

What is redacted: ``prompt`` (a string, or each message's ``content``), ``system``, each
candidate's ``output`` and ``metadata``, ``rationale``, ``reason``, and every string value inside
``metadata`` and ``features`` (keys are kept). Identifiers (``user_id``, ``session_id``, ids,
``tags``, ``criterion``) are not: erasure by ``user_id`` needs them exact.

Redaction is deterministic and idempotent, so a retried event is still a duplicate of the first
copy, and redacting twice changes nothing:

>>> r = Redactor.from_names(["email", "secrets"])
>>> r.redact_text("mail ann@example.com, key sk-abcdefghijklmnopqrstuvwx")
('mail [REDACTED:email], key [REDACTED:secret]', {'secret': 1, 'email': 1})
>>> r.redact_text("mail [REDACTED:email]")
('mail [REDACTED:email]', {})
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from preflog import config
from preflog.errors import ConfigError

KINDS: Final = ("email", "phone", "secrets")
_MAX_PASSES: Final = 4
_NAME_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")

_SECRET_PATTERNS: Final = (
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
    r"(?i:\bbearer)\s+[A-Za-z0-9._~+/=-]{16,}",
    r"\bsk-[A-Za-z0-9_-]{20,}",
    r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b",
    r"\bgh[pousr]_[A-Za-z0-9]{30,}\b",
    r"\bgithub_pat_[A-Za-z0-9_]{30,}\b",
    r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
    r"\bAIza[0-9A-Za-z_-]{35}\b",
    r"\bpfl_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}",
    r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
    r"(?<![A-Za-z0-9])(?=[0-9a-fA-F]*[0-9])(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{32,}(?![A-Za-z0-9])",
    r"(?<![A-Za-z0-9+/_-])(?=[A-Za-z0-9+/_-]*[0-9])(?=[A-Za-z0-9+/_-]*[a-z])(?=[A-Za-z0-9+/_-]*[A-Z])"
    r"[A-Za-z0-9+/_-]{40,}={0,2}(?![A-Za-z0-9+/_-])",
)
SECRET_RE: Final = re.compile("|".join(f"(?:{p})" for p in _SECRET_PATTERNS))
EMAIL_RE: Final = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,24}(?![\w-])"
)
PHONE_RE: Final = re.compile(
    r"(?<![\w@/+.-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,5}(?![\w@/-]|\.\d)"
)
_DATE_RE: Final = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$|^\d{1,2}[./-]\d{1,2}[./-]\d{2,4}$")
_DOTTED_RE: Final = re.compile(r"^\d{1,3}(?:\.\d{1,3}){2,}$")  # versions, IP addresses


def _is_phone(text: str) -> bool:
    """Whether a :data:`PHONE_RE` match is a phone number rather than a date, version or counter."""
    digits = sum(c.isdigit() for c in text)
    if not 7 <= digits <= 15 or _DATE_RE.match(text) or _DOTTED_RE.match(text):
        return False
    if text.count(".") == 1 and not any(c in text for c in " -()+"):
        return False  # a decimal number: 3.14159265
    # A bare run of digits (a timestamp, an order number) is not called a phone number.
    return text.startswith("+") or "(" in text or any(c in text for c in " .-")


@dataclass(frozen=True)
class Rule:
    """One kind of thing to redact: what it is called (``[REDACTED:<label>]``) and how it is found."""

    label: str
    pattern: re.Pattern[str]
    accept: Callable[[str], bool] | None = None


BUILTIN_RULES: Final[dict[str, Rule]] = {
    "secrets": Rule("secret", SECRET_RE),
    "email": Rule("email", EMAIL_RE),
    "phone": Rule("phone", PHONE_RE, _is_phone),
}


@dataclass
class Redactor:
    """Replaces what ``rules`` match in an event's text content; counts replacements by label.

    Thread-safe: the totals (:meth:`counts`) are kept under a lock; redaction itself is pure.
    """

    rules: tuple[Rule, ...] = ()
    _totals: Counter[str] = field(default_factory=Counter, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def enabled(self) -> bool:
        return bool(self.rules)

    @classmethod
    def from_names(cls, kinds: Iterable[str] = (), patterns: Mapping[str, str] | None = None) -> Redactor:
        """Built-in ``kinds`` (:data:`KINDS`, or ``all``) plus custom ``patterns`` ({name: regex}).
        Custom patterns run first, then secrets, e-mail addresses and phone numbers, in that order."""
        wanted = {k.strip().lower() for k in kinds if k.strip()}
        if "all" in wanted:
            wanted = (wanted - {"all"}) | set(KINDS)
        unknown = sorted(wanted - set(KINDS))
        if unknown:
            raise ConfigError(f"PREFLOG_REDACT: unknown kind {unknown[0]!r}; use {', '.join(KINDS)} or all")
        rules = [_custom_rule(name, regex) for name, regex in (patterns or {}).items()]
        rules += [rule for kind, rule in BUILTIN_RULES.items() if kind in wanted]
        return cls(tuple(rules))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Redactor:
        """From ``PREFLOG_REDACT`` (comma-separated kinds; ``off`` or empty for none) and
        ``PREFLOG_REDACT_PATTERNS`` (a JSON object of name to regular expression), read through
        :mod:`preflog.config` from ``environ`` (default: the process environment)."""
        raw = str(config.get("PREFLOG_REDACT", environ) or "")
        kinds = [] if raw.lower() in ("", "off", "none", "0", "false") else raw.split(",")
        return cls.from_names(kinds, _parse_patterns(config.get("PREFLOG_REDACT_PATTERNS", environ) or ""))

    def counts(self) -> dict[str, int]:
        """Replacements made so far (by this redactor), by label."""
        with self._lock:
            return dict(sorted(self._totals.items()))

    # -------------------------------------------------------------------------------------- text

    def redact_text(self, text: str) -> tuple[str, dict[str, int]]:
        """``text`` with every match replaced, and how many replacements of each label were made."""
        found: Counter[str] = Counter()
        # Until nothing changes (a replacement can expose a match its neighbour hid), so that
        # redacting redacted text changes nothing; bounded in case a custom pattern matches the
        # replacement itself.
        for _ in range(_MAX_PASSES):
            before = text
            for rule in self.rules:
                text = _apply(rule, text, found)
            if text == before:
                break
        return text, dict(found)

    # -------------------------------------------------------------------------------------- events

    def redact_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """The event with its text content redacted (a new dict when anything changed; nested
        values of the input are never modified) and the replacements added to :meth:`counts`."""
        if not self.rules:
            return event
        walk = _Walk(self)
        out = walk.event(event)
        if walk.found:
            with self._lock:
                self._totals.update(walk.found)
        return out


def _apply(rule: Rule, text: str, found: Counter[str]) -> str:
    if not rule.pattern.search(text):
        return text
    replacement = f"[REDACTED:{rule.label}]"

    def sub(match: re.Match[str]) -> str:
        if rule.accept is not None and not rule.accept(match.group(0)):
            return match.group(0)
        found[rule.label] += 1
        return replacement

    return rule.pattern.sub(sub, text)


def _custom_rule(name: str, regex: str) -> Rule:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ConfigError(f"PREFLOG_REDACT_PATTERNS: name {name!r} must be 1-40 of a-z, 0-9, '_', '-'")
    if not isinstance(regex, str) or not regex:
        raise ConfigError(f"PREFLOG_REDACT_PATTERNS: {name}: the pattern must be a non-empty string")
    try:
        pattern = re.compile(regex)
    except re.error as exc:
        raise ConfigError(f"PREFLOG_REDACT_PATTERNS: {name}: not a regular expression ({exc})") from None
    if pattern.match(""):
        raise ConfigError(f"PREFLOG_REDACT_PATTERNS: {name}: the pattern matches the empty string")
    return Rule(name, pattern)


def _parse_patterns(raw: str) -> dict[str, str]:
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ConfigError(f"PREFLOG_REDACT_PATTERNS: not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ConfigError('PREFLOG_REDACT_PATTERNS: must be a JSON object {"name": "regex"}')
    return value


class _Walk:
    """One event's redaction: rebuilds only the containers on the way to a changed string."""

    TEXT_FIELDS: Final = ("system", "rationale", "reason")
    FREE_FIELDS: Final = ("metadata", "features")

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self.found: Counter[str] = Counter()

    def text(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        out, counts = self.redactor.redact_text(value)
        self.found.update(counts)
        return out

    def free(self, value: Any) -> Any:
        """Every string inside a free-form JSON value (object keys kept)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.free(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.free(v) for v in value]
        return value

    def prompt(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.message(m) for m in value]
        return self.text(value)

    def message(self, msg: Any) -> Any:
        """A chat message's texts: content, refusal and tool-call arguments (contract version 2)."""
        if not isinstance(msg, dict):
            return msg
        out = dict(msg)
        for key in ("content", "refusal"):
            if key in out:
                out[key] = self.text(out[key])
        if isinstance(out.get("tool_calls"), list):
            out["tool_calls"] = [self.tool_call(c) for c in out["tool_calls"]]
        return out

    def tool_call(self, call: Any) -> Any:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or "arguments" not in function:
            return call
        return {**call, "function": {**function, "arguments": self.text(function["arguments"])}}

    def candidate(self, cand: Any) -> Any:
        if not isinstance(cand, dict):
            return cand
        out = self.message(cand)  # its refusal and tool-call arguments, like an assistant turn's
        if "output" in out:
            out["output"] = self.text(out["output"])
        if isinstance(out.get("messages"), list):
            out["messages"] = [self.message(m) for m in out["messages"]]
        if "metadata" in out:
            out["metadata"] = self.free(out["metadata"])
        return out

    def event(self, event: dict[str, Any]) -> dict[str, Any]:
        out = dict(event)
        if "prompt" in out:
            out["prompt"] = self.prompt(out["prompt"])
        for key in self.TEXT_FIELDS:
            if key in out:
                out[key] = self.text(out[key])
        for key in self.FREE_FIELDS:
            if key in out:
                out[key] = self.free(out[key])
        if isinstance(out.get("candidates"), list) and out.get("type") == "inference":
            out["candidates"] = [self.candidate(c) for c in out["candidates"]]
        return out if self.found else event


__all__ = ["KINDS", "Redactor", "Rule"]
