"""The metric sinks handed to the loader and the dispatcher."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.metrics import MetricUnit

from shotgun_events.plugins import EmfMetrics, RecordedMetrics


def emf_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]


def test_emf_metrics_write_one_document_per_plugin_per_flush_with_the_plugin_dimension(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN the EMF sink CloudWatch reads from the function's log
    sink = EmfMetrics(namespace="ShotgunEventsTest", service="shotgun-events-test")
    # WHEN two plugins record data points, then the invocation flushes
    sink.add("studio", "Processed", 1, MetricUnit.Count)
    sink.add("other", "CallbackDuration", 12.5, MetricUnit.Milliseconds)
    sink.add("studio", "Processed", 1, MetricUnit.Count)
    sink.add("studio", "ProcessingDelay", 250.0, MetricUnit.Milliseconds)
    assert emf_lines(capsys) == []  # nothing is written before the flush
    sink.flush()
    # THEN one EMF line per plugin, dimensioned by service and plugin, never mixed, every value kept
    other, studio = sorted(emf_lines(capsys), key=lambda d: d["plugin"])
    (directive,) = studio["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "ShotgunEventsTest"
    assert [sorted(d) for d in directive["Dimensions"]] == [["plugin", "service"]]
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {
        "Processed": "Count",
        "ProcessingDelay": "Milliseconds",
    }
    assert (studio["plugin"], studio["service"]) == ("studio", "shotgun-events-test")
    assert (studio["Processed"], studio["ProcessingDelay"]) == ([1.0, 1.0], [250.0])
    assert (other["plugin"], other["CallbackDuration"]) == ("other", [12.5])
    assert other["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [
        {"Name": "CallbackDuration", "Unit": "Milliseconds"}
    ]
    # AND a flush with nothing new writes nothing (no warning line either)
    sink.flush()
    assert capsys.readouterr().out == ""


def test_emf_metrics_write_a_document_by_themselves_at_100_values(capsys: pytest.CaptureFixture[str]) -> None:
    sink = EmfMetrics(namespace="ShotgunEventsTest", service="shotgun-events-test")
    for _ in range(150):
        sink.add("studio", "Processed", 1, MetricUnit.Count)
    (full,) = emf_lines(capsys)  # EMF holds at most 100 values of a metric
    sink.flush()
    (rest,) = emf_lines(capsys)
    assert (len(full["Processed"]), len(rest["Processed"])) == (100, 50)


def test_recorded_metrics_keep_data_points_per_plugin() -> None:
    sink = RecordedMetrics()
    sink.add("studio", "Processed", 1, MetricUnit.Count)
    sink.add("studio", "Processed", 1, MetricUnit.Count)
    assert sink.values == {("studio", "Processed"): [1, 1]} and sink.total("studio", "Processed") == 2
