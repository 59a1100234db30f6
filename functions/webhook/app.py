"""Webhook Lambda behind a Function URL (auth NONE: FPT cannot sign AWS requests, its token is the
authentication). Thin: the Function URL event -> `WebhookFunction` -> the Function URL answer."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import LambdaFunctionUrlEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from shotgun_events.observability import log_invocation
from shotgun_events.webhook import WebhookFunction
from shotgun_events.webhook.function_url import function_url_response, request_from_function_url

webhook = WebhookFunction()  # builds nothing until the first request


@log_invocation  # never logs the request (its body), even if POWERTOOLS_LOGGER_LOG_EVENT is set
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return function_url_response(webhook(request_from_function_url(LambdaFunctionUrlEvent(event))))
