"""Where an archive lives: a local directory or ``s3://bucket/prefix`` (pyarrow's filesystem layer),
and the two writes every commit is made of — a file written under a temporary name and moved into
place (a rename locally; a copy and a delete on S3), so no reader sees a partial file.

Temporary names start with ``.`` (``.tmp-part-...``): pyarrow's and DuckDB's dataset readers
skip names starting with ``.`` or ``_``, and :func:`part_files` lists only committed parts.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs as pafs

from preflog.errors import ConfigError

PART_RE: Final = re.compile(r"^part-(\d+)-(\d+)\.parquet$")


@dataclass(frozen=True)
class S3Options:
    """Endpoint and credentials for ``s3://`` archives (the CLI fills them from ``--s3-*`` options,
    else the standard ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and
    ``AWS_REGION`` variables). None leaves a value to the AWS SDK's own chain."""

    endpoint: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class Target:
    """An opened archive location: its filesystem and its root path on it."""

    fs: pafs.FileSystem
    root: str
    uri: str

    def path(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])


def open_target(uri: str, *, s3: S3Options | None = None, create: bool = True) -> Target:
    """The filesystem and root of ``uri`` (a local path or ``s3://bucket/prefix``)."""
    if uri.startswith("s3://"):
        bucket_path = uri[len("s3://") :].strip("/")
        if not bucket_path:
            raise ConfigError(f"out: {uri!r} names no bucket (s3://bucket/prefix)")
        return Target(_s3(s3 or S3Options()), bucket_path, uri)
    if "://" in uri:
        raise ConfigError(f"out: {uri!r}: only local paths and s3://bucket/prefix are supported")
    local = pafs.LocalFileSystem()
    root = pafs.LocalFileSystem().normalize_path(_absolute(uri))
    if create:
        local.create_dir(root, recursive=True)
    return Target(local, root, uri)


def _absolute(path: str) -> str:
    from pathlib import Path

    return str(Path(path).expanduser().resolve())


def _s3(options: S3Options) -> pafs.S3FileSystem:
    kwargs: dict[str, Any] = {}
    if options.endpoint:
        parts = urlsplit(options.endpoint if "://" in options.endpoint else f"https://{options.endpoint}")
        kwargs["endpoint_override"] = parts.netloc
        kwargs["scheme"] = parts.scheme or "https"
    if options.access_key:
        kwargs["access_key"] = options.access_key
        kwargs["secret_key"] = options.secret_key or ""
    if options.region:
        kwargs["region"] = options.region
    return pafs.S3FileSystem(**kwargs)


def commit_table(target: Target, table: pa.Table, relative: str) -> None:
    """Write ``table`` as Parquet at ``relative`` under a temporary name, then move it into place."""
    final = target.path(relative)
    directory, _, name = final.rpartition("/")
    temporary = f"{directory}/.tmp-{name}"
    target.fs.create_dir(directory, recursive=True)
    # Parquet bytes depend only on the rows: no timestamps in the footer, so a rerun is identical.
    pq.write_table(table, temporary, filesystem=target.fs, **writer_options(table.schema))
    target.fs.move(temporary, final)


# Dictionary encoding pays on columns of few distinct values (types, model names, the candidate
# ids "a"/"b", a batch's stamps); on the texts and ids every value is new, so the writer hashed
# each ~1 KB text into a dictionary it then abandoned. Statistics (min/max a row group) serve the
# columns readers filter or prune on (position ranges, types, requests, users, times); on the
# texts they were comparisons of ~1 KB strings no reader uses. Together ~0.3 µs an event of the
# ~4 µs Parquet took (100k bench, 40,000 events, best of 5) and 1.4% fewer bytes.
_NO_DICTIONARY: Final = frozenset({"position", "event_id", "request_id", "prompt_text", "outputs", "event"})
_STATISTICS: Final = (
    "position",
    "event_id",
    "type",
    "request_id",
    "occurred_at",
    "received_at",
    "user_id",
    "erased",
)


