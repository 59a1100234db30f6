"""The one place that creates the Powertools Logger, Metrics and Tracer.

Everything else imports these objects. They work outside Lambda too (the local runtime, the
CLI, tests): the Logger prints JSON lines, Metrics prints EMF blobs on flush, and tracing is off.
In Lambda, `POWERTOOLS_TRACE_DISABLED` decides (the template sets it from its `Tracing`
parameter). An untraced function never builds a Tracer: building one loads the X-Ray SDK, a
quarter of a cold start's imports, even when it is disabled.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics, Tracer, single_metric
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.shared.functions import strtobool

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "shotgun-events")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "ShotgunEvents")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
Handler = TypeVar("Handler", bound=Callable[..., Any])
# Keys Powertools' `inject_lambda_context` puts on every line that the log group already tells:
# a third of a typical line. `function_request_id` and `cold_start` stay.
REDUNDANT_CONTEXT_KEYS = ("function_name", "function_arn", "function_memory_size")


def log_invocation(handler: Handler) -> Handler:
    """The Lambda handler under `logger.inject_lambda_context(clear_state=True)`, without the keys
    every line would repeat for nothing (`REDUNDANT_CONTEXT_KEYS`). The event is never logged, even
    with POWERTOOLS_LOGGER_LOG_EVENT set (a webhook request's body holds what FPT signed)."""

    @functools.wraps(handler)
    def lean(event: Any, context: Any) -> Any:
        logger.remove_keys(REDUNDANT_CONTEXT_KEYS)
        return handler(event, context)

    return cast(Handler, logger.inject_lambda_context(lean, clear_state=True, log_event=False))


def tracing_on() -> bool:
    """In Lambda, unless `POWERTOOLS_TRACE_DISABLED` is true."""
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME")) and not strtobool(
        os.environ.get("POWERTOOLS_TRACE_DISABLED", "false")
    )


def traced(handler: Handler) -> Handler:
    """The Lambda handler under Powertools' Tracer when tracing is on; unchanged otherwise."""
    if not tracing_on():
        return handler
    return cast(Handler, Tracer(service=SERVICE).capture_lambda_handler(handler))


def count(name: str, value: float = 1, **dimensions: str | None) -> None:
    """One data point of `name`, written at once, with `service` (the stack, as on every other metric)
    and its own dimensions (those that are not None)."""
    with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=NAMESPACE) as metric:
        metric.add_dimension(name="service", value=SERVICE)
        for key, dimension in dimensions.items():
            if dimension:
                metric.add_dimension(name=key, value=dimension)


def count_fpt_error(kind: str, plugin: str | None = None) -> None:
    """One `FptErrors` data point with the error kind (auth, timeout, http_5xx, ...) as a dimension,
    and the plugin's name when a dispatch function's read failed."""
    count("FptErrors", kind=kind, plugin=plugin)
