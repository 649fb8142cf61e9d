"""Telemetry in: Claude Code's OTLP/HTTP export at `POST /v1/metrics`, `/v1/logs` and `/v1/traces`.

Point Claude Code at the gateway (`CLAUDE_CODE_ENABLE_TELEMETRY=1`, `OTEL_METRICS_EXPORTER=otlp`,
`OTEL_LOGS_EXPORTER=otlp`, `OTEL_EXPORTER_OTLP_PROTOCOL=http/json` or `http/protobuf`,
`OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:8318`) and the dashboard's Sessions tab shows each
session's cost, tokens, tools and events next to the requests the gateway served for it.

Every export is answered 200 with an empty Export*ServiceResponse, kept or not (an exporter would
only retry or complain otherwise): kept when the gateway has no client keys, or the export carries
one (`OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer <key>"`). Bodies are OTLP/JSON, or protobuf
decoded with the `opentelemetry-proto` messages into the same JSON shape. Items are keyed by their
`session.id` attribute (on the point, else the resource), else the `X-Claude-Code-Session-Id` header.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator
from typing import Any

import orjson
from aiohttp import web

from babelgate.observe.sessions import Session, Sessions, session_id
from babelgate.server.gateway import GATEWAY, Gateway

log = logging.getLogger("babelgate.telemetry")
PATHS = ("/v1/metrics", "/v1/logs", "/v1/traces")
PROTOBUF = "application/x-protobuf"
CUMULATIVE = 2  # AggregationTemporality.CUMULATIVE (1 is DELTA)


def _value(value: Any) -> Any:
    """An OTLP AnyValue as a plain value (arrays and maps as their length: names and counts are what we keep)."""
    if not isinstance(value, dict):
        return None
    for kind in ("stringValue", "boolValue", "doubleValue"):
        if kind in value:
            return value[kind]
    if "intValue" in value:  # int64: a string in JSON
        try:
            return int(value["intValue"])
        except (TypeError, ValueError):
            return None
    for kind in ("arrayValue", "kvlistValue"):
        if kind in value:
            return len(value[kind].get("values") or []) if isinstance(value[kind], dict) else None
    return None


def attributes(items: Any) -> dict[str, Any]:
    if not isinstance(items, list):
        return {}
    return {item["key"]: _value(item.get("value")) for item in items if isinstance(item, dict) and isinstance(item.get("key"), str)}


def _list(container: Any, key: str) -> list[Any]:
    found = container.get(key) if isinstance(container, dict) else None
    return found if isinstance(found, list) else []


def _number(point: dict[str, Any]) -> float | None:
    for key in ("asDouble", "asInt"):
        if key in point:
            try:
                return float(point[key])
            except (TypeError, ValueError):
                return None
    return None


def _seconds(nanos: Any) -> float | None:
    try:
        return int(nanos) / 1e9
    except (TypeError, ValueError):
        return None


class Intake:
    """Walks one decoded export into the session summaries."""

    def __init__(self, sessions: Sessions, header_session: str | None) -> None:
        self.sessions = sessions
        self.header = header_session
        self.kept = 0

    def _session(self, own: dict[str, Any], resource: dict[str, Any], when: float | None) -> Session | None:
        sid = session_id(own.get("session.id")) or session_id(resource.get("session.id")) or self.header
        if sid is None:
            self.sessions.dropped += 1
            return None
        session = self.sessions.session(sid, when)
        self.sessions.client_info(session, resource)
        self.sessions.client_info(session, own)
        self.kept += 1
        return session

    def _scoped(self, doc: dict[str, Any], outer: str, scopes: str, items: str) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        for block in _list(doc, outer):
            resource = attributes(_list(block.get("resource"), "attributes")) if isinstance(block, dict) else {}
            for scope in _list(block, scopes):
                for item in _list(scope, items):
                    if isinstance(item, dict):
                        yield resource, item

    def metrics(self, doc: dict[str, Any]) -> None:
        for resource, metric in self._scoped(doc, "resourceMetrics", "scopeMetrics", "metrics"):
            name = metric.get("name")
            data = metric.get("sum") or metric.get("gauge")
            if not isinstance(name, str) or not isinstance(data, dict):
                continue
            cumulative = data.get("aggregationTemporality") in (CUMULATIVE, "AGGREGATION_TEMPORALITY_CUMULATIVE")
            for point in _list(data, "dataPoints"):
                value = _number(point) if isinstance(point, dict) else None
                if value is None:
                    continue
                own = attributes(point.get("attributes"))
                session = self._session(own, resource, _seconds(point.get("timeUnixNano")))
                if session is not None:
                    self.sessions.metric(session, name, own, value, cumulative)

    def logs(self, doc: dict[str, Any]) -> None:
        for resource, record in self._scoped(doc, "resourceLogs", "scopeLogs", "logRecords"):
            own = attributes(record.get("attributes"))
            name = own.get("event.name") or str(_value(record.get("body")) or "").removeprefix("claude_code.")
            when = _seconds(record.get("timeUnixNano")) or _seconds(record.get("observedTimeUnixNano"))
            session = self._session(own, resource, when)
            if session is not None and isinstance(name, str) and name:
                self.sessions.event(session, name[:80], own, when or session.last_seen)

    def traces(self, doc: dict[str, Any]) -> None:
        for resource, span in self._scoped(doc, "resourceSpans", "scopeSpans", "spans"):
            own = attributes(span.get("attributes"))
            session = self._session(own, resource, _seconds(span.get("endTimeUnixNano")))
            if session is not None and isinstance(span.get("name"), str):
                self.sessions.span(session, span["name"][:80])


def _decode_protobuf(signal: str, body: bytes) -> dict[str, Any] | None:
    try:
        from google.protobuf.json_format import MessageToDict
        from google.protobuf.message import DecodeError
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    except ImportError:  # without opentelemetry-proto: counted, not read
        return None
    kinds = {"metrics": ExportMetricsServiceRequest, "logs": ExportLogsServiceRequest, "traces": ExportTraceServiceRequest}
    message = kinds[signal]()
    try:
        message.ParseFromString(body)
    except DecodeError:
        return None
    decoded: dict[str, Any] = MessageToDict(message)
    return decoded


def decode(signal: str, content_type: str, body: bytes) -> dict[str, Any] | None:
    if content_type.startswith(PROTOBUF):
        return _decode_protobuf(signal, body)
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) else None


def _authorized(request: web.Request, gateway: Gateway) -> bool:
    server = gateway.config.server
    keys = [str(getattr(k, "key", k)) for k in server.api_keys] + ([server.admin_key] if server.admin_key else [])
    if not server.api_keys:
        return True
    auth = request.headers.get("Authorization", "")
    given = auth[7:].strip() if auth.lower().startswith("bearer ") else request.headers.get("x-api-key")
    return given is not None and any(hmac.compare_digest(given.encode(), k.encode()) for k in keys)


async def export(request: web.Request) -> web.StreamResponse:
    signal = request.path.rsplit("/", 1)[-1]
    gateway = request.app[GATEWAY]
    content_type = request.headers.get("Content-Type", "")
    answer = (
        web.Response(body=b"", content_type=PROTOBUF)
        if content_type.startswith(PROTOBUF)
        else web.Response(body=b"{}", content_type="application/json")
    )
    body = await request.read()
    if not _authorized(request, gateway):
        log.debug("telemetry on %s without a client key: answered, not kept", request.path)
        return answer
    doc = decode(signal, content_type, body)
    if doc is None:
        log.debug("telemetry on %s not readable as OTLP (%s, %d bytes): answered, not kept", request.path, content_type, len(body))
        return answer
    intake = Intake(gateway.sessions, session_id(request.headers.get("X-Claude-Code-Session-Id")))
    getattr(intake, signal)(doc)
    return answer


async def sessions(request: web.Request) -> web.StreamResponse:
    listing = request.app[GATEWAY].sessions
    return web.Response(body=orjson.dumps({"sessions": listing.listing(), "dropped": listing.dropped}), content_type="application/json")


def add_routes(router: web.UrlDispatcher) -> None:
    for path in PATHS:
        router.add_post(path, export)
    router.add_get("/admin/api/sessions", sessions)
