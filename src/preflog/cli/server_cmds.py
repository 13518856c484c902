"""``preflog serve`` and ``preflog keys create|list|revoke``: thin shells over preflog.server."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from preflog.errors import ConfigError

DEMO_PROJECT = "demo"


def _add_db_and_project(parser: argparse.ArgumentParser, *, project_help: str) -> None:
    # Also accepted after the sub-command (`preflog serve --db X`), where it wins over the global
    # option (`preflog --db X serve`). A sub-command's own --project may mean a filter (keys list).
    parser.add_argument(
        "--db", dest="sub_db", metavar="DB", default=None, help="store URL or path (as the global --db)"
    )
    parser.add_argument("--project", dest="sub_project", metavar="PROJECT", default=None, help=project_help)


def _env_port() -> int:
    raw = os.environ.get("PORT", "8000")
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"PORT must be an integer, got {raw!r}") from None


def register(sub: Any) -> None:
    serve = sub.add_parser("serve", help="serve the HTTP API (uvicorn)", description=_serve.__doc__)
    _add_db_and_project(serve, project_help=f"project of the --demo data and key (default {DEMO_PROJECT!r})")
    host = os.environ.get("HOST", "127.0.0.1")
    workers = int(os.environ.get("PREFLOG_WORKERS", "1"))
    serve.add_argument("--host", default=host, help="env HOST; default 127.0.0.1")
    serve.add_argument("--port", type=int, default=None, help="env PORT; default 8000")
    serve.add_argument(
        "--workers", type=int, default=workers, help="processes (env PREFLOG_WORKERS; default 1)"
    )
    serve.add_argument("--demo", action="store_true", help="load the demo project and print a new admin key")
    serve.add_argument("--access-log", action="store_true", help="log every request (off by default)")
    serve.add_argument("--log-level", default=os.environ.get("PREFLOG_LOG_LEVEL", "info"))
    serve.set_defaults(handler=_serve)

    keys = sub.add_parser("keys", help="create, list and revoke API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="ACTION")
    keys_sub.required = True
    create = keys_sub.add_parser("create", help="create a key and print it (shown only this once)")
    _add_db_and_project(create, project_help="the key's project (as the global --project)")
    create.add_argument("--scope", required=True, choices=["ingest", "read", "annotate", "admin"])
    create.add_argument("--name", default=None, help="a label, e.g. the service that uses the key")
    create.add_argument("--format", choices=["text", "json"], default="text")
    create.set_defaults(handler=_keys_create)
    listing = keys_sub.add_parser("list", help="list keys (every project, or --project)")
    _add_db_and_project(listing, project_help="only this project's keys")
    listing.add_argument("--format", choices=["table", "json"], default="table")
    listing.set_defaults(handler=_keys_list)
    revoke = keys_sub.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("key", help="the key id (or the whole key)")
    _add_db_and_project(revoke, project_help="refuse unless the key belongs to this project")
    revoke.set_defaults(handler=_keys_revoke)


def _db(args: argparse.Namespace) -> str:
    return str(args.sub_db or args.db)


def _open(db: str) -> tuple[Any, Any]:
    from preflog.server.keys import open_key_store
    from preflog.store import open_store

    store = open_store(db)
    return store, open_key_store(store)


def _keys_create(args: argparse.Namespace) -> int:
    from preflog.server.keys import create_key

    store, keys = _open(_db(args))
    try:
        token, key = create_key(
            keys, project=args.sub_project or args.project, scope=args.scope, name=args.name
        )
        _audit(store, "key.create", key)
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


def _audit(store: Any, action: Any, key: Any) -> None:
    """Write a key action of the CLI to the audit log (preflog.server.audit)."""
    from preflog.server.audit import cli_actor, open_audit_log, record

    audit = open_audit_log(store)
    try:
        details = {"scope": key.scope, "name": key.name}
        record(
            audit,
            action,
            project=key.project,
            actor=cli_actor(),
            via="cli",
            target=key.key_id,
            details=details,
        )
    finally:
        audit.close()


def _keys_list(args: argparse.Namespace) -> int:
    from preflog.server.keys import list_keys

    store, keys = _open(_db(args))
    try:
        rows = list_keys(keys, project=args.sub_project)
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
    store, keys = _open(_db(args))
    try:
        key = revoke_key(keys, key_id, project=args.sub_project)
        _audit(store, "key.revoke", key)
    finally:
        keys.close()
        store.close()
    print(f"revoked {key.key_id} (project {key.project!r}, scope {key.scope}) at {key.revoked_at}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    """Serve the HTTP API on uvicorn. With --demo, load the demo project (once) and print a new
    admin key. With --workers N > 1, each worker process opens the store from PREFLOG_DB."""
    from importlib.util import find_spec

    import uvicorn

    from preflog.server.app import create_app, tune_gc
    from preflog.server.settings import ServerSettings

    db = _db(args)
    port = args.port if args.port is not None else _env_port()
    settings = ServerSettings.from_env()
    banner = f"preflog is serving http://{args.host}:{port}"
    if args.demo:
        banner += "  key: " + _prepare_demo(db, args.sub_project or DEMO_PROJECT)
    print(banner, flush=True)
    print(f"  API docs: http://{args.host}:{port}/docs   store: {db}", flush=True)
    common: dict[str, Any] = {
        "host": args.host,
        "port": port,
        "log_level": args.log_level,
        "access_log": args.access_log,
        # The C HTTP parser and uvloop (both in the server extra); h11 and asyncio when a
        # hand-made environment lacks them (h11 ingests far less: docs/reliability.md, Load).
        "http": "httptools" if find_spec("httptools") else "h11",
        "loop": "uvloop" if find_spec("uvloop") else "asyncio",
    }
    if args.workers > 1:
        os.environ["PREFLOG_DB"] = db
        uvicorn.run("preflog.server.app:create_app_from_env", factory=True, workers=args.workers, **common)
    else:
        app = create_app(db, settings=settings)
        tune_gc()
        uvicorn.run(app, **common)
    return 0


def _prepare_demo(db: str, project: str) -> str:
    """Load the demo events into ``project`` unless it has some already; return a new admin key."""
    from preflog.server.keys import create_key

    store, keys = _open(db)
    try:
        if store.last_position(project=project) == 0:
            try:
                from preflog.demo import load_demo
            except ImportError:
                print("preflog: the demo data is not available in this build", file=sys.stderr)
            else:
                report = load_demo(store, project)
                print(f"loaded the demo project {project!r}: {report.events} events", file=sys.stderr)
        token, _ = create_key(keys, project=project, scope="admin", name="serve --demo")
    finally:
        keys.close()
        store.close()
    return token
