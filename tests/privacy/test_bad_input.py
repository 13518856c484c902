"""Bad input never becomes a 5xx or an unexpected exception.

Hypothesis: :func:`preflog.events.validate_event` / :func:`check_event` raise nothing but
``ValidationError`` on arbitrary JSON-like values (and near-valid events with fields replaced), and
:func:`preflog.server.body.parse_batch` raises nothing but a 4xx ``ApiError`` on arbitrary bytes.
Over real HTTP (``preflog serve`` on loopback): truncated lines, invalid UTF-8, huge numbers, deep
nesting, a 10 MB string and wrong content types get per-line errors or a clear 4xx naming the
problem, and the valid lines of the same body are stored.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preflog.errors import ValidationError
from preflog.events import check_event, validate_event
from preflog.server.api_errors import ApiError
from preflog.server.body import parse_batch
from tests import factories as f
from tests.server.live import LiveServer, cli, start_server

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from([2**70, -(2**70), 10**400, 1e308, "", "\x00", "2026-11-26T10:00:00Z", "c0"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)
FIELDS = st.sampled_from(
    [
        "event_id",
        "type",
        "request_id",
        "occurred_at",
        "prompt",
        "candidates",
        "chosen",
        "ranking",
        "outcome",
        "source",
        "metadata",
        "schema_version",
        "project",
        "score",
        "signal",
        "user_id",
        "presented",
    ]
)
TEMPLATES = [f.inference(), f.preference("r1"), f.score("r1"), f.signal("r1"), f.erasure(user_id="u")]


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(json_values)
def test_decoding_arbitrary_values_raises_only_validation_error(value: Any) -> None:
    with contextlib.suppress(ValidationError):  # check_event raises it for an unknown old schema_version
        assert isinstance(check_event(value), list)
    with contextlib.suppress(ValidationError):
        validate_event(value, project="p1")


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(TEMPLATES), st.dictionaries(FIELDS, json_values, max_size=4))
def test_decoding_near_valid_events_raises_only_validation_error(
    template: dict[str, Any], patch: dict[str, Any]
) -> None:
    event = {**template, **patch}
    try:
        errors = check_event(event)
    except ValidationError as exc:  # an old schema_version with no upcaster
        assert exc.field == "schema_version"
        return
    try:
        validate_event(event)
    except ValidationError as exc:
        assert exc.errors == errors
    else:
        assert errors == []


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()),
    st.sampled_from(["application/json", "application/x-ndjson", "", "text/plain"]),
)
def test_parse_batch_raises_only_a_4xx(body: bytes, content_type: str) -> None:
    try:
        items = parse_batch(body, content_type, 10_000)
    except ApiError as exc:
        assert 400 <= exc.status < 500 and exc.message
    else:
        assert all(item.error is None or item.error.startswith("invalid JSON") for item in items)


# ---------------------------------------------------------------------------------------------- real HTTP


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    db = str(tmp_path_factory.mktemp("bad") / "bad.db")
    key = cli(db, "keys", "create", "--project", "p1", "--scope", "admin").strip()
    server = start_server(db)
    yield server, key
    server.stop()


def _post(
    live: tuple[LiveServer, str], body: bytes, content_type: str = "application/x-ndjson"
) -> httpx.Response:
    server, key = live
    headers = {"Authorization": f"Bearer {key}", "Content-Type": content_type}
    return httpx.post(server.url + "/v1/events", content=body, headers=headers, timeout=60)


def _line(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def test_malformed_ndjson_lines_get_per_line_errors_and_valid_lines_are_kept(
    live: tuple[LiveServer, str],
) -> None:
    good = [f.inference() for _ in range(3)]
    deep = b"[" * 10_000 + b"]" * 10_000
    lines = [
        _line(good[0]),
        _line(f.inference())[:-7],  # truncated
        b'{"event_id": "\xff\xfe bad utf-8"}',
        _line(good[1]),
        _line(dict(f.score("r1"), score=1e400)),  # a number beyond float: parsed as inf, refused
        _line(dict(f.signal("r1"), value=2**70)),
        deep,
        _line(dict(f.inference(), prompt="x" * 10_000_00)),  # 1 MB prompt: over max_prompt_bytes
        _line(good[2]),
    ]
    response = _post(live, b"\n".join(lines) + b"\n")
    assert response.status_code == 207, response.text[:500]
    results = response.json()["results"]
    by_line = {r["line"]: r for r in results}
    assert [by_line[n]["status"] for n in (1, 4, 9)] == ["stored"] * 3
    for n in (2, 3, 7):
        assert by_line[n]["status"] == "rejected" and "invalid JSON" in by_line[n]["reason"]
    assert "nested too deeply" in by_line[7]["reason"]
    assert by_line[5]["status"] == "rejected" and by_line[5]["field"] == "score"
    assert by_line[6]["status"] in ("stored", "rejected")  # 2**70 is a valid JSON number
    assert by_line[8]["status"] == "rejected" and "too long" in by_line[8]["reason"]


def test_a_10_mb_string_is_a_clear_413(live: tuple[LiveServer, str]) -> None:
    event = dict(f.inference(), prompt="x" * (10 * 1024 * 1024))
    response = _post(live, _line(event), "application/json")
    assert response.status_code == 413
    assert response.json()["limit"] == "max_body_bytes"


@pytest.mark.parametrize(
    ("content_type", "status", "code"),
    [
        ("text/plain", 415, "unsupported_media_type"),
        ("application/xml", 415, "unsupported_media_type"),
        ("application/json", 400, "invalid_json"),
    ],
)
def test_wrong_content_types_are_a_clear_4xx(
    live: tuple[LiveServer, str], content_type: str, status: int, code: str
) -> None:
    body = b"\n".join(_line(f.inference()) for _ in range(2))  # NDJSON sent under another type
    response = _post(live, body, content_type)
    assert response.status_code == status and response.json()["error"] == code
    assert response.json()["message"]


def test_deep_nesting_and_huge_numbers_in_a_json_array(live: tuple[LiveServer, str]) -> None:
    deep = _post(live, b"[" * 100_000 + b"]" * 100_000, "application/json")
    assert deep.status_code == 400 and "nested too deeply" in deep.json()["message"]
    ok = f.inference()
    body = b"[" + _line(ok) + b"," + _line(dict(f.score("r1"), score=10**400)) + b"]"
    response = _post(live, body, "application/json")
    assert response.status_code == 207
    assert [r["status"] for r in response.json()["results"]] == ["stored", "rejected"]


def test_invalid_utf8_in_a_json_array_is_a_clear_400(live: tuple[LiveServer, str]) -> None:
    response = _post(live, b'[{"prompt": "\xff"}]', "application/json")
    assert response.status_code == 400 and response.json()["error"] == "invalid_json"
