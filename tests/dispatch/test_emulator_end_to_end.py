"""The whole path for a shipped plugin: FPT emulator events -> SNS FIFO (filter policy from the
plugin's matchEvents) -> SQS FIFO -> the real dispatch `lambda_handler` -> real shotgun_api3 over
HTTP back to the emulator. Redeliveries and re-publishes included."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from fpt_emulator import FptEmulator
from functions.dispatch import app
from shotgun_events.dispatch import DispatchFunction
from shotgun_events.events import encode_event
from shotgun_events.plugins import RecordedMetrics, filter_policy, load_named_plugin, matches
from tests.dispatch.support import (
    LambdaSqsDriver,
    PluginPipeline,
    create_idempotency_table,
    create_plugin_pipeline,
    publish,
    queue_event_ids,
)

pytestmark = pytest.mark.usefixtures("aws", "clean_environ")

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
SECRET_ID = "shotgun-events/plugins/layout_final_animation_ready"
SCRIPT, KEY = "layout_final", "layout-final-key-0001"


class Poller:
    """Stands in for the poller: publishes the site's committed events it has not published yet."""

    def __init__(self, emulator: FptEmulator, pipeline: PluginPipeline):
        self.emulator, self.pipeline, self.cursor = emulator, pipeline, 0

    def publish_new(self) -> list[dict[str, Any]]:
        events = self.emulator.site.events(self.cursor)
        if events:
            publish(self.pipeline, events)
            self.cursor = events[-1]["id"]
        return events


