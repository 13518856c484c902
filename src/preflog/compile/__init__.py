"""Compile events into training datasets: join, resolve, validate, aggregate, deduplicate,
sample, split, write (see DESIGN.md "Compile" and docs/datasets.md)."""

from __future__ import annotations

from preflog.compile.manifest import DROP_REASONS, Manifest, load_manifest
from preflog.compile.options import CompileOptions
from preflog.compile.pipeline import compile_dataset
from preflog.records import Pair, Unpaired

__all__ = [
    "DROP_REASONS",
    "CompileOptions",
    "Manifest",
    "Pair",
    "Unpaired",
    "compile_dataset",
    "load_manifest",
]
