"""The doorbell's ingress: check a webhook request, then ring once for the delivery.

Order matters. The signature is checked before the body is parsed, so nothing in an unsigned or
forged body is ever looked at. A rejected request has no other effect. It is counted in
`WebhookRejected` (dimension `reason`) and logged without its body.

| reason | status | what was wrong |
|---|---|---|
| `method` | 405 | not a POST |
| `unsigned` | 401 | no `X-SG-SIGNATURE` header |
| `oversize` | 413 | body over `MAX_BODY_BYTES` (never hashed) |
| `signature` | 401 | the signature does not match the body and the token |
| `malformed` | 400 | signed, but not an FPT delivery (not JSON, no event id) |

A replayed valid request rings again. That is harmless: a ring only wakes the poller, and a ring
for an event already read ends no wait and costs no read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shotgun_events.doorbell import Ringer
from shotgun_events.observability import count, logger
from shotgun_events.webhook.delivery import MalformedDelivery, parse_delivery
from shotgun_events.webhook.signature import is_signed

SIGNATURE_HEADER = "x-sg-signature"
# Lambda's own request limit. FPT's deliveries stay far below it (values are dropped above 1 MB).
MAX_BODY_BYTES = 6 * 1024 * 1024


@dataclass(frozen=True)
class WebhookRequest:
    method: str
    headers: Mapping[str, str]  # names in lower case
    body: bytes
    source_ip: str | None = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class WebhookResponse:
    status: int
    body: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        # FPT keeps the first 100 characters of the answer in its delivery log: keep it short, no secrets.
        return json.dumps(self.body)


class Ingress:
    """Checks one request against `token` and rings `doorbell` for a valid delivery."""

    def __init__(self, token: str, doorbell: Ringer):
        if not token:
            raise ValueError("the webhook token is empty")
        self._token = token
        self._doorbell = doorbell

    def handle(self, request: WebhookRequest) -> WebhookResponse:
        if request.method.upper() != "POST":
            return _reject(request, "method", 405, "only POST is accepted")
        signature = request.header(SIGNATURE_HEADER)
        if not signature:
            return _reject(request, "unsigned", 401, "X-SG-SIGNATURE header missing")
        if len(request.body) > MAX_BODY_BYTES:
            return _reject(request, "oversize", 413, f"body over {MAX_BODY_BYTES} bytes")
        if not is_signed(request.body, signature, self._token):
            return _reject(request, "signature", 401, "signature does not match")
        try:
            delivery = parse_delivery(request.body)
        except MalformedDelivery as exc:
            return _reject(request, "malformed", 400, str(exc))
        context = _context(request) | {"event_id": delivery.highest_id, "count": delivery.events}
        try:
            self._doorbell.ring(delivery.highest_id, delivery.events)
        except Exception as exc:
            # FPT does not retry, and nothing is lost: the poller reads the event on its interval.
            logger.error(
                f"doorbell not rung: {str(exc).splitlines()[0][:300]}",
                extra=context | {"error_type": type(exc).__name__},
            )
            count("DoorbellRingFailures")
            return WebhookResponse(503, {"error": "doorbell unavailable"})
        logger.info("doorbell rung", extra=context)
        count("DoorbellRings")
        return WebhookResponse(200, {"rang": delivery.highest_id})


def _context(request: WebhookRequest) -> dict[str, Any]:
    """What a log line says about a request: FPT's delivery headers and the sender, never the body."""
    return {
        "delivery_id": _short(request.header("x-sg-delivery-id")),
        "webhook_id": _short(request.header("x-sg-webhook-id")),
        "source_ip": _short(request.source_ip),
    }


def _short(value: str | None) -> str | None:
    return value[:100] if value else None  # unsigned requests' headers are anyone's text


def _reject(request: WebhookRequest, reason: str, status: int, message: str) -> WebhookResponse:
    logger.warning(
        f"webhook request rejected: {message}",
        extra=_context(request) | {"reason": reason, "status": status, "body_bytes": len(request.body)},
    )
    count("WebhookRejected", reason=reason)
    return WebhookResponse(status, {"error": message})
