"""`redrive`: parked events back in the plugin's queue, each once, with their group and attributes;
interrupted at the worst points and run again, nothing lost and nothing doubled."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import boto3
import pytest

from shotgun_events_tools.operate import redrive
from shotgun_events_tools.operate.stack import StackDeployment
from tests.operate.conftest import PLUGIN_SECRETS, Studio

PLUGIN = "create_shot_directories"  # its secret has no SHOT_DIRECTORIES_ROOT: every Shot fails


def park_shots(studio: Studio, count: int) -> list[int]:
    studio.poll()  # first start: after the newest event
    events = studio.create_shots(*(f"SH_PARK_{i:03d}" for i in range(count)))
    studio.poll()
    studio.park(PLUGIN)
    assert studio.depth(studio.plugin(PLUGIN).queue_url) == 0
    assert studio.depth(studio.plugin(PLUGIN).dead_letter_queue_url) == count
    return events


def parked_messages(studio: Studio) -> dict[int, dict[str, Any]]:
    return {
        json.loads(m["Body"])["id"]: m
        for m in studio.messages(studio.plugin(PLUGIN).dead_letter_queue_url, delete=False)
    }


def test_redrive_moves_every_parked_event_back_once_and_the_fixed_plugin_runs_them(
    studio: Studio, tmp_path: Any
) -> None:
    events = park_shots(studio, 3)
    before = parked_messages(studio)

    result = studio.cli("redrive", PLUGIN)
    assert result.code == 0, result.err
    assert "3 parked events moved back to its queue (copied back)" in result.out  # moto has no move tasks
    (audit,) = result.audit()
    assert (audit["command"], audit["plugin"], audit["count"], audit["method"], audit["outcome"]) == (
        "redrive",
        PLUGIN,
        3,
        "copy",
        "done",
    )
    assert studio.depth(studio.plugin(PLUGIN).dead_letter_queue_url) == 0
    back = studio.messages(studio.plugin(PLUGIN).queue_url, delete=False)
    assert sorted(json.loads(m["Body"])["id"] for m in back) == sorted(events)
    for message in back:
        parked = before[json.loads(message["Body"])["id"]]
        assert message["Body"] == parked["Body"]
        assert message["Attributes"]["MessageGroupId"] == parked["Attributes"]["MessageGroupId"]
        assert message["MessageAttributes"] == parked["MessageAttributes"]
        assert message["Attributes"]["MessageDeduplicationId"] == parked["MessageId"]

    # The plugin fixed (its secret now names a root), its function runs them.
    secret = {**PLUGIN_SECRETS[PLUGIN], "SHOT_DIRECTORIES_ROOT": str(tmp_path)}
    boto3.client("secretsmanager").put_secret_value(
        SecretId=f"shotgun-events/plugins/{PLUGIN}", SecretString=json.dumps(secret)
    )
    try:
        studio.dispatcher(PLUGIN).run()
    finally:
        boto3.client("secretsmanager").put_secret_value(
            SecretId=f"shotgun-events/plugins/{PLUGIN}", SecretString=json.dumps(PLUGIN_SECRETS[PLUGIN])
        )
    assert studio.metrics[PLUGIN].total(PLUGIN, "Processed") == 3
    assert studio.depth(studio.plugin(PLUGIN).queue_url) == 0
    assert len([p for p in tmp_path.rglob("SH_PARK_*") if p.parent.parent.parent == tmp_path]) == 3


class Interrupt:
    """The SQS client, stopped at a chosen point of the redrive: before or after SQS took a batch."""

    def __init__(self, sqs: Any, *, at_batch: int, after_send: bool, killed: bool):
        self._sqs = sqs
        self._at_batch = at_batch
        self._after_send = after_send
        self._killed = killed  # a killed process cannot make the messages it held visible again
        self.sends = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)

    def send_message_batch(self, **kwargs: Any) -> Any:
        self.sends += 1
        if self.sends == self._at_batch and not self._after_send:
            raise KeyboardInterrupt
        response = self._sqs.send_message_batch(**kwargs)
        if self.sends == self._at_batch:
            raise KeyboardInterrupt  # sent, not yet deleted from the DLQ: the worst moment
        return response

    def change_message_visibility_batch(self, **kwargs: Any) -> Any:
        if self._killed:
            raise ConnectionError("the process is gone")
        return self._sqs.change_message_visibility_batch(**kwargs)


@pytest.mark.parametrize(
    ("after_send", "killed"),
    [(True, False), (False, False), (True, True)],
    ids=["stopped-after-send", "stopped-before-send", "killed-after-send"],
)
def test_an_interrupted_redrive_run_again_loses_and_doubles_nothing(
    studio: Studio, after_send: bool, killed: bool
) -> None:
    events = park_shots(studio, 12)  # 12 groups: received 10 and 2, sent in batches of 10 and 2
    studio.monkeypatch.setattr(redrive, "VISIBILITY_TIMEOUT", 1)  # how long a killed run's messages hide
    real_client = StackDeployment.client
    interrupts: list[Interrupt] = []

    def interrupted_client(self: StackDeployment, service: str) -> Any:
        client = real_client(self, service)
        if service != "sqs":
            return client
        if not interrupts:
            interrupts.append(Interrupt(client, at_batch=1, after_send=after_send, killed=killed))
        return interrupts[0]

    studio.monkeypatch.setattr(StackDeployment, "client", interrupted_client)
    stopped = studio.cli("redrive", PLUGIN)
    assert stopped.code == 130
    (audit,) = stopped.audit()
    assert audit["outcome"] == "interrupted"
    in_queue = studio.depth(studio.plugin(PLUGIN).queue_url)
    assert in_queue == (10 if after_send else 0)
    assert studio.depth(studio.plugin(PLUGIN).dead_letter_queue_url) == 12  # nothing deleted yet

    studio.monkeypatch.setattr(StackDeployment, "client", real_client)
    rerun = studio.cli("redrive", PLUGIN)
    assert rerun.code == 0, rerun.err
    assert studio.depth(studio.plugin(PLUGIN).dead_letter_queue_url) == 0
    counts = Counter(studio.event_ids(studio.plugin(PLUGIN).queue_url))
    assert counts == Counter(events)  # every parked event once: none lost, none doubled


def test_redrive_of_an_empty_dlq_moves_nothing(studio: Studio) -> None:
    result = studio.cli("redrive", "init_entity")
    assert result.code == 0, result.err
    assert "0 parked events moved back" in result.out
    assert result.audit()[0]["count"] == 0


def test_move_task_is_refused_where_the_endpoint_has_none(studio: Studio) -> None:
    park_shots(studio, 1)
    result = studio.cli("redrive", PLUGIN, "--method", "move-task")
    assert result.code == 2
    assert "offers no message move tasks: use --method copy" in result.err
    assert studio.depth(studio.plugin(PLUGIN).dead_letter_queue_url) == 1
