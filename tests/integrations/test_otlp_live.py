"""``POST /v1/traces`` with real clients: the OpenTelemetry SDK and its OTLP/HTTP protobuf exporter,
the official OpenAI instrumentation calling an OpenAI-compatible stub with the real ``openai`` SDK,
all exporting to ``preflog serve`` (real uvicorn) on loopback."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from preflog.store import open_store
from tests.integrations.openai_stub import MODEL_VERSION, StubServer
from tests.server.live import LiveServer, cli, start_server

pytest.importorskip("opentelemetry.sdk", reason="the OpenTelemetry SDK is in the dev extra")

from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

PROJECT = "shop"
pytestmark = pytest.mark.slow


@dataclass
class Service:
    server: LiveServer
    db: str
    key: str

    def events(self, request_id: str | None = None) -> list[dict[str, Any]]:
        with open_store(self.db) as store:
            return [
                e.event
                for e in store.iter_events(project=PROJECT)
                if request_id is None or e.event["request_id"] == request_id
            ]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    db = str(tmp_path_factory.mktemp("otlp") / "otlp.db")
    key = json.loads(cli(db, "keys", "create", "--project", PROJECT, "--scope", "ingest", "--format", "json"))
    live = start_server(db)
    yield Service(live, db, key["key"])
    live.stop()


def provider(exporter: SpanExporter) -> TracerProvider:
    tp = TracerProvider(resource=Resource.create({"service.name": "checkout"}))
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    return tp


def exporter_to(url: str, key: str, **kwargs: Any) -> OTLPSpanExporter:
    return OTLPSpanExporter(endpoint=url + "/v1/traces", headers={"Authorization": f"Bearer {key}"}, **kwargs)


def chat_span(tp: TracerProvider, question: str, answers: Sequence[str], **extra: Any) -> str:
    """A chat span as an application instrumenting its own LLM call writes it; answers its span id."""
    tracer = tp.get_tracer("shop.llm")
    with tracer.start_as_current_span("chat gpt-4o") as span:
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.request.temperature": 0.3,
                "gen_ai.input.messages": json.dumps(
                    [{"role": "user", "parts": [{"type": "text", "content": question}]}]
                ),
                "gen_ai.output.messages": json.dumps(
                    [
                        {
                            "role": "assistant",
                            "parts": [{"type": "text", "content": a}],
                            "finish_reason": "stop",
                        }
                        for a in answers
                    ]
                ),
                **extra,
            }
        )
        return format(span.get_span_context().span_id, "016x")


def test_the_sdk_exporter_delivers_an_inference_with_its_candidates(service: Service) -> None:
    tp = provider(exporter_to(service.server.url, service.key, compression=Compression.Gzip))
    span_id = chat_span(
        tp, "Which size fits me?", ["Medium.", "Large."], **{"preflog.request_id": "req-size-1"}
    )
    with tp.get_tracer("shop.http").start_as_current_span("GET /cart"):
        pass  # not an LLM call: ignored, never stored
    tp.force_flush()
    (event,) = service.events("req-size-1")
    assert event["type"] == "inference"
    assert event["prompt"] == [{"role": "user", "content": "Which size fits me?"}]
    assert [(c["candidate_id"], c["output"]) for c in event["candidates"]] == [
        ("c0", "Medium."),
        ("c1", "Large."),
    ]
    assert event["candidates"][0]["model"] == {"name": "gpt-4o", "provider": "openai"}
    assert event["candidates"][0]["params"] == {"temperature": 0.3}
    assert event["metadata"]["otlp"]["span_id"] == span_id
    assert event["metadata"]["otlp"]["service"] == "checkout"
    assert not any(e["metadata"].get("otlp", {}).get("name") == "GET /cart" for e in service.events())
    tp.shutdown()


class FlakyProxy:
    """Forwards to preflog; the first answer is thrown away and replaced by a 503 (a timeout or a
    proxy failure after the service stored the batch), so the exporter sends the same batch again."""

    def __init__(self, target: str) -> None:
        self.bodies: list[bytes] = []
        self.answers: list[tuple[int, dict[str, str], bytes]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                proxy.bodies.append(body)
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
                }
                answer = httpx.post(target + self.path, content=body, headers=headers, timeout=30)
                proxy.answers.append((answer.status_code, dict(answer.headers), answer.content))
                status, content = (
                    (503, b"") if len(proxy.bodies) == 1 else (answer.status_code, answer.content)
                )
                self.send_response(status)
                if status == 503:
                    self.send_header("Retry-After", "0")
                self.send_header("content-type", answer.headers.get("content-type", "application/x-protobuf"))
                self.send_header("content-length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_an_exporter_retrying_a_batch_stores_nothing_twice(service: Service) -> None:
    proxy = FlakyProxy(service.server.url)
    try:
        tp = provider(exporter_to(proxy.url, service.key))
        chat_span(tp, "Do you ship to Norway?", ["Yes, in 3 days."], **{"gen_ai.response.id": "resp-norway"})
        tp.force_flush()
        tp.shutdown()
    finally:
        proxy.close()
    assert len(proxy.bodies) == 2 and proxy.bodies[0] == proxy.bodies[1]  # the exporter's own retry
    first, second = proxy.answers
    assert first[1]["preflog-events"].startswith("stored=1, duplicate=0")
    assert second[1]["preflog-events"].startswith("stored=0, duplicate=1")
    assert len(service.events("resp-norway")) == 1


class JsonSpanExporter(SpanExporter):
    """OTLP/JSON over HTTP. The Python SDK ships protobuf exporters only, so this one encodes the
    SDK's spans with the official encoder and writes the OTLP/JSON mapping (hex ids)."""

    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url, key
        self.answers: list[httpx.Response] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        body = json_format.MessageToDict(encode_spans(spans))
        for rs in body.get("resourceSpans", []):
            for ss in rs.get("scopeSpans", []):
                for s in ss.get("spans", []):
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if key in s:
                            s[key] = base64.b64decode(s[key]).hex()
        answer = httpx.post(
            self.url + "/v1/traces", json=body, headers={"Authorization": f"Bearer {self.key}"}
        )
        self.answers.append(answer)
        return SpanExportResult.SUCCESS if answer.status_code == 200 else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        pass


