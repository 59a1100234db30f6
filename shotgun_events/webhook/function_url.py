"""A Lambda Function URL invocation (payload format 2.0) as a `WebhookRequest`, and the answer back.

Function URLs lower-case header names and base64-encode bodies that are not text; the signature
is over the bytes FPT sent, so the body is turned back into exactly those bytes.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aws_lambda_powertools.utilities.data_classes import LambdaFunctionUrlEvent

from shotgun_events.webhook.ingress import WebhookRequest, WebhookResponse


def request_from_function_url(event: LambdaFunctionUrlEvent) -> WebhookRequest:
    raw = event.body or ""
    if event.is_base64_encoded:
        try:
            body = base64.b64decode(raw, validate=True)
        except binascii.Error:
            body = raw.encode("utf-8")  # not base64 after all: it then fails the signature check
    else:
        body = raw.encode("utf-8")
    http = event.request_context.http
    return WebhookRequest(
        method=http.method,
        headers={name.lower(): value for name, value in (event.get("headers") or {}).items()},
        body=body,
        source_ip=http.source_ip,
    )


def function_url_response(response: WebhookResponse) -> dict[str, Any]:
    return {
        "statusCode": response.status,
        "headers": {"content-type": "application/json"},
        "body": response.text(),
        "isBase64Encoded": False,
    }
