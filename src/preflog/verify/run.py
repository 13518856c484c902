"""``verify_dataset``: the schema checks of every row, the template checks with a local tokenizer,
and the TRL trainer steps, over one compiled directory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from preflog.compile.card import DATA_SUFFIXES
from preflog.errors import ConfigError
from preflog.formats.base import read_rows_file
from preflog.progress import report as report_progress
from preflog.verify.checks import Progress, check_rows, iter_where
from preflog.verify.report import VerifyReport
from preflog.verify.schemas import SCHEMAS, guess_format
from preflog.verify.trainers import DEFAULT_TRAINERS, TRAINERS, run_trainers

#: TRL's default ``max_length`` (DPOConfig, RewardConfig, KTOConfig), the checks' default too.
DEFAULT_MAX_LENGTH: Final = 1024


def data_files(directory: Path) -> tuple[list[tuple[str, int | None]], str]:
    """Every data file (relative name, rows when the manifest says) and the format, from the
    manifest in ``directory``, or from the files and their columns when there is none."""
    manifest = directory / "manifest.json"
    if manifest.is_file():
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
            files: list[tuple[str, int | None]] = [(str(f["name"]), int(f["rows"])) for f in data["files"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{manifest}: not a preflog manifest ({exc})") from exc
        files = [(n, r) for n, r in files if Path(n).suffix in DATA_SUFFIXES]
        if not files:
            raise ConfigError(f"{directory}: the manifest lists no data files")
        return files, str(data.get("format", ""))
    found = sorted(p for p in directory.rglob("*") if p.suffix in DATA_SUFFIXES and p.is_file())
    if not found:
        raise ConfigError(f"{directory}: no manifest.json and no .jsonl or .parquet file")
    names: list[tuple[str, int | None]] = [(p.relative_to(directory).as_posix(), None) for p in found]
    return names, ""


def _rows(directory: Path, files: list[tuple[str, int | None]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, _rows in files:
        yield from iter_where(name, read_rows_file(directory / name))


def _first_row(directory: Path, files: list[tuple[str, int | None]]) -> dict[str, Any] | None:
    return next((row for _, row in _rows(directory, files)), None)


def load_tokenizer(path: Path | str) -> Any:
    """A tokenizer from a local directory (never the Hub: ``local_files_only``) that has a chat
    template."""
    path = Path(path)
    if not path.is_dir():
        raise ConfigError(f"tokenizer {path}: not a directory")
    try:
        from transformers import AutoTokenizer
    except ImportError as exc:
        raise ConfigError(
            f"the template checks need the verify extra: pip install 'preflog[verify]' ({exc})"
        ) from exc
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"tokenizer {path}: cannot load it ({str(exc).splitlines()[0]})") from exc
    if not getattr(tokenizer, "chat_template", None):
        where = "chat_template in tokenizer_config.json, or chat_template.jinja"
        raise ConfigError(f"tokenizer {path}: no chat template ({where})")
    return tokenizer


def _trainer_names(fmt: str, trainers: tuple[str, ...] | None) -> tuple[str, ...]:
    if trainers is None:
        return DEFAULT_TRAINERS.get(fmt, ())
    unknown = [t for t in trainers if t not in TRAINERS]
    if unknown:
        raise ConfigError(f"unknown trainer {', '.join(unknown)}; choose from {', '.join(TRAINERS)}")
    if fmt not in DEFAULT_TRAINERS:
        raise ConfigError(f"the trainer steps run on the TRL formats; {fmt} gets the row checks only")
    return trainers


def verify_dataset(
    directory: Path | str,
    *,
    trainers: tuple[str, ...] | None = None,
    steps: int = 2,
    tokenizer: Path | str | None = None,
    max_length: int = DEFAULT_MAX_LENGTH,
    progress: Progress | None = None,
) -> VerifyReport:
    """Check every row of the dataset in ``directory`` against its format's trainers and, for the
    TRL formats, run ``steps`` optimizer steps of each trainer (``steps=0``: the checks only).

    ``tokenizer``: a local tokenizer directory with a chat template; every row is then rendered
    with it the way each target trainer encodes rows, and the trainer steps use it.
    ``max_length``: the trainers' sequence limit the length check counts against.
    ``progress``: hears the rows checked, then the trainers run (:mod:`preflog.progress`).

    Offline by its own options, whatever the environment says: every file is a local path and
    every load ``local_files_only``; the libraries' progress bars are off for the call only.
    ``os.environ`` is left as it was found (docs/datasets.md, "preflog verify")."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(f"{directory}: not a directory")
    if max_length < 1 or steps < 0:
        raise ConfigError("max_length must be at least 1 and steps at least 0")
    files, fmt = data_files(directory)
    if fmt not in SCHEMAS:
        first = _first_row(directory, files)
        if first is None:
            raise ConfigError(f"{directory}: 0 rows; nothing to verify")
        fmt = guess_format(first)
    total = sum(r for _, r in files if r is not None) if all(r is not None for _, r in files) else -1
    if total < 0:
        total = sum(1 for _ in _rows(directory, files))
    if total == 0:
        raise ConfigError(f"{directory}: 0 rows; verify needs at least 2")
    names = _trainer_names(fmt, trainers)
    tok = load_tokenizer(tokenizer) if tokenizer is not None else None
    report = VerifyReport(str(directory), fmt, total, tokenizer=str(tokenizer) if tokenizer else None)
    check_trainers = tuple(f"trl-{n}" for n in trainers) if trainers else None
    report.checks = check_rows(
        fmt,
        _rows(directory, files),
        total=total,
        tokenizer=tok,
        max_length=max_length,
        trainers=check_trainers,
        progress=progress,
    )
    if names and steps > 0:
        trains = [n for n, _ in files if Path(n).stem == "train"]  # top-level first, then a group's
        train = next((n for n in trains if "/" not in n), trains[0] if trains else files[0][0])
        report_progress(progress, "training", 0, len(names), unit="trainers")
        report.results = run_trainers(directory / train, fmt, names, steps, tokenizer=tok)
        report_progress(progress, "training", len(names), len(names), unit="trainers")
    return report


__all__ = ["DEFAULT_MAX_LENGTH", "data_files", "load_tokenizer", "verify_dataset"]
