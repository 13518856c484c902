"""/metrics parses as Prometheus text and counts; the OpenAPI document is complete, with examples."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.testclient import TestClient
from tests import factories as f
from tests.server.conftest import KeyMaker, auth


@pytest.fixture
def backend() -> str:
    """SQLite only: the metrics text and the OpenAPI document do not depend on the
    store."""
    return "sqlite"


_SAMPLE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$'
)
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """A strict reader of the text format: every line a comment or a well-formed sample."""
    assert text.endswith("\n")
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    types: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram"), line
            types[name] = kind
            continue
        if line.startswith("# HELP "):
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a Prometheus sample: {line!r}"
        name, labels, value = match.group(1), match.group(2) or "", match.group(3)
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        assert family in types, f"sample {name} without a # TYPE line"
        samples.setdefault(name, []).append((dict(_LABEL.findall(labels)), float(value)))
    return samples


def value(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    return sum(v for lbl, v in samples.get(name, []) if all(lbl.get(k) == x for k, x in labels.items()))


def test_metrics_count_events_requests_and_latency(client: TestClient, make_key: KeyMaker) -> None:
    admin = auth(make_key())
    inf = f.inference()
    client.post("/v1/events", json=[inf, inf, f.preference(inf["request_id"]), {"type": "x"}], headers=admin)
    client.post("/v1/signals", json=[f.signal(inf["request_id"])], headers=admin)
    client.get("/v1/events", headers=admin)
    client.get("/v1/events", headers=auth("pfl_000000000000_" + "x" * 43))
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = parse_prometheus(response.text)
    assert value(samples, "preflog_events_total", type="inference", outcome="stored") == 1
    assert value(samples, "preflog_events_total", type="inference", outcome="duplicate") == 1
    assert value(samples, "preflog_events_total", type="preference", outcome="stored") == 1
    assert value(samples, "preflog_events_total", type="signal", outcome="stored") == 1
    assert value(samples, "preflog_events_total", type="invalid", outcome="rejected") == 1
    assert value(samples, "preflog_http_requests_total", route="/v1/events", method="POST", status="207") == 1
    assert value(samples, "preflog_http_requests_total", route="/v1/events", method="GET", status="401") == 1
    assert value(samples, "preflog_auth_failures_total", reason="invalid_key") == 1
    buckets = [
        v
        for lbl, v in samples["preflog_http_request_duration_seconds_bucket"]
        if lbl["route"] == "/v1/events"
    ]
    assert buckets == sorted(buckets) and buckets[-1] == 3
    assert value(samples, "preflog_http_request_duration_seconds_count", route="/v1/events") == 3
    assert value(samples, "preflog_threadpool_size") > 0
    assert "preflog_threadpool_waiting" in samples and "preflog_store_errors_total" not in samples


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in document["paths"].items() for method, op in item.items()]


def test_openapi_has_examples_for_every_route(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    operations = _operations(document)
    paths = {(m.upper(), p) for p, m, _ in operations}
    for route in (
        ("POST", "/v1/events"),
        ("GET", "/v1/events"),
        ("POST", "/v1/inferences"),
        ("POST", "/v1/preferences"),
        ("POST", "/v1/scores"),
        ("POST", "/v1/signals"),
        ("GET", "/v1/requests/{request_id}"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("GET", "/v1/keys"),
    ):
        assert route in paths
    for path, method, op in operations:
        where = f"{method.upper()} {path}"
        assert op.get("summary") and op.get("description"), where
        for status, response in op["responses"].items():
            content = response.get("content", {})
            assert content, f"{where} {status}: no content"
            assert all("example" in media or "examples" in media for media in content.values()), (
                f"{where} {status}"
            )
        if "requestBody" in op:
            media = op["requestBody"]["content"]
            assert all("example" in m or "examples" in m for m in media.values()), where
        if path.startswith("/v1/"):
            # /v1/feedback takes a feedback token (a page's), not an API key (docs/feedback.md)
            scheme = "FeedbackToken" if path == "/v1/feedback" else "ApiKey"
            assert op.get("security") == [{scheme: []}], where
            assert {"401", "403"} <= set(op["responses"]), where
    assert "Event" in document["components"]["schemas"]


def test_openapi_write_responses_document_partial_success(client: TestClient) -> None:
    op = client.get("/openapi.json").json()["paths"]["/v1/events"]["post"]
    assert {"200", "207", "413", "422", "429", "503"} <= set(op["responses"])
    assert op["responses"]["207"]["content"]["application/json"]["example"]["partial"] is True
    assert "application/x-ndjson" in op["requestBody"]["content"]
