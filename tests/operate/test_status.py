"""`status`: the poller, the site, alarms and each plugin, read from the stack's own resources (and the
CloudWatch metrics AWS and the functions publish, put here as they would be)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.operate.conftest import Studio

PLUGIN = "create_shot_directories"


def put_metric(namespace: str, name: str, dimensions: dict[str, str], value: float) -> None:
    boto3.client("cloudwatch").put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                "Value": value,
                "Timestamp": datetime.now(UTC),
            }
        ],
    )


def status(studio: Studio, *args: str) -> dict[str, Any]:
    result = studio.cli("status", "--json", *args)
    assert result.code == 0, result.err
    assert result.audit() == []
    document: dict[str, Any] = json.loads(result.out)
    return document


def test_status_shows_where_events_are_and_how_far_behind(studio: Studio) -> None:
    fresh = status(studio)
    assert fresh["poller"]["cursor"] is None  # not started: says so

    studio.poll()
    studio.create_shots("SH_STATUS_010")
    studio.poll()
    studio.park(PLUGIN)
    studio.create_shots("SH_STATUS_020")  # not published yet
    newest = studio.newest_event()
    cursor = json.loads(studio.cli("status", "--json").out)["poller"]["cursor"]

    document = status(studio)
    assert document["site"] == studio.emulator.url
    assert document["fpt"]["newest_id"] == newest
    assert document["fpt"]["behind"] == newest - cursor > 0
    assert document["fpt"]["lag_seconds"] >= 0
    assert document["poller"]["backlog"] == 0 and document["poller"]["state_updated_at"]
    plugins = {p["name"]: p for p in document["plugins"]}
    assert set(plugins) == set(studio.stack.outputs.plugins)
    assert plugins[PLUGIN]["parked"] == 1 and plugins[PLUGIN]["queued"] == 0
    assert plugins["init_entity"]["queued"] == 1  # delivered, not run yet
    assert plugins["layout_final_animation_ready"]["queued"] == 0
    assert {p["paused"] for p in plugins.values()} == {False}


def test_status_reads_the_metrics_and_alarms_cloudwatch_has(studio: Studio) -> None:
    studio.poll()
    studio.create_shots("SH_STATUS_030")
    studio.poll()
    studio.park(PLUGIN)
    outputs = studio.plugin(PLUGIN)
    put_metric("AWS/Lambda", "Invocations", {"FunctionName": studio.stack.outputs.poller_function}, 1)
    put_metric("AWS/Lambda", "Errors", {"FunctionName": studio.stack.outputs.poller_function}, 1)
    dlq_name = outputs.dead_letter_queue_url.rsplit("/", 1)[-1]
    put_metric("AWS/SQS", "ApproximateAgeOfOldestMessage", {"QueueName": dlq_name}, 420)
    put_metric("ShotgunEvents", "RecordFailures", {"service": "studio", "plugin": PLUGIN}, 2)
    alarm = "studio-CreateShotDirectoriesDeadLettersAlarm"  # the embedded stack names alarms <stack>-<id>
    boto3.client("cloudwatch").set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="test")

    document = status(studio)
    assert document["poller"]["last_run"] is not None and document["poller"]["last_run_failed"] is True
    plugin = next(p for p in document["plugins"] if p["name"] == PLUGIN)
    assert plugin["oldest_parked_age_seconds"] == 420
    assert plugin["failures_last_hour"] == 2
    (firing,) = document["alarms"]
    assert firing["name"] == alarm
    assert f"shotgun-events dlq {PLUGIN} --stack studio --show" in firing["next_step"]
    assert f"shotgun-events redrive {PLUGIN} --stack studio" in firing["next_step"]

    table = studio.cli("status")
    assert table.code == 0, table.err
    assert "alarms firing" in table.out and alarm in table.out
    assert PLUGIN in table.out and "failed" in table.out


def test_status_still_shows_the_stack_when_fpt_cannot_be_read(studio: Studio, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"script_name": "nobody", "api_key": "wrong"}))
    document = status(studio, "--credentials", str(wrong))
    assert "FPT site" in document["fpt"]["error"] and "auth" in document["fpt"]["error"]
    assert len(document["plugins"]) == len(studio.stack.outputs.plugins)


def test_watch_refreshes_until_interrupted(studio: Studio) -> None:
    naps: list[float] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 2:
            raise KeyboardInterrupt

    studio.monkeypatch.setattr("shotgun_events_tools.commands.status.time.sleep", sleep)
    result = studio.cli("status", "--json", "--watch", "2")
    assert result.code == 0
    assert naps == [2.0, 2.0]
    assert len([json.loads(line) for line in result.out.splitlines()]) == 2

    naps.clear()
    table = studio.cli("status", "--watch")  # the live table, every 5 s by default
    assert table.code == 0 and naps == [5.0, 5.0]
    assert "init_entity" in table.out


@pytest.mark.parametrize("bad", ["0", "-1", "soon"])
def test_a_bad_watch_interval_is_refused(studio: Studio, bad: str) -> None:
    with pytest.raises(SystemExit):
        studio.cli("status", "--watch", bad)
    assert "--watch" in studio.capsys.readouterr().err
