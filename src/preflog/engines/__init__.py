"""Compile engines: where the compile pipeline's events come from. There is ONE pipeline
(:func:`preflog.compile.compile_dataset`); an engine only produces its input — the scan, filter
and position order of a project's events — so every engine writes the same bytes.

* ``local``: the store itself, or with ``from_archive`` the archive read by pyarrow
  (:class:`preflog.archive.ArchiveStore`);
* ``duckdb``: the archive scanned, filtered and ordered by DuckDB (:mod:`.duck`); on a store it
  first brings a local archive cache up to date incrementally (:func:`default_cache`);
* ``spark``: the archive scanned, filtered, ordered and its inferences joined to their judgments
  by Spark (:mod:`.spark`; pyspark is imported only then); on a store, the same cache first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from preflog.archive import ArchiveStore, S3Options, archive_events
from preflog.archive.rows import FORMAT, format_of
from preflog.archive.target import open_target, read_state, state_path
from preflog.errors import ConfigError
from preflog.store.base import Store

ENGINES: Final = ("local", "duckdb", "spark")
CACHED: Final = ("duckdb", "spark")  # on a store, these read its archive cache


def default_cache(db: str) -> str:
    """Where ``--engine duckdb|spark`` on a store keeps its archive: beside a SQLite file
    (``events.db`` → ``events.db.archive``), else under ``~/.cache/preflog/archive/<digest>``.

    >>> default_cache("sqlite:///data/events.db")
    '/data/events.db.archive'
    """
    if db.startswith("postgresql://") or db.startswith("postgres://"):
        import hashlib

        digest = hashlib.sha256(db.encode()).hexdigest()[:16]
        return str(Path("~/.cache/preflog/archive").expanduser() / digest)
    path = db[len("sqlite://") :] if db.startswith("sqlite:///") else db
    return f"{path}.archive"


def compile_source(
    store: Store | None,
    *,
    project: str,
    engine: str = "local",
    from_archive: str | None = None,
    s3: S3Options | None = None,
    cache: str | None = None,
) -> Store:
    """The event source ``compile_dataset`` reads for ``engine``: the store, or an archive (given,
    or the store's cache brought up to date first). An archive is checked against ``store``'s
    erasures whenever a store is given."""
    if engine not in ENGINES:
        raise ConfigError(f"engine: {engine!r} is not one of {', '.join(ENGINES)}")
    if from_archive is None and engine == "local":
        if store is None:
            raise ConfigError("engine: the local engine reads a store or an archive (from_archive)")
        return store
    if from_archive is None:
        if store is None or cache is None:
            raise ConfigError(f"engine: {engine} on a store needs the store and its archive cache")
        _renew_outdated(cache, project)
        archive_events(store, project=project, out=cache)
        from_archive, s3 = cache, None
    if engine == "duckdb":
        from preflog.engines.duck import DuckArchiveStore

        return DuckArchiveStore(from_archive, project=project, s3=s3, store=store)
    if engine == "spark":
        from preflog.engines.spark import SparkArchiveStore

        return SparkArchiveStore(from_archive, project=project, s3=s3, store=store)
    return ArchiveStore(from_archive, project=project, s3=s3, store=store)


def _renew_outdated(cache: str, project: str) -> None:
    """Drop a cache written in an older archive format (rows.FORMAT) so it is rebuilt in the
    current one: removing its state is enough, as the next archive run removes every part file
    after its (now zero) watermark as uncommitted — a crash in between rebuilds it all the same."""
    target = open_target(cache)
    state = read_state(target, project)
    if state and format_of(state) < FORMAT:
        target.fs.delete_file(target.path(state_path(project)))


__all__ = ["CACHED", "ENGINES", "compile_source", "default_cache"]
