"""``preflog serve`` and ``preflog keys create|list|revoke``: thin shells over preflog.server."""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from typing import Any

from preflog import config
from preflog.cli.common import open_store_for
from preflog.cli.keys_support import audit_key, demo_key
from preflog.errors import ConfigError

DEMO_PROJECT = "demo"


def _env_port() -> int:
    raw = os.environ.get("PORT", "8000")
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"PORT must be an integer, got {raw!r}") from None


def register(sub: Any) -> None:
    serve = sub.add_parser("serve", help="serve the HTTP API (uvicorn)", description=_serve.__doc__)
    _project_option(serve, f"project of the --demo data and key (default {DEMO_PROJECT!r})")
    serve.add_argument("--host", default=None, help="interface to bind (env HOST; default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="env PORT; default 8000")
    serve.add_argument("--workers", type=int, default=None, help="processes (env PREFLOG_WORKERS; default 1)")
    serve.add_argument(
        "--demo",
        action="store_true",
        help="load the demo project (once) and print its admin key (the same on every run)",
    )
    serve.add_argument("--access-log", action="store_true", help="log every request (off by default)")
    serve.add_argument(
        "--log-level", default=None, help="uvicorn log level (env PREFLOG_LOG_LEVEL; default info)"
    )
    serve.add_argument(
        "--stream",
        metavar="kafka://HOST:PORT/TOPIC",
        default=None,
        help="produce accepted events to this Kafka topic (preflog consume stores them); see docs/scaling.md",
    )
    serve.set_defaults(handler=_serve)

    keys = sub.add_parser("keys", help="create, list and revoke API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="ACTION")
    keys_sub.required = True
    create = keys_sub.add_parser("create", help="create a key and print it (shown only this once)")
    _project_option(create, "the key's project (as the global --project)")
    create.add_argument("--scope", required=True, choices=["ingest", "read", "annotate", "admin"])
    create.add_argument("--name", default=None, help="a label, e.g. the service that uses the key")
    create.add_argument("--format", choices=["text", "json"], default="text")
    create.set_defaults(handler=_keys_create)
    listing = keys_sub.add_parser("list", help="list keys (every project, or --project)")
    _project_option(listing, "only this project's keys")
    listing.add_argument("--format", choices=["table", "json"], default="table")
    listing.set_defaults(handler=_keys_list)
    revoke = keys_sub.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("key", help="the key id (or the whole key)")
    _project_option(revoke, "refuse unless the key belongs to this project")
    revoke.set_defaults(handler=_keys_revoke)


def _project_option(parser: argparse.ArgumentParser, help: str) -> None:
    """``--project`` after the command, with this command's meaning; it fills the same ``project``
    as the global option (a filter like ``keys list --project`` applies only when a flag gave it)."""
    parser.add_argument("--project", metavar="NAME", default=argparse.SUPPRESS, help=help)


def _filter(args: argparse.Namespace) -> str | None:
    return str(args.project) if args.project_given else None


def _open(args: argparse.Namespace, *, create: bool) -> tuple[Any, Any]:
    from preflog.server.keys import open_key_store

    store = open_store_for(args, create=create)
    return store, open_key_store(store)


def _keys_create(args: argparse.Namespace) -> int:
    from preflog.server.keys import create_key

    store, keys = _open(args, create=True)
    try:
        token, key = create_key(keys, project=args.project, scope=args.scope, name=args.name)
        audit_key(store, "key.create", key)
    finally:
        keys.close()
        store.close()
    if args.format == "json":
        print(json.dumps(dict(key.to_dict(), key=token)))
    else:
        print(token)
        note = f"key {key.key_id}: project {key.project!r}, scope {key.scope}; shown only now"
        print(note, file=sys.stderr)
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    from preflog.server.keys import list_keys

    store, keys = _open(args, create=False)
    try:
        rows = list_keys(keys, project=_filter(args))
    finally:
        keys.close()
        store.close()
    if args.format == "json":
        print(json.dumps([k.to_dict() for k in rows], indent=2))
        return 0
    table = [("KEY_ID", "PROJECT", "SCOPE", "NAME", "CREATED", "REVOKED")]
    for k in rows:
        table.append(
            (k.key_id, k.project, k.scope, k.name or "", k.created_at[:19], (k.revoked_at or "")[:19])
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _keys_revoke(args: argparse.Namespace) -> int:
    from preflog.server.keys import parse_token, revoke_key

    parsed = parse_token(args.key)
    key_id = parsed[0] if parsed else args.key
    store, keys = _open(args, create=False)
    try:
        key = revoke_key(keys, key_id, project=_filter(args))
        audit_key(store, "key.revoke", key)
    finally:
        keys.close()
        store.close()
    print(f"revoked {key.key_id} (project {key.project!r}, scope {key.scope}) at {key.revoked_at}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    """Serve the HTTP API on uvicorn. With --demo, load the demo project (once) and print its admin
    key (made once, the same on every run). With --workers N > 1, each worker process opens the
    same store (passed to it as an argument, see preflog.server.app.serve)."""
    from importlib.util import find_spec

    from preflog.server.app import create_app_from_env, options_from_env, serve

    db = str(args.db)
    host = args.host or os.environ.get("HOST") or "127.0.0.1"
    port = args.port if args.port is not None else _env_port()
    workers = args.workers if args.workers is not None else config.get("PREFLOG_WORKERS")
    _check_port(host, port)  # before anything is loaded, created or printed
    if args.stream:
        from preflog.stream.url import parse_stream_url

        parse_stream_url(args.stream)  # a bad URL is one line, before anything starts
    options_from_env()  # a bad PREFLOG_* value fails before anything is created or printed
    key = _prepare_demo(args, args.project if args.project_given else DEMO_PROJECT) if args.demo else None
    app = create_app_from_env(db, args.stream) if workers <= 1 else None  # its errors come before the banner
    banner = f"preflog is serving http://{host}:{port}" + (f"  key: {key}" if key else "")
    print(banner, flush=True)
    print(f"  API docs: http://{host}:{port}/docs   store: {db}", flush=True)
    if args.stream:
        print(f"  ingest goes to the stream {args.stream} (preflog consume stores it)", flush=True)
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": args.log_level or config.get("PREFLOG_LOG_LEVEL"),
        "access_log": args.access_log,
        # The C HTTP parser and uvloop (both in the server extra); h11 and asyncio when a
        # hand-made environment lacks them (h11 ingests far less: docs/reliability.md, Load).
        "http": "httptools" if find_spec("httptools") else "h11",
        "loop": "uvloop" if find_spec("uvloop") else "asyncio",
    }
    serve(db, workers=workers, app=app, stream=args.stream, **common)
    return 0


def _check_port(host: str, port: int) -> None:
    """Refuse a port another process listens on, the way uvicorn will bind it (SO_REUSEADDR: a
    port left in TIME_WAIT by a server that just stopped is free)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                f"--port {port}: cannot listen on {host}:{port} ({exc.strerror}); another server is "
                f"probably there: stop it, or choose another port (--port, PORT, make run PORT=...)"
            ) from None


def _prepare_demo(args: argparse.Namespace, project: str) -> str:
    """Load the demo events into ``project`` unless it has some already; return its admin key,
    the same on every run (kept beside the store, preflog.cli.keys_support)."""
    store, keys = _open(args, create=True)
    try:
        if store.last_position(project=project) == 0:
            try:
                from preflog.demo import load_demo
            except ImportError:
                print("preflog: the demo data is not available in this build", file=sys.stderr)
            else:
                report = load_demo(store, project)
                print(f"loaded the demo project {project!r}: {report.events} events", file=sys.stderr)
        token = demo_key(store, keys, project, str(args.db))
    finally:
        keys.close()
        store.close()
    return token
