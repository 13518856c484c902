"""The ingestion service: ``create_app(store_url | store, settings=...) -> FastAPI``.

Store calls block (SQLite, psycopg), so routes run them in the worker-thread pool and the event
loop stays free. :func:`create_app` takes every setting as an argument. :func:`create_app_from_env`
is the app factory that reads them (through :mod:`preflog.config`: ``PREFLOG_DB`` unless a store
is given, the ``PREFLOG_*`` service settings, redaction, the web UI's sessions); uvicorn calls it
in each worker process (``uvicorn --factory preflog.server.app:create_app_from_env``), and
:func:`serve` (``preflog serve``) hands its workers the store by argument, not by environment.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from preflog import __version__
from preflog.errors import ConfigError
from preflog.redact import Redactor
from preflog.schema import event_json_schema
from preflog.server import (
    openapi_docs,
    routes_analytics,
    routes_audit,
    routes_events,
    routes_health,
    routes_keys,
    routes_otlp,
)
from preflog.server.api_errors import install_error_handlers
from preflog.server.audit import AuditLog, MemoryAuditLog, open_audit_log
from preflog.server.feedback_origins import OriginStore, open_origin_store
from preflog.server.feedback_settings import FeedbackSettings, build_state
from preflog.server.keys import KeyStore, open_key_store
from preflog.server.limits import RateLimiter
from preflog.server.metrics import Metrics, MetricsMiddleware
from preflog.server.routes_feedback import install_feedback
from preflog.server.settings import ServerSettings
from preflog.server.state import ServerState
from preflog.server.ui import install_ui
from preflog.store import open_store
from preflog.store.base import Store

if TYPE_CHECKING:
    from preflog.stream.producer import StreamSink

GC_GEN0_THRESHOLD = 20_000  # container allocations between young-generation collections (default 700)

DESCRIPTION = """\
Log preference events from LLM applications. Every `/v1` route needs `Authorization: Bearer KEY`
(an API key from `preflog keys create`); a key belongs to one project and has one scope:
`ingest`, `read`, `annotate` or `admin`. Writes answer per event; see docs/api.md.
"""


def event_schema() -> dict[str, Any]:
    """The JSON Schema of one event (:mod:`preflog.schema`)."""
    return event_json_schema()


def _embed_event_schema(document: dict[str, Any]) -> None:
    """Put the event schema under ``components/schemas/Event``, hoisting its ``$defs`` beside it."""
    schema = copy.deepcopy(event_schema())
    components = document.setdefault("components", {}).setdefault("schemas", {})
    defs = schema.pop("$defs", {}) or schema.pop("definitions", {})
    for key in ("$schema", "$id"):
        schema.pop(key, None)
    prefix = "Event_"

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(("#/$defs/", "#/definitions/")):
                node = dict(node, **{"$ref": "#/components/schemas/" + prefix + ref.rsplit("/", 1)[1]})
            return {k: rewrite(v) for k, v in node.items()}
        if isinstance(node, list):
            return [rewrite(v) for v in node]
        return node

    for name, sub in defs.items():
        components[prefix + name] = rewrite(sub)
    components["Event"] = rewrite(schema)


def _install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            _embed_event_schema(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(
    store: Store | str | None = None,
    *,
    settings: ServerSettings | None = None,
    key_store: KeyStore | None = None,
    audit_log: AuditLog | None = None,
    redactor: Redactor | None = None,
    stream: str | None = None,
    feedback: FeedbackSettings | None = None,
    origin_store: OriginStore | None = None,
) -> FastAPI:
    """The service over ``store`` (a :class:`Store`, or a URL for :func:`open_store`; None means
    ``$PREFLOG_DB``). A store opened here from a URL is closed at shutdown; a store passed in is
    the caller's. Keys and the audit log live in the store's database unless ``key_store`` and
    ``audit_log`` are given. ``redactor`` (:mod:`preflog.redact`), when given, is what the store
    redacts on ingest; otherwise a store passed in keeps its own, and one opened here takes
    ``PREFLOG_REDACT`` (:func:`open_store`). ``stream`` (``kafka://HOST:PORT/TOPIC``, see
    :mod:`preflog.stream`) sends accepted events to that topic instead of the store; reads still
    come from the store, which ``preflog consume`` fills. The origins allowed to send browser
    feedback live in the store's database too unless ``origin_store`` is given; ``feedback`` sets
    their rate limits and token lifetimes."""
    settings = settings or ServerSettings()
    sink = _stream_sink(stream, settings) if stream else None
    owned = not isinstance(store, Store)
    if isinstance(store, Store):
        event_store = store
        if redactor is not None:
            event_store.redactor = redactor
    else:
        event_store = open_store(store, limits=settings.limits, redactor=redactor)
    keys = key_store or open_key_store(event_store)
    audit = audit_log or _open_audit_log(event_store)
    metrics = Metrics()
    limiter = RateLimiter(settings.rate_limit, settings.burst) if settings.rate_limit else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if key_store is None:
            keys.close()
        if audit_log is None:
            audit.close()
        if owned:
            event_store.close()
        if sink is not None:
            sink.close()

    app = FastAPI(
        title="preflog",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc come from openapi_docs.install_docs, with local assets
        redoc_url=None,
    )
    app.state.preflog = ServerState(event_store, keys, settings, metrics, limiter, audit, sink)
    install_error_handlers(app, retry_after_s=settings.retry_after_s)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.include_router(routes_events.router)
    app.include_router(routes_keys.router)
    app.include_router(routes_health.router)
    app.include_router(routes_analytics.router)
    app.include_router(routes_audit.router)
    app.include_router(routes_otlp.router)
    origins = origin_store or open_origin_store(event_store)
    install_feedback(app, build_state(feedback or FeedbackSettings(), origins))
    install_ui(app)  # the web UI (preflog.server.ui): pages at /, /ui/*; separate from the /v1 API
    _install_openapi(app)
    openapi_docs.install_docs(app)
    return app


def _stream_sink(url: str, settings: ServerSettings) -> StreamSink:
    from preflog.stream.producer import StreamSink  # confluent_kafka only when streaming
    from preflog.stream.url import parse_stream_url

    return StreamSink(parse_stream_url(url), limits=settings.limits)


def _open_audit_log(store: Store) -> AuditLog:
    """The store's audit log; in memory (lost at exit) for a store that is not an SQL store (a
    test's wrapper around one, say)."""
    try:
        return open_audit_log(store)
    except ConfigError:
        return MemoryAuditLog()


