"""Output formats, one module per external format; each registers a
:class:`~preflog.formats.base.FormatSpec` in :data:`~preflog.formats.base.FORMATS` when imported.

:func:`get_format` and :func:`available_formats` import the modules listed in
:data:`FORMAT_MODULES` first (a module not written yet is skipped).
"""

from __future__ import annotations

import importlib
from typing import Final

from preflog.errors import ConfigError
from preflog.formats.base import FORMATS, FormatSpec

# Modules under preflog.formats that register formats.
FORMAT_MODULES: Final = (
    "trl",  # trl, trl-kto, trl-reward
    "axolotl",
    "openrlhf",
    "llamafactory",
    "hh_rlhf",
    "ultrafeedback",
    "arena",
    "openai_dpo",
    "vertex",
    "nemo_rl",
)


def load_formats() -> dict[str, FormatSpec]:
    """Import every format module; answer the registry."""
    for name in FORMAT_MODULES:
        try:
            importlib.import_module(f"preflog.formats.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"preflog.formats.{name}":
                continue  # not built yet
            raise
    return FORMATS


def available_formats() -> list[str]:
    return sorted(load_formats())


def get_format(name: str) -> FormatSpec:
    formats = load_formats()
    spec = formats.get(name)
    if spec is None:
        raise ConfigError(f"unknown format {name!r}; choose one of: {', '.join(sorted(formats))}")
    return spec


__all__ = ["FORMATS", "FORMAT_MODULES", "FormatSpec", "available_formats", "get_format", "load_formats"]
