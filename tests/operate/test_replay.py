"""`replay`: events re-read from FPT reach one plugin's queue only, and its callbacks run again
(once per replay) even where they completed; bad ranges change nothing."""

from __future__ import annotations

import io
import json

import boto3
import pytest

from tests.operate.conftest import Studio


def replayed(studio: Studio, plugin: str) -> list[dict[str, object]]:
    return studio.messages(studio.plugin(plugin).queue_url, delete=False)


def test_a_replay_reaches_only_that_plugin_and_runs_completed_callbacks_again(studio: Studio) -> None:
    # GIVEN two new Shots the poller published and init_entity completed
    assert studio.poll()["published"] == 0  # first start: after the newest event
    first, second = studio.create_shots("SH_REPLAY_010", "SH_REPLAY_020")
    studio.poll()
    studio.dispatcher("init_entity").run()
    assert studio.metrics["init_entity"].total("init_entity", "Processed") == 2
    studio.empty_queues()  # the other plugins' copies: not the point here

    # WHEN an operator replays the range to init_entity
    result = studio.cli("replay", "init_entity", "--from-id", str(first - 1), "--to-id", str(second), "--yes")
    assert result.code == 0, result.err
    assert "Its callbacks run again, even where they completed before" in result.out

    # THEN only init_entity's queue has them, in the poller's groups, with the replay id
    messages = replayed(studio, "init_entity")
    assert [json.loads(str(m["Body"]))["id"] for m in messages] == [first, second]
    (audit,) = result.audit()
    replay_id = audit["replay_id"]
    for message in messages:
        attributes = message["MessageAttributes"]
        assert attributes["replay_id"]["StringValue"] == replay_id  # type: ignore[index]
        assert attributes["event_type"]["StringValue"] == "Shotgun_Shot_New"  # type: ignore[index]
        assert message["Attributes"]["MessageDeduplicationId"].startswith(f"{replay_id}:")  # type: ignore[index]
    groups = {m["Attributes"]["MessageGroupId"] for m in messages}  # type: ignore[index]
    assert groups == {
        f"Shot:{e['entity']['id']}"
        for e in studio.emulator.site.events(first - 1)
        if e["id"] in (first, second)
    }
    for other in studio.stack.outputs.plugins.values():
        if other.name != "init_entity":
            assert studio.depth(other.queue_url) == 0, other.name  # create_shot_directories matches too
    assert (audit["matched"], audit["count"], audit["from_id"], audit["to_id"]) == (2, 2, first - 1, second)
    assert audit["read"] >= 3

    # AND dispatch runs the callback again, once per replay
    driver = studio.dispatcher("init_entity")
    driver.run()
    assert studio.metrics["init_entity"].total("init_entity", "Processed") == 2
    assert studio.metrics["init_entity"].total("init_entity", "AlreadyProcessed") == 0
    records = boto3.client("dynamodb").scan(TableName=studio.stack.outputs.idempotency_table)["Items"]
    assert len(records) == 4  # two by the poller's delivery, two by the replay

    # AND the same replay sent again (an interrupted one continued) runs nothing twice
    again = studio.cli(
        "replay",
        "init_entity",
        "--from-id",
        str(first),
        "--to-id",
        str(second),
        "--yes",
        "--replay-id",
        replay_id,
    )
    assert again.code == 0, again.err
    driver = studio.dispatcher("init_entity")
    driver.run()
    assert studio.metrics["init_entity"].total("init_entity", "AlreadyProcessed") == 2
    assert studio.metrics["init_entity"].total("init_entity", "Processed") == 0


def test_since_picks_the_events_created_from_then(studio: Studio) -> None:
    (shot,) = studio.create_shots("SH_SINCE_010")
    created = next(e for e in studio.emulator.site.events(shot - 1) if e["id"] == shot)["created_at"]
    result = studio.cli("replay", "init_entity", "--since", created.isoformat(), "--yes")
    assert result.code == 0, result.err
    ids = studio.event_ids(studio.plugin("init_entity").queue_url)
    assert shot in ids
    events = {e["id"]: e for e in studio.emulator.site.events(0)}
    assert all(events[i]["created_at"] >= created for i in ids)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from-id", "20", "--to-id", "10"], "--from-id 20 is after --to-id 10"),
        (["--from-id", "1", "--to-id", "99999"], "--to-id 99999 is beyond the newest event"),
        (["--from-id", "99999"], "--from-id 99999 is beyond the newest event"),
        (["--from-id", "1", "--max-events", "5"], "more than --max-events 5: pass --yes"),
        (["--to-id", "5", "--since", "2026-01-01T00:00"], "--to-id goes with --from-id"),
    ],
)
def test_bad_ranges_are_one_line_and_send_nothing(studio: Studio, args: list[str], message: str) -> None:
    result = studio.cli("replay", "init_entity", *args)
    assert result.code == 2
    (line,) = result.err.strip().splitlines()
    assert message in line
    assert result.audit() == []
    assert all(studio.depth(p.queue_url) == 0 for p in studio.stack.outputs.plugins.values())


def test_an_unknown_plugin_is_one_line(studio: Studio) -> None:
    result = studio.cli("replay", "no_such_plugin", "--from-id", "1", "--yes")
    assert result.code == 2
    assert "plugin no_such_plugin not found in plugins" in result.err


def test_a_plugin_the_stack_does_not_run_is_one_line(studio: Studio) -> None:
    result = studio.cli(
        "replay", "logArgs", "--from-id", "1", "--yes"
    )  # in plugins/, excluded from the stack
    assert result.code == 2
    assert "runs no plugin 'logArgs'" in result.err


def test_without_yes_it_asks_and_no_answer_sends_nothing(studio: Studio) -> None:
    newest = studio.newest_event()
    args = ("replay", "init_entity", "--from-id", str(newest - 3))
    not_a_terminal = studio.cli(*args)
    assert not_a_terminal.code == 2
    assert "needs confirmation: run it in a terminal, or pass --yes" in not_a_terminal.err

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    studio.monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    declined = studio.cli(*args)
    assert declined.code == 2 and "replay cancelled: nothing was sent" in declined.err
    assert studio.depth(studio.plugin("init_entity").queue_url) == 0

    studio.monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    accepted = studio.cli(*args)
    assert accepted.code == 0, accepted.err
    assert accepted.audit()[0]["outcome"] == "done"