def options_from_env() -> dict[str, Any]:
    """The keyword arguments of :func:`create_app` that come from ``PREFLOG_*`` variables
    (:mod:`preflog.config`): ``settings``, ``redactor`` and ``feedback``. A bad value fails here,
    at start."""
    return {
        "settings": ServerSettings.from_env(),
        "redactor": Redactor.from_env(),
        "feedback": FeedbackSettings.from_env(),
    }


def create_app_from_env(store: str | None = None, stream: str | None = None) -> FastAPI:
    """The app factory: :func:`create_app` with every setting from the environment, over the
    store at ``store`` (default ``PREFLOG_DB``). For ``uvicorn --factory`` (no argument) and each
    worker of :func:`serve`; it also tunes the collector for a server process (:func:`tune_gc`)."""
    app = create_app(store, stream=stream, **options_from_env())
    tune_gc()
    return app


def serve(
    store: str,
    *,
    workers: int = 1,
    app: FastAPI | None = None,
    stream: str | None = None,
    **uvicorn_options: Any,
) -> None:
    """Serve the store at ``store`` on uvicorn, in this process or in ``workers`` processes.

    One worker serves ``app`` when given (the CLI builds it first, so that its errors come before
    its banner), else ``create_app_from_env(store)``. Several workers are started by uvicorn's
    supervisor; each builds its app with ``create_app_from_env(store)``, the store passed as an
    argument (pickled to the worker with the factory), so nothing is written to the environment
    to reach them. ``uvicorn_options`` are :class:`uvicorn.Config`'s (host, port, log_level...)."""
    import uvicorn

    if workers <= 1:
        uvicorn.run(app or create_app_from_env(store, stream), **uvicorn_options)
        return
    options_from_env()  # a bad PREFLOG_* value fails here, once, before any worker starts
    from uvicorn.supervisors import Multiprocess

    extra = {"stream": stream} if stream else {}  # a worker without a stream is built as before
    factory = functools.partial(create_app_from_env, store, **extra)
    config = uvicorn.Config(factory, factory=True, workers=workers, **uvicorn_options)
    with contextlib.suppress(KeyboardInterrupt):  # as uvicorn.run: ^C ends the supervisor quietly
        Multiprocess(config, sockets=[config.bind_socket()]).run()


def tune_gc() -> None:
    """For a server process, once its app is built: move everything allocated so far (modules,
    routes, the app) out of the collector's sight, and collect the young generation less often.
    Parsing a batch allocates thousands of dicts and lists that reference counting frees on its
    own, yet each 700 of them triggered a collection; under sustained ingest that was about 5%
    of a worker's CPU. Not done by :func:`create_app`: an application embedding the app keeps
    its own collector settings."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, *gc.get_threshold()[1:])
