"""The client is the SDK's edge: it reads PREFLOG_URL, PREFLOG_API_KEY and PREFLOG_SPOOL_* (through
preflog.config) and passes them on; the HTTP transport and the spool read no environment."""

from __future__ import annotations

from pathlib import Path

import pytest

import preflog
from preflog.errors import ConfigError
from preflog.sdk.http import HTTPTransport
from preflog.sdk.spool import DiskSpool, default_spool_dir

URL = "http://127.0.0.1:9"


def test_the_client_reads_the_key_and_the_spool_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PREFLOG_URL", URL)
    monkeypatch.setenv("PREFLOG_API_KEY", "pfl_from_env")
    monkeypatch.setenv("PREFLOG_SPOOL_DIR_EXACT", str(tmp_path / "exact"))
    monkeypatch.setenv("PREFLOG_SPOOL_MAX_BYTES", "123456")
    client = preflog.Client(project="p", replay_backoff=60)
    try:
        transport = client.transport
        assert isinstance(transport, HTTPTransport) and transport.api_key == "pfl_from_env"
        assert isinstance(transport.spool, DiskSpool)
        assert (transport.spool.directory, transport.spool.max_bytes) == (tmp_path / "exact", 123456)
    finally:
        client.close(timeout=1)


def test_the_spool_parent_holds_one_directory_per_service_and_project(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PREFLOG_SPOOL_DIR_EXACT", raising=False)
    monkeypatch.setenv("PREFLOG_SPOOL_DIR", str(tmp_path / "parent"))
    made = [preflog.Client(url=URL, project=p, replay_backoff=60) for p in ("a", "b")]
    try:
        dirs = [c.transport.spool.directory for c in made]  # type: ignore[attr-defined]
        assert dirs == [default_spool_dir(URL, p, tmp_path / "parent") for p in ("a", "b")]
        assert dirs[0] != dirs[1] and all(d.parent == tmp_path / "parent" for d in dirs)
    finally:
        for c in made:
            c.close(timeout=1)


def test_explicit_options_win_over_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PREFLOG_API_KEY", "pfl_from_env")
    monkeypatch.setenv("PREFLOG_SPOOL_DIR_EXACT", str(tmp_path / "env"))
    client = preflog.Client(
        url=URL, project="p", api_key="pfl_given", spool_dir=tmp_path / "given", replay_backoff=60
    )
    try:
        assert client.transport.api_key == "pfl_given"  # type: ignore[attr-defined]
        assert client.transport.spool.directory == tmp_path / "given"  # type: ignore[attr-defined]
    finally:
        client.close(timeout=1)


def test_the_transport_reads_no_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PREFLOG_API_KEY", "pfl_from_env")
    monkeypatch.setenv("PREFLOG_SPOOL_DIR_EXACT", str(tmp_path / "env"))
    monkeypatch.setenv("PREFLOG_SPOOL_MAX_BYTES", "1")
    transport = HTTPTransport(URL, spool_dir=tmp_path / "mine")
    assert transport.api_key is None
    assert transport.spool is not None and transport.spool.directory == tmp_path / "mine"
    assert transport.spool.max_bytes == 256 * 1024 * 1024
    assert not (tmp_path / "env").exists()


def test_a_bad_spool_setting_is_a_config_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFLOG_SPOOL_MAX_BYTES", "lots")
    with pytest.raises(ConfigError, match="PREFLOG_SPOOL_MAX_BYTES"):
        preflog.Client(url=URL, project="p")


def test_a_local_client_ignores_the_service_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PREFLOG_URL", raising=False)
    monkeypatch.setenv("PREFLOG_API_KEY", "pfl_from_env")  # set for another program: no error here
    with preflog.Client(db=str(tmp_path / "x.db"), project="p") as client:
        client.log_inference("q", ["a"], model="m")
    assert client.stats().sent == 1
