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


def count_fpt_error(kind: str, plugin: str | None = None) -> None:
    """One `FptErrors` data point with the error kind (auth, timeout, http_5xx, ...) as a dimension,
    and the plugin's name when a dispatch function's read failed."""
    with single_metric(name="FptErrors", unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as metric:
        metric.add_dimension(name="kind", value=kind)
        if plugin:
            metric.add_dimension(name="plugin", value=plugin)