def test_the_json_encoding(service: Service) -> None:
    exporter = JsonSpanExporter(service.server.url, service.key)
    tp = provider(exporter)
    span_id = chat_span(tp, "Gift wrap?", ["Yes, for 2 EUR."])
    tracer = tp.get_tracer("shop.llm")
    with tracer.start_as_current_span("chat gpt-4o") as span:  # an LLM span without captured content
        span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"})
    tp.force_flush()
    tp.shutdown()
    assert [a.status_code for a in exporter.answers] == [200, 200]
    (event,) = service.events(span_id)  # no response id, no preflog.request_id: the span id
    assert event["candidates"][0]["output"] == "Yes, for 2 EUR."
    assert exporter.answers[0].json() == {}
    partial = exporter.answers[1].json()["partialSuccess"]
    assert partial["rejectedSpans"] == 1 and "content capture" in partial["errorMessage"]


def test_protobuf_answers_partial_success_and_bad_bodies_are_400(service: Service) -> None:
    tp = TracerProvider()

    class Keep(SpanExporter):
        def __init__(self) -> None:
            self.spans: list[ReadableSpan] = []

        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            self.spans.extend(spans)
            return SpanExportResult.SUCCESS

    keep = Keep()
    tp.add_span_processor(SimpleSpanProcessor(keep))
    with tp.get_tracer("t").start_as_current_span("chat m") as span:
        span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"})
    with tp.get_tracer("t").start_as_current_span("SELECT"):
        pass
    headers = {"Authorization": f"Bearer {service.key}", "Content-Type": "application/x-protobuf"}
    answer = httpx.post(
        service.server.url + "/v1/traces",
        content=encode_spans(keep.spans).SerializeToString(),
        headers=headers,
    )
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/x-protobuf"
    response = ExportTraceServiceResponse.FromString(answer.content)
    assert response.partial_success.rejected_spans == 1
    assert "1 span(s) ignored: not LLM calls" in response.partial_success.error_message
    assert answer.headers["preflog-spans"] == "received=2, llm=1, ignored=1, rejected=1"

    bad = httpx.post(service.server.url + "/v1/traces", content=b"\xff\x01", headers=headers)
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/x-protobuf"
    from google.rpc.status_pb2 import Status

    assert "protobuf" in Status.FromString(bad.content).message
    wrong_type = httpx.post(
        service.server.url + "/v1/traces", content=b"{}", headers={**headers, "Content-Type": "text/plain"}
    )
    assert wrong_type.status_code == 415
    no_key = httpx.post(
        service.server.url + "/v1/traces", content=b"{}", headers={"Content-Type": "application/json"}
    )
    assert no_key.status_code == 401


def test_a_read_key_may_not_send_traces(service: Service) -> None:
    read = json.loads(
        cli(service.db, "keys", "create", "--project", PROJECT, "--scope", "read", "--format", "json")
    )
    answer = httpx.post(
        service.server.url + "/v1/traces", json={}, headers={"Authorization": f"Bearer {read['key']}"}
    )
    assert answer.status_code == 403


def test_the_openai_instrumentation_with_content_capture(
    service: Service, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytest.importorskip("opentelemetry.instrumentation.openai_v2", reason="in the dev extra")
    openai = pytest.importorskip("openai", reason="in the dev extra")
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "span_only")
    stub = StubServer()
    tp = provider(exporter_to(service.server.url, service.key))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tp)
    try:
        client = openai.OpenAI(base_url=stub.url, api_key="sk-test", max_retries=0)
        response = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Return policy?"},
            ],
            n=3,
            temperature=0.9,
            seed=7,
        )
        tp.force_flush()
    finally:
        instrumentor.uninstrument()
        tp.shutdown()
        stub.close()
    (event,) = service.events(response.id)  # the request id is the response id the app holds
    assert event["system"] == "Be brief."
    assert event["prompt"] == [{"role": "user", "content": "Return policy?"}]
    assert [c["output"] for c in event["candidates"]] == [f"answer {i}: Return policy?" for i in range(3)]
    model = event["candidates"][0]["model"]
    assert model == {"name": "gpt-4o-mini", "version": MODEL_VERSION, "provider": "openai"}
    assert event["candidates"][0]["params"]["temperature"] == 0.9
    assert event["candidates"][0]["params"]["seed"] == 7
    assert event["metadata"]["usage"] == {"input_tokens": 11, "output_tokens": 21}
