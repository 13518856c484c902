"""Keys the CLI makes: every one written to the audit log, and the one demo key of ``serve --demo``.

The store keeps only a salted hash of a key's secret, so the demo project's admin key, to be printed
again on the next ``make run``, is kept in a file of its own beside the store: ``<db>-demo-key``
(mode 0600, one key per project); for a database that is not a file (PostgreSQL), under
``$XDG_STATE_HOME/preflog/demo-keys/`` (default ``~/.local/state``). A kept key that was revoked, is
unknown to the store, or is not an admin key of that project is replaced by a new one.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from preflog.store.base import Store

DEMO_KEY_NAME = "serve --demo"


def audit_key(store: Store, action: Any, key: Any) -> None:
    """Write a key action of the CLI (``key.create``, ``key.revoke``) to the store's audit log."""
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


def demo_key_file(store: Store, url: str) -> Path:
    """Where the demo key of the store at ``url`` is kept."""
    path = getattr(store, "path", None)
    if isinstance(path, Path):
        return path.with_name(path.name + "-demo-key")
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]  # a URL may hold a password: never its text
    return Path(state) / "preflog" / "demo-keys" / digest


def demo_key(store: Store, keys: Any, project: str, url: str) -> str:
    """The admin key of ``project`` kept for ``serve --demo``; made (and audited) when there is none
    that still works."""
    from preflog.server.keys import create_key, verify_key

    file = demo_key_file(store, url)
    kept = _read(file).get(project)
    if isinstance(kept, str):
        found = verify_key(keys, kept)
        if found is not None and found.project == project and found.scope == "admin":
            return kept
    token, key = create_key(keys, project=project, scope="admin", name=DEMO_KEY_NAME)
    audit_key(store, "key.create", key)
    _write(file, {**_read(file), project: token})
    return token


def _read(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none yet, or unreadable: a new key replaces it
        return {}
    return data if isinstance(data, dict) else {}


def _write(file: Path, data: dict[str, Any]) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    fresh = file.with_name(file.name + ".tmp")
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # a secret: the owner only
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=2, sort_keys=True)
        out.write("\n")
    os.replace(fresh, file)
