"""An event too large for SNS, end to end: the poller's encoding and publisher -> SNS FIFO -> SQS FIFO
(moto) -> the real dispatch `lambda_handler` -> re-read by id from the FPT emulator with the real
shotgun_api3 client -> the plugin gets the full event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from fpt_emulator import FptEmulator
from functions.dispatch import app
from shotgun_events.dispatch import DispatchFunction
from shotgun_events.events import EVENT_FIELDS, MAX_MESSAGE_BYTES, encode_event
from shotgun_events.plugins import RecordedMetrics
from tests.dispatch.support import (
    LambdaSqsDriver,
    LogLines,
    PluginPipeline,
    create_idempotency_table,
    create_plugin_pipeline,
    publish,
    queue_event_ids,
    write_plugin,
)

pytestmark = pytest.mark.usefixtures("aws", "clean_environ")

SECRET_ID = "shotgun-events/plugins/big_events"
SCRIPT, KEY = "big_events", "big-events-key-0001"
DESCRIPTION = "storyboard notes " * 20_000  # 340,000 characters: the event's meta is far over 256 KiB

PLUGIN = """
import json
import os

def registerCallbacks(reg):
    reg.registerCallback(
        os.environ["SGDAEMON_BIG_NAME"],
        os.environ["SGDAEMON_BIG_KEY"],
        on_change,
        matchEvents={"Shotgun_Shot_Change": ["description"]},
    )

def on_change(sg, logger, event, args):
    with open(os.environ["BIG_OUTPUT"], "a") as out:
        out.write(json.dumps({
            "id": event["id"],
            "fields": sorted(event),
            "new_value": event["meta"]["new_value"],
            "entity": event["entity"],
            "created_at": event["created_at"].isoformat(),
        }) + "\\n")
"""


@pytest.fixture
def deployed(fpt_emulator: FptEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    fpt_emulator.add_script(SCRIPT, KEY)
    write_plugin(tmp_path / "plugins", "big_events", PLUGIN)
    boto3.client("secretsmanager").create_secret(
        Name=SECRET_ID, SecretString=json.dumps({"SGDAEMON_BIG_NAME": SCRIPT, "SGDAEMON_BIG_KEY": KEY})
    )
    output = tmp_path / "runs.jsonl"
    env = {
        "PLUGIN_NAME": "big_events",
        "PLUGIN_PATHS": str(tmp_path / "plugins"),
        "SHOTGUN_URL": fpt_emulator.url,
        "PLUGIN_SECRET_ID": SECRET_ID,
        "IDEMPOTENCY_TABLE": create_idempotency_table(boto3.client("dynamodb")),
        "SHOTGUN_TIMEOUT_SECONDS": "5",
        "BIG_OUTPUT": str(output),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    metrics = RecordedMetrics()
    monkeypatch.setattr(app, "dispatch", DispatchFunction(metrics=metrics))
    return {"output": output, "metrics": metrics}


def oversize_event_published(emu: FptEmulator, max_receive_count: int = 3) -> tuple[PluginPipeline, int]:
    """A Shot's description set to a huge text (an artist's change: one event), published by the poller's
    encoder and publisher."""
    site = emu.site
    project = site.find_one("Project", [], ["id"])
    assert project is not None
    shot = site.create(
        "Shot", {"code": "SH500", "project": {"type": "Project", "id": project["id"]}}, events=False
    )
    last = site.last_event_id
    site.update("Shot", shot["id"], {"description": DESCRIPTION})
    (event,) = site.events(last)
    assert encode_event(event).is_reference  # too large for SNS: travels as a reference
    assert len(json.dumps(event["meta"])) > MAX_MESSAGE_BYTES
    pipeline = create_plugin_pipeline(
        {"event_type": ["Shotgun_Shot_Change"]}, max_receive_count=max_receive_count
    )
    publish(pipeline, [event])
    return pipeline, int(event["id"])


def runs(output: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.read_text().splitlines()] if output.exists() else []


def test_the_plugin_gets_the_full_oversize_event_re_read_from_fpt(
    fpt_emulator: FptEmulator, deployed: dict[str, Any], json_logs: LogLines
) -> None:
    # GIVEN an oversize event published as a reference
    pipeline, event_id = oversize_event_published(fpt_emulator)

    # WHEN the dispatch function drains its queue
    driver = LambdaSqsDriver(pipeline.sqs, pipeline.queue_url, app.lambda_handler)
    driver.run()

    # THEN the plugin saw the whole event, as FPT has it, and the record was consumed
    (run,) = runs(deployed["output"])
    assert run["id"] == event_id
    assert run["new_value"] == DESCRIPTION
    assert run["fields"] == sorted([*EVENT_FIELDS, "type"])  # what a published event has
    assert run["entity"]["type"] == "Shot" and run["created_at"].endswith("+00:00")
    assert [inv["response"] for inv in driver.invocations] == [{"batchItemFailures": []}]
    assert queue_event_ids(pipeline.sqs, pipeline.dlq_url) == []
    assert any(r["message"] == "re-read oversize event from FPT" for r in json_logs.records())


def test_a_failed_re_read_is_logged_counted_and_ends_in_the_dlq(
    fpt_emulator: FptEmulator,
    deployed: dict[str, Any],
    json_logs: LogLines,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN an oversize event, and FPT rejecting the plugin's script key
    pipeline, event_id = oversize_event_published(fpt_emulator, max_receive_count=2)
    fpt_emulator.faults.fail_auth(SCRIPT)

    # WHEN the dispatch function tries until SQS gives up
    LambdaSqsDriver(pipeline.sqs, pipeline.queue_url, app.lambda_handler).run()

    # THEN nothing ran, each attempt logged one ERROR naming the event, message and reason, and counted
    assert runs(deployed["output"]) == []
    assert queue_event_ids(pipeline.sqs, pipeline.dlq_url) == [event_id]
    errors = json_logs.at("ERROR")
    assert len(errors) == 2
    assert all((e["plugin"], e["event_id"]) == ("big_events", event_id) for e in errors)
    assert all(e["message_id"] and "FptError" in e["message"] and "(auth)" in e["message"] for e in errors)
    assert deployed["metrics"].values[("big_events", "RecordFailures")] == [1, 1]
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"FptErrors"' in line]
    assert [(m["kind"], m["plugin"], m["FptErrors"]) for m in emf] == [("auth", "big_events", [1.0])] * 2
