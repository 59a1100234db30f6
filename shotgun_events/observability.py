"""The one place that creates the Powertools Logger, Metrics and Tracer.

Everything else imports these objects. They work outside Lambda too (the local runtime, the
CLI, tests): the Logger prints JSON lines, Metrics prints EMF blobs on flush, and the Tracer is
disabled unless X-Ray is available.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer, single_metric
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "shotgun-events")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "ShotgunEvents")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE, disabled=os.environ.get("AWS_LAMBDA_FUNCTION_NAME") is None)


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
