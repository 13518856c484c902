"""Rewrite datasets compiled before an erasure: their rows of erased requests removed, the
manifest and the card updated.

A compiled row carries texts, not request ids, so the rows of an erased request are found by its
texts, read from the store *before* the erasure blanks them (:func:`erased_texts`): a row belongs
to an erased request when it holds every non-empty text of the request's prompt (the system
prompt aside, which some formats leave out) and one of its candidates' replies (any row with its
prompt, when its replies are all empty). Texts are matched inside the row's strings, so a format
that embeds them in a transcript (HH-RLHF) is covered too. A row of another request with exactly
the same prompt and reply is removed as well — that text is the erased person's too; the rule errs
on the side of removing.

Kept rows are kept byte for byte (JSONL lines are copied, Parquet tables filtered); each data file
gets its new row count, size and SHA-256 in ``manifest.json``, which also records the erasure
under ``erasures`` (event id, position, kind, how many requests, rows removed in all and per
file kept, files removed — never an id or a file name of the erased). With ``--group-by user``,
the erased user's own directory (``users/<user id>/``) names them: it is removed whole.
``counts_out.items`` and ``by_split`` follow; ``by_source`` and ``by_model`` keep the figures of
the compile (the rows no longer say where they came from). The format's side files and the card
(``README.md``) are written again from the new manifest.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from preflog.compile.manifest import CARD_NAME, MANIFEST_NAME, Manifest, render_card
from preflog.errors import ConfigError
from preflog.formats.base import DataFile, sha256_file
from preflog.store.base import Store


@dataclass(frozen=True)
class ErasedText:
    """What identifies one erased request's rows: its prompt texts and its replies' texts."""

    request_id: str
    prompt: tuple[str, ...]
    replies: tuple[str, ...]

    def known(self) -> bool:
        """False when the store had blanked the request already (nothing left to match)."""
        return bool(self.prompt)

    def in_row(self, blob: str) -> bool:
        """Whether a row's joined strings hold this request.

        >>> t = ErasedText("r1", ("What is 2+2?",), ("4", "5"))
        >>> t.in_row("What is 2+2?\\x004\\x005"), t.in_row("What is 2+2? Twice.\\x0042"), t.in_row("4")
        (True, True, False)
        """
        if not self.prompt or not all(p in blob for p in self.prompt):
            return False
        return not self.replies or any(r in blob for r in self.replies)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _prompt_texts(prompt: Any) -> tuple[str, ...]:
    if isinstance(prompt, str):
        return (prompt,) if prompt.strip() else ()
    messages = prompt if isinstance(prompt, list) else []
    texts = [m.get("content") for m in messages if isinstance(m, dict) and m.get("role") != "system"]
    return tuple(t for t in texts if isinstance(t, str) and t.strip())


def _reply_texts(candidate: Mapping[str, Any]) -> list[str]:
    parts = [candidate.get("output"), candidate.get("refusal")]
    for message in candidate.get("messages") or []:
        if isinstance(message, dict):
            parts += [message.get("content"), *_strings(message.get("tool_calls"))]
    parts += list(_strings(candidate.get("tool_calls")))
    return [p for p in parts if isinstance(p, str) and p.strip()]


def erased_texts(store: Store, project: str, request_ids: Iterable[str]) -> list[ErasedText]:
    """The texts of ``request_ids`` as the store holds them now: call it before erasing."""
    out = []
    for rid in request_ids:
        inference = store.get_request(rid, project=project).inference
        event = inference.event if inference is not None and not inference.erased else {}
        replies = [t for c in event.get("candidates", []) for t in _reply_texts(c)]
        out.append(ErasedText(rid, _prompt_texts(event.get("prompt")), tuple(dict.fromkeys(replies))))
    return out


@dataclass
class Rewritten:
    """One dataset rewritten: its manifest, the rows removed per file, the files removed whole."""

    path: str
    rows_removed: dict[str, int] = field(default_factory=dict)
    files_removed: list[str] = field(default_factory=list)

    @property
    def removed(self) -> int:
        return sum(self.rows_removed.values())

    def to_dict(self) -> dict[str, Any]:
        return dict(asdict(self), removed=self.removed)


def rewrite_dataset(
    manifest_path: Path | str,
    texts: Sequence[ErasedText],
    erasure: Mapping[str, Any],
    *,
    erased_user: str | None = None,
) -> Rewritten:
    """Remove the rows of ``texts`` from the dataset of ``manifest_path`` (a ``manifest.json`` or
    its directory); ``erasure``: the erasure's ``event_id``, ``position`` and ``kind``, recorded.
    ``erased_user``: the user erased, whose own ``--group-by user`` directory goes whole."""
    path = Path(manifest_path)
    path = path / MANIFEST_NAME if path.is_dir() else path
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        manifest = Manifest.from_dict(data)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a preflog manifest ({exc})") from exc
    root = path.parent
    result = Rewritten(str(path))
    grouped = manifest.options.get("group_by") == "user" and erased_user is not None
    gone = {f"users/{quote(str(erased_user), safe='')}"} if grouped else set()
    files: list[DataFile] = []
    for f in manifest.files:
        if f.rows == 0 and not _is_data(f.name):
            continue  # side files are written again below
        if Path(f.name).parent.as_posix() in gone:
            (root / f.name).unlink(missing_ok=True)
            result.files_removed.append(f.name)
            result.rows_removed[f.name] = f.rows
            continue
        removed = _filter_file(root / f.name, texts)
        result.rows_removed[f.name] = removed
        files.append(
            DataFile(f.name, f.rows - removed, (root / f.name).stat().st_size, sha256_file(root / f.name))
        )
    for directory in gone:
        shutil.rmtree(root / directory, ignore_errors=True)
    files += _side_files(root, manifest.format, files)
    _write_manifest(path, data, files, result, texts, erasure)
    return result


def _is_data(name: str) -> bool:
    return name.endswith((".jsonl", ".parquet"))


def _filter_file(path: Path, texts: Sequence[ErasedText]) -> int:
    """Drop the rows holding an erased request; answer how many were dropped."""
    if path.suffix == ".parquet":
        return _filter_parquet(path, texts)
    kept: list[bytes] = []
    removed = 0
    with path.open("rb") as fh:
        for line in fh:
            if line.strip() and _erased_row(json.loads(line), texts):
                removed += 1
            else:
                kept.append(line)
    if removed:
        temporary = path.with_name(path.name + ".rewrite")
        temporary.write_bytes(b"".join(kept))
        temporary.replace(path)
    return removed


def _filter_parquet(path: Path, texts: Sequence[ErasedText]) -> int:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ConfigError(f"rewriting Parquet needs pyarrow: pip install 'preflog[compile]' ({exc})") from exc
    table = pq.read_table(path)
    keep = [not _erased_row(row, texts) for row in table.to_pylist()]
    if all(keep):
        return 0
    temporary = path.with_name(path.name + ".rewrite")
    pq.write_table(table.filter(pa.array(keep)), temporary, compression="zstd")
    temporary.replace(path)
    return keep.count(False)


def _erased_row(row: Any, texts: Sequence[ErasedText]) -> bool:
    blob = "\x00".join(_strings(row))
    return any(t.in_row(blob) for t in texts)


def _side_files(root: Path, fmt: str, files: list[DataFile]) -> list[DataFile]:
    """The format's side files (e.g. LLaMA-Factory's dataset_info.json), written again."""
    from preflog.formats import get_format

    spec = get_format(fmt)
    out = []
    if spec.extra_files is not None:
        for name, text in sorted(spec.extra_files(list(files)).items()):
            (root / name).write_text(text, encoding="utf-8")
            out.append(DataFile(name, 0, (root / name).stat().st_size, sha256_file(root / name)))
    return out


def _write_manifest(
    path: Path,
    data: dict[str, Any],
    files: list[DataFile],
    result: Rewritten,
    texts: Sequence[ErasedText],
    erasure: Mapping[str, Any],
) -> None:
    """The manifest with the new files and counts and the erasure recorded; the card from it."""
    counts = dict(data.get("counts_out") or {})
    by_split: Counter[str] = Counter()
    for f in files:
        if _is_data(f.name):
            by_split[Path(f.name).stem] += f.rows
    counts["items"] = int(counts.get("items", 0)) - result.removed
    counts["by_split"] = dict(sorted(by_split.items()))
    if "groups" in counts:
        counts["groups"] = len({Path(f.name).parent.as_posix() for f in files if _is_data(f.name)})
    gone = set(result.files_removed)
    record = {
        "event_id": erasure.get("event_id"),
        "position": erasure.get("position"),
        "kind": erasure.get("kind"),
        "requests": len(texts),
        "rows": result.removed,
        # per file still listed; a removed file's name names the erased user (users/<id>/)
        "rows_removed": {k: v for k, v in sorted(result.rows_removed.items()) if v and k not in gone},
        "files_removed": len(gone),
    }
    data = dict(data, counts_out=counts, files=[f.to_dict() for f in files])
    data["erasures"] = [*data.get("erasures", []), record]
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    card = render_card(Manifest.from_dict(data)) + _erasure_note(data["erasures"])
    (path.parent / CARD_NAME).write_text(card, encoding="utf-8")


def _erasure_note(erasures: list[dict[str, Any]]) -> str:
    lines = ["", "## Erasures", ""]
    lines += [
        f"- erasure {e.get('event_id')} (position {e.get('position')}, {e.get('kind')}): "
        f"{e.get('rows', 0)} rows removed"
        + (f", {e['files_removed']} files of the erased user removed" if e.get("files_removed") else "")
        for e in erasures
    ]
    lines += [
        "",
        "Rows of erased requests were removed after the compile: the item and split counts above are "
        "after the removal, the judge kinds and models still count the removed rows.",
        "",
    ]
    return "\n".join(lines)


__all__ = ["ErasedText", "Rewritten", "erased_texts", "rewrite_dataset"]
