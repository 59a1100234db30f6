"""The metric sinks handed to the loader and the dispatcher."""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools.metrics import MetricUnit

from shotgun_events.plugins import EmfMetrics, RecordedMetrics


def test_emf_metrics_print_one_emf_line_per_data_point_with_the_plugin_dimension(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN the EMF sink CloudWatch reads from the function's log
    sink = EmfMetrics(namespace="ShotgunEventsTest", service="shotgun-events-test")
    # WHEN two plugins record a data point each
    sink.add("studio", "Processed", 1, MetricUnit.Count)
    sink.add("other", "CallbackDuration", 12.5, MetricUnit.Milliseconds)
    # THEN each is one EMF JSON line, dimensioned by service and plugin, never mixed
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip())
    (directive,) = first["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "ShotgunEventsTest"
    assert sorted(directive["Dimensions"][0]) == ["plugin", "service"]
    assert directive["Metrics"] == [{"Name": "Processed", "Unit": "Count"}]
    assert (first["plugin"], first["service"], first["Processed"]) == ("studio", "shotgun-events-test", [1.0])
    assert (second["plugin"], second["CallbackDuration"]) == ("other", [12.5])
    assert second["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] == "Milliseconds"


def test_recorded_metrics_keep_data_points_per_plugin() -> None:
    sink = RecordedMetrics()
    sink.add("studio", "Processed", 1, MetricUnit.Count)
    sink.add("studio", "Processed", 1, MetricUnit.Count)
    assert sink.values == {("studio", "Processed"): [1, 1]} and sink.total("studio", "Processed") == 2
