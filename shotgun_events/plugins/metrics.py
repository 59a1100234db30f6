"""Per-plugin metrics: one Protocol, an EMF implementation and an in-memory one.

Every data point carries a `plugin` dimension. The EMF sink keeps one Powertools metric set per
plugin, so one process may record several plugins (the local runtime) without mixing their
dimensions, and writes each set as one EMF document when flushed: once per invocation (dispatch
flushes after each batch), not one log line per data point. A metric's values stay a list, so
CloudWatch still sees every data point (percentiles of `ProcessingDelay` are unchanged); a set
also writes itself out when a metric reaches EMF's 100 values.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from functools import cache
from typing import Protocol

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from shotgun_events.observability import NAMESPACE, SERVICE


class MetricsSink(Protocol):
    def add(self, plugin: str, name: str, value: float, unit: MetricUnit) -> None: ...


class EmfMetrics:
    """CloudWatch metrics through Embedded Metric Format: one document per plugin per `flush`."""

    def __init__(self, namespace: str = NAMESPACE, service: str = SERVICE):
        self.namespace = namespace
        self.service = service
        self._sets: dict[str, EphemeralMetrics] = {}
        self._pending: set[str] = set()
        self._lock = threading.Lock()  # batches of one plugin may run in threads (the demo)

    def add(self, plugin: str, name: str, value: float, unit: MetricUnit) -> None:
        with self._lock:
            metric_set = self._sets.get(plugin)
            if metric_set is None:
                metric_set = EphemeralMetrics(namespace=self.namespace, service=self.service)
                metric_set.set_default_dimensions(plugin=plugin)
                self._sets[plugin] = metric_set
            metric_set.add_metric(name=name, unit=unit, value=value)
            self._pending.add(plugin)

    def flush(self) -> None:
        """Write out the data points added since the last flush: one EMF line per plugin."""
        with self._lock:
            for plugin in sorted(self._pending):
                metric_set = self._sets[plugin]
                if metric_set.metric_set:  # empty when it wrote itself out at 100 values
                    metric_set.flush_metrics()
            self._pending.clear()


def flush_metrics(sink: MetricsSink) -> None:
    """Write out what an EMF sink holds; the other sinks keep nothing back."""
    if isinstance(sink, EmfMetrics):
        sink.flush()


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