@pytest.fixture
def deployed(fpt_emulator: FptEmulator, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    fpt_emulator.add_script(SCRIPT, KEY)
    boto3.client("secretsmanager").create_secret(
        Name=SECRET_ID,
        SecretString=json.dumps({"SGDAEMON_LAYOUTFINAL_NAME": SCRIPT, "SGDAEMON_LAYOUTFINAL_KEY": KEY}),
    )
    env = {
        "PLUGIN_NAME": "layout_final_animation_ready",
        "PLUGIN_PATHS": str(PLUGINS),
        "SHOTGUN_URL": fpt_emulator.url,
        "PLUGIN_SECRET_ID": SECRET_ID,
        "IDEMPOTENCY_TABLE": create_idempotency_table(boto3.client("dynamodb")),
        "USE_SESSION_UUID": "true",
        "SHOTGUN_TIMEOUT_SECONDS": "5",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    metrics = RecordedMetrics()
    monkeypatch.setattr(app, "dispatch", DispatchFunction(metrics=metrics))
    # The subscription filter the template tooling will derive from the plugin.
    plugin = load_named_plugin("layout_final_animation_ready", [PLUGINS], metrics)
    pipeline = create_plugin_pipeline(filter_policy(plugin.match_events), max_receive_count=3)
    return {"pipeline": pipeline, "metrics": metrics, "poller": Poller(fpt_emulator, pipeline)}


def test_the_seeded_layout_to_animation_plugin_changes_exactly_one_task_once(
    fpt_emulator: FptEmulator, deployed: dict[str, Any]
) -> None:
    emu, pipeline, poller = fpt_emulator, deployed["pipeline"], deployed["poller"]
    emu.activity.step(2)  # the seeded studio at work: a shot, its tasks, a status change
    site = emu.site
    candidates = [
        shot
        for shot in site.find("Shot", [], ["id"])
        if site.find_one(
            "Task",
            [["entity", "is", {"type": "Shot", "id": shot["id"]}], ["step.Step.code", "is", "Animation"]],
            ["sg_status_list"],
        )["sg_status_list"]  # type: ignore[index]
        == "wtg"
    ]
    shot = {"type": "Shot", "id": candidates[0]["id"]}
    layout = site.find_one("Task", [["entity", "is", shot], ["step.Step.code", "is", "Layout"]], ["id"])
    anim = site.find_one("Task", [["entity", "is", shot], ["step.Step.code", "is", "Animation"]], ["id"])
    assert layout is not None and anim is not None
    artist = site.find_one("HumanUser", [["login", "is", "dana.kowalski"]], ["id"])
    assert artist is not None
    site.update(
        "Task",
        layout["id"],
        {"sg_status_list": "fin"},
        user={"type": "HumanUser", "id": artist["id"]},
        session_uuid="artist-browser-session-1",
    )

    # The function's answer to its first batch is lost: SQS delivers the same messages again.
    def answer_lost(batch: dict[str, Any], context: Any) -> dict[str, Any]:
        app.lambda_handler(batch, context)
        raise TimeoutError("Task timed out after 60.00 seconds")

    published = poller.publish_new()
    LambdaSqsDriver(pipeline.sqs, pipeline.queue_url, answer_lost).poll()
    driver = LambdaSqsDriver(pipeline.sqs, pipeline.queue_url, app.lambda_handler)
    driver.run()
    # The plugin's own change is an event too: published and dispatched, it changes nothing more.
    assert poller.publish_new()
    driver.run()
    # Everything re-published an hour later (new SQS messages for the same events).
    for event in published:
        if not matches({"Shotgun_Task_Change": ["sg_status_list"]}, event):
            continue  # the subscription's filter policy would drop it anyway
        message = encode_event(event)
        pipeline.sqs.send_message(
            QueueUrl=pipeline.queue_url,
            MessageBody=message.body,
            MessageGroupId=message.group_id,
            MessageDeduplicationId=f"again-{event['id']}",
        )
    driver.run()

    writes = emu.writes_by(SCRIPT)
    assert [(w.method, w.entity_type, w.entity_id, w.fields) for w in writes] == [
        ("update", "Task", anim["id"], {"sg_status_list": "rdy"})
    ]
    assert writes[0].session_uuid == "artist-browser-session-1"  # USE_SESSION_UUID, as the daemon
    assert queue_event_ids(pipeline.sqs, pipeline.dlq_url) == []
    assert all(inv["response"] == {"batchItemFailures": []} for inv in driver.invocations)
    assert deployed["metrics"].total("layout_final_animation_ready", "AlreadyProcessed") >= 1


def test_fpt_down_for_one_plugin_retries_then_recovers(
    fpt_emulator: FptEmulator, deployed: dict[str, Any]
) -> None:
    emu, pipeline, poller = fpt_emulator, deployed["pipeline"], deployed["poller"]
    project = emu.site.find_one("Project", [], ["id"])
    assert project is not None
    plink = {"type": "Project", "id": project["id"]}
    shot = emu.site.create("Shot", {"code": "SH900", "project": plink}, events=False)
    slink = {"type": "Shot", "id": shot["id"]}
    steps = {s["code"]: s["id"] for s in emu.site.find("Step", [], ["code"])}
    layout = emu.site.create(
        "Task",
        {
            "content": "Layout",
            "entity": slink,
            "project": plink,
            "step": {"type": "Step", "id": steps["Layout"]},
        },
        events=False,
    )
    anim = emu.site.create(
        "Task",
        {
            "content": "Animation",
            "entity": slink,
            "project": plink,
            "step": {"type": "Step", "id": steps["Animation"]},
        },
        events=False,
    )
    emu.site.update("Task", layout["id"], {"sg_status_list": "fin"})
    poller.publish_new()

    emu.faults.fail_next(1, "503", method="read")  # FPT answers 503 once: the record retries
    driver = LambdaSqsDriver(pipeline.sqs, pipeline.queue_url, app.lambda_handler)
    driver.run()

    assert [(w.entity_id, w.fields) for w in emu.writes_by(SCRIPT)] == [
        (anim["id"], {"sg_status_list": "rdy"})
    ]
    assert driver.invocations[0]["response"]["batchItemFailures"]
    assert queue_event_ids(pipeline.sqs, pipeline.dlq_url) == []
