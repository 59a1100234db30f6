"""Per-plugin metrics: one Protocol, an EMF implementation and an in-memory one.

Every data point carries a `plugin` dimension. EMF lines are written one per data point (Powertools
`single_metric`), so one process may record several plugins (the local runtime) without mixing
their dimensions.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cache
from typing import Protocol

from aws_lambda_powertools import single_metric
from aws_lambda_powertools.metrics import MetricUnit

from shotgun_events.observability import NAMESPACE, SERVICE


class MetricsSink(Protocol):
    def add(self, plugin: str, name: str, value: float, unit: MetricUnit) -> None: ...


class EmfMetrics:
    """CloudWatch metrics through Embedded Metric Format log lines."""

    def __init__(self, namespace: str = NAMESPACE, service: str = SERVICE):
        self.namespace = namespace
        self.service = service

    def add(self, plugin: str, name: str, value: float, unit: MetricUnit) -> None:
        with single_metric(
            name=name,
            unit=unit,
            value=value,
            namespace=self.namespace,
            default_dimensions={"service": self.service, "plugin": plugin},
        ):
            pass


class RecordedMetrics:
    """Keeps data points in memory: `values[(plugin, name)]` lists them in order."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], list[float]] = defaultdict(list)

    def add(self, plugin: str, name: str, value: float, unit: MetricUnit) -> None:
        self.values[(plugin, name)].append(value)

    def total(self, plugin: str, name: str) -> float:
        return sum(self.values.get((plugin, name), []))


@cache
def emf_metrics() -> EmfMetrics:
    """The process-wide EMF sink (built on first use)."""
    return EmfMetrics()
