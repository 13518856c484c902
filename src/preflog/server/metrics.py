"""Prometheus metrics, written by hand in the text exposition format (version 0.0.4).

Each worker process counts its own requests: with ``--workers N`` a scrape sees one worker, so
scrape each worker or sum over a short window. Exported:

* ``preflog_events_total{type,outcome}``: events received, by event type and outcome
  (``stored``, ``duplicate``, ``conflict``, ``rejected``);
* ``preflog_http_requests_total{method,route,status}`` and the histogram
  ``preflog_http_request_duration_seconds{route}``;
* ``preflog_store_errors_total{kind}``: store failures (``StoreUnavailable``, ``StoreFull``...);
* ``preflog_auth_failures_total{reason}``, ``preflog_rate_limited_total``;
* ``preflog_redactions_total{kind}``: redactions made before storing (``email``, ``phone``...);
* ``preflog_threadpool_busy`` / ``preflog_threadpool_waiting`` / ``preflog_threadpool_size``: the
  worker threads running store calls, and the calls queued for one (the service's queue).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Final, TypeVar

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
K = TypeVar("K")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(names: tuple[str, ...], values: tuple[str, ...]) -> str:
    if not names:
        return ""
    return "{" + ",".join(f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)) + "}"


class _Histogram:
    __slots__ = ("count", "counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * len(BUCKETS)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(BUCKETS):
            if value <= bound:
                self.counts[i] += 1
                break
        self.sum += value
        self.count += 1


class Metrics:
    """Counters and a latency histogram, safe to update from the event loop and worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.requests: defaultdict[tuple[str, str, str], int] = defaultdict(int)
        self.latency: defaultdict[str, _Histogram] = defaultdict(_Histogram)
        self.store_errors: defaultdict[str, int] = defaultdict(int)
        self.auth_failures: defaultdict[str, int] = defaultdict(int)
        self.rate_limited_total = 0

    def count_events(self, outcomes: Iterable[tuple[str, str]]) -> None:
        with self._lock:
            for key in outcomes:
                self.events[key] += 1

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(method, route, str(status))] += 1
            self.latency[route].observe(seconds)

    def store_error(self, kind: str) -> None:
        with self._lock:
            self.store_errors[kind] += 1

    def auth_failure(self, reason: str) -> None:
        with self._lock:
            self.auth_failures[reason] += 1

    def rate_limited(self) -> None:
        with self._lock:
            self.rate_limited_total += 1

    def render(self) -> str:
        """The exposition text. Call from the event loop (it reads the loop's thread limiter)."""
        with self._lock:
            lines: list[str] = []
            _family(lines, "preflog_events_total", "counter", "Events received, by type and outcome.")
            lines += [
                f"preflog_events_total{_labels(('type', 'outcome'), k)} {v}" for k, v in _sorted(self.events)
            ]
            _family(lines, "preflog_http_requests_total", "counter", "HTTP requests, by route and status.")
            names = ("method", "route", "status")
            lines += [
                f"preflog_http_requests_total{_labels(names, k)} {v}" for k, v in _sorted(self.requests)
            ]
            self._render_latency(lines)
            _family(lines, "preflog_store_errors_total", "counter", "Store failures, by kind.")
            lines += [
                f"preflog_store_errors_total{_labels(('kind',), (k,))} {v}"
                for k, v in _sorted(self.store_errors)
            ]
            _family(lines, "preflog_auth_failures_total", "counter", "Rejected API keys, by reason.")
            lines += [
                f"preflog_auth_failures_total{_labels(('reason',), (k,))} {v}"
                for k, v in _sorted(self.auth_failures)
            ]
            _family(
                lines, "preflog_rate_limited_total", "counter", "Requests refused by the per-key rate limit."
            )
            lines.append(f"preflog_rate_limited_total {self.rate_limited_total}")
        _render_threadpool(lines)
        return "\n".join(lines) + "\n"

    def _render_latency(self, lines: list[str]) -> None:
        name = "preflog_http_request_duration_seconds"
        _family(lines, name, "histogram", "HTTP request latency, by route.")
        for route, hist in sorted(self.latency.items()):
            cumulative = 0
            for bound, count in zip(BUCKETS, hist.counts, strict=True):
                cumulative += count
                lines.append(f"{name}_bucket{_labels(('route', 'le'), (route, f'{bound:g}'))} {cumulative}")
            lines.append(f"{name}_bucket{_labels(('route', 'le'), (route, '+Inf'))} {hist.count}")
            lines.append(f"{name}_sum{_labels(('route',), (route,))} {hist.sum:.6f}")
            lines.append(f"{name}_count{_labels(('route',), (route,))} {hist.count}")


def _sorted(counter: Mapping[K, int]) -> list[tuple[K, int]]:
    return sorted(counter.items(), key=lambda kv: str(kv[0]))


def _family(lines: list[str], name: str, kind: str, help_text: str) -> None:
    lines.append(f"# HELP {name} {help_text}")
    lines.append(f"# TYPE {name} {kind}")


def _render_threadpool(lines: list[str]) -> None:
    limiter = anyio.to_thread.current_default_thread_limiter()
    stats = limiter.statistics()
    for name, value, help_text in (
        ("preflog_threadpool_busy", stats.borrowed_tokens, "Worker threads running store calls."),
        ("preflog_threadpool_waiting", stats.tasks_waiting, "Store calls queued for a worker thread."),
        ("preflog_threadpool_size", int(stats.total_tokens), "Worker threads available for store calls."),
    ):
        _family(lines, name, "gauge", help_text)
        lines.append(f"{name} {value}")


def render_redactions(counts: Mapping[str, int]) -> str:
    """``preflog_redactions_total{kind}``: replacements made by redaction (:mod:`preflog.redact`)
    in this worker's appends, by kind."""
    lines: list[str] = []
    _family(lines, "preflog_redactions_total", "counter", "Redactions made before storing, by kind.")
    lines += [f"preflog_redactions_total{_labels(('kind',), (k,))} {v}" for k, v in sorted(counts.items())]
    return "\n".join(lines) + "\n"


class MetricsMiddleware:
    """Times every HTTP request and counts it under its route template (``/v1/requests/{request_id}``)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.observe_request(scope["method"], route, status, time.perf_counter() - start)