def writer_options(schema: pa.Schema) -> dict[str, Any]:
    """``pq.write_table``'s settings for an archive file of ``schema``: zstd at level 2, which
    finds the longer repeats and so has fewer of them to encode. Against level 1 (Arrow's
    default), counted in instructions (cachegrind) for the Parquet write alone: on the real texts
    of tests' data (LLMFAO and HH-RLHF, 8,902 events) 1.2% fewer and 4.4% fewer bytes; on the
    bench's 40,000 events (replies drawn from 2,000) 6,000 fewer an event (12%) and 25% fewer
    bytes. Level 3: 7% fewer bytes than 1 on the real texts for 12% more instructions; -1: 60%
    more bytes. Data pages of 4 MB (Arrow's default is 1 MB): zstd sees longer runs of a column
    at a time, and there are fewer page headers and level runs to write; against 1 MB, 2.9% fewer
    instructions an event for the whole build on the bench's 40,000 events (132,800 against
    136,700) and 8.4% fewer bytes; on the real texts (LLMFAO and HH-RLHF imported, 15,694
    events) 1.1% fewer instructions (144,700 against 146,300) and 0.9% fewer bytes. 16 MB
    (about a piece's ``event`` column) was 1.1% fewer instructions and 3.2% fewer bytes again,
    for 66 MB more peak memory a worker (the page buffers: the bench's peak 1,618 against
    1,485 MB)."""
    names = schema.names
    return {
        "compression": "zstd",
        "compression_level": 2,
        "use_dictionary": [n for n in names if n not in _NO_DICTIONARY],
        "write_statistics": [n for n in names if n in _STATISTICS],
        "data_page_size": 4 << 20,
    }


def commit_bytes(target: Target, data: bytes, relative: str) -> None:
    """Write ``data`` at ``relative`` under a temporary name, then move it into place."""
    final = target.path(relative)
    directory, _, name = final.rpartition("/")
    temporary = f"{directory}/.tmp-{name}"
    target.fs.create_dir(directory, recursive=True)
    with target.fs.open_output_stream(temporary) as stream:
        stream.write(data)
    target.fs.move(temporary, final)


def state_path(project: str) -> str:
    """Where a project's state lives: one file per project, so archivers of two projects never
    write the same file. ``_`` keeps dataset readers out of it."""
    return f"_preflog/{project}/state.json"


def read_state(target: Target, project: str) -> dict[str, Any]:
    """A project's archive state (``_preflog/<project>/state.json``): its watermark; {} when new."""
    try:
        with target.fs.open_input_stream(target.path(state_path(project))) as stream:
            loaded = json.loads(stream.read().decode("utf-8"))
    except FileNotFoundError:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"archive: {target.uri}/{state_path(project)} is not a JSON object")
    return loaded


def write_state(target: Target, project: str, state: dict[str, Any]) -> None:
    data = (json.dumps(state, indent=2, sort_keys=True) + "\n").encode()
    commit_bytes(target, data, state_path(project))


def part_files(target: Target, project: str) -> list[tuple[int, int, str]]:
    """The committed part files of ``project``: (first position, last position, path), sorted."""
    base = target.path(f"project={project}")
    try:
        infos = target.fs.get_file_info(pafs.FileSelector(base, recursive=True))
    except FileNotFoundError:
        return []
    found = []
    for info in infos:
        match = PART_RE.match(info.base_name) if info.type == pafs.FileType.File else None
        if match:
            found.append((int(match[1]), int(match[2]), info.path))
    return sorted(found)


def temporaries(target: Target, project: str) -> list[str]:
    """Temporary files a crashed run left (``.tmp-*``): removed by the next run."""
    base = target.path(f"project={project}")
    try:
        infos = target.fs.get_file_info(pafs.FileSelector(base, recursive=True))
    except FileNotFoundError:
        return []
    return [i.path for i in infos if i.type == pafs.FileType.File and i.base_name.startswith(".tmp-")]
