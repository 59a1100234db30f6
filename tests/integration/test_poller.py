"""The poller core end to end: fake event log -> SnsPublisher (moto) -> SQS FIFO, state in DynamoDB."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from shotgun_events.config import PollerConfig
from shotgun_events.events import EventMessage
from shotgun_events.poller import PollerDeps, initialise, load_or_start, poll, run_pass
from shotgun_events.poller.cursor import PollState
from shotgun_events.poller.publisher import SnsPublisher
from shotgun_events.poller.state_store import DynamoDBStateStore, StateConflict, VersionedState
from tests.aws import Pipeline, create_pipeline, delivered_ids, drain
from tests.fakes import CollectingPublisher, FakeClock, InMemoryEventLog, Recording, kwargs_of
from tests.helpers import load_event, make_event

SITE = "https://studio.example.com"


def config(**overrides: Any) -> PollerConfig:
    base = PollerConfig(SITE, "fpt/poller", "state", "arn", page_size=500, backlog_timeout=300.0)
    return PollerConfig(**{**base.__dict__, **overrides})


@pytest.fixture
def pipeline(aws: None) -> Pipeline:
    return create_pipeline()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def event_at(clock: FakeClock, event_id: int, entity: tuple[str, int] = ("Shot", 1)) -> dict[str, Any]:
    return make_event(event_id, entity=entity, created_at=datetime.fromtimestamp(clock.now, UTC))


def deps_for(pipeline: Pipeline, log: InMemoryEventLog, clock: FakeClock, **kw: Any) -> PollerDeps:
    return PollerDeps(
        event_log=log,
        store=kw.pop("store", DynamoDBStateStore(pipeline.table, SITE, pipeline.dynamodb)),
        publisher=kw.pop("publisher", SnsPublisher(pipeline.topic_arn, pipeline.sns, sleep=lambda s: None)),
        clock=clock,
        sleep=clock.sleep,
    )


def one_pass(deps: PollerDeps, cfg: PollerConfig) -> None:
    run_pass(deps, cfg, load_or_start(deps))


def start_at(deps: PollerDeps, cursor: int) -> None:
    initialise(deps.store, cursor)


def test_first_start_begins_after_the_newest_event(pipeline: Pipeline, clock: FakeClock) -> None:
    log = InMemoryEventLog(clock)
    for i in range(1, 6):
        log.add(event_at(clock, i))
    deps = deps_for(pipeline, log, clock)
    one_pass(deps, config())
    log.add(event_at(clock, 6))
    one_pass(deps, config())
    assert delivered_ids(drain(pipeline.sqs, pipeline.queue_url)) == [6]


def test_explicit_start_id_replays_from_there(pipeline: Pipeline, clock: FakeClock) -> None:
    log = InMemoryEventLog(clock)
    for i in range(1, 6):
        log.add(event_at(clock, i))
    deps = deps_for(pipeline, log, clock)
    start_at(deps, 2)
    one_pass(deps, config())
    assert delivered_ids(drain(pipeline.sqs, pipeline.queue_url)) == [3, 4, 5]
    with pytest.raises(StateConflict, match="already exists"):
        initialise(deps.store, 0)


def test_late_backlog_event_published_once_and_nothing_after_it_again(
    pipeline: Pipeline, clock: FakeClock
) -> None:
    # The daemon's bug 1 (backlog replays). What reaches SNS is recorded before moto's FIFO dedup,
    # which would otherwise hide a replay.
    log = InMemoryEventLog(clock)
    sns = Recording(pipeline.sns)
    deps = deps_for(pipeline, log, clock, publisher=SnsPublisher(pipeline.topic_arn, sns))
    start_at(deps, 0)
    log.add(event_at(clock, 1))
    log.add(event_at(clock, 2, ("Shot", 2)), visible_at=clock.now + 30)  # an open transaction
    for i in range(3, 11):
        log.add(event_at(clock, i))
    one_pass(deps, config())
    clock.sleep(31)
    one_pass(deps, config())
    one_pass(deps, config())
    assert delivered_ids(drain(pipeline.sqs, pipeline.queue_url)) == [1, 3, 4, 5, 6, 7, 8, 9, 10, 2]
    sent = [
        int(e["MessageDeduplicationId"])
        for k in kwargs_of(sns.calls, "publish_batch")
        for e in k["PublishBatchRequestEntries"]
    ]
    assert sorted(sent) == list(range(1, 11))  # each sent once: nothing replayed


def test_events_after_an_open_gap_are_not_stalled(pipeline: Pipeline, clock: FakeClock) -> None:
    # The daemon's bug 2 (backlog stall): 2,000 events after an open gap all go out in the first
    # invocation, page after page, without waiting for the gap. (Collected in memory: moto's SQS
    # is quadratic in queue length, and the SNS path is covered by the other tests.)
    log = InMemoryEventLog(clock)
    collected = CollectingPublisher()
    deps = deps_for(pipeline, log, clock, publisher=collected)
    start_at(deps, 0)
    log.add(event_at(clock, 1), visible_at=clock.now + 60)
    for i in range(2, 2002):
        log.add(event_at(clock, i, ("Shot", i % 50)))
    deadline = clock.now + 10
    summary = poll(
        deps, config(page_size=500, poll_interval=2.0, safety_margin=1.0), lambda: deadline - clock.now
    )
    assert collected.ids == list(range(2, 2002))
    assert summary.passes >= 5 and summary.cursor == 2001
    loaded = deps.store.load()
    assert loaded is not None and set(loaded.state.backlog) == {1}
    reads_per_pass = log.calls / summary.passes
    assert reads_per_pass <= 2  # one by-id read of the backlog and one page, never the same page again


def test_gap_filled_inside_timeout_is_published_and_never_filled_is_given_up(
    pipeline: Pipeline, clock: FakeClock
) -> None:
    log = InMemoryEventLog(clock)
    deps = deps_for(pipeline, log, clock)
    start_at(deps, 0)
    log.add(event_at(clock, 1))
    log.add(event_at(clock, 2), visible_at=clock.now + 200)  # commits late, inside the timeout
    log.add(event_at(clock, 3), visible_at=None)  # rolled back: never arrives
    log.add(event_at(clock, 4))
    cfg = config(backlog_timeout=300.0)
    one_pass(deps, cfg)
    clock.sleep(250)
    one_pass(deps, cfg)
    clock.sleep(100)
    given_up = poll(deps, cfg, time_left=lambda: 0.0).given_up
    assert delivered_ids(drain(pipeline.sqs, pipeline.queue_url)) == [1, 4, 2]
    assert given_up == 1
    loaded = deps.store.load()
    assert loaded is not None and loaded.state == PollState(cursor=4, backlog={})


class Crash(Exception):
    pass


class CrashingPublisher:
    """Publishes the first `keep` messages of the first call, then crashes (a Lambda dying mid-publish)."""

    def __init__(self, inner: SnsPublisher, keep: int):
        self.inner, self.keep, self.crashed = inner, keep, False

    def publish(self, messages: Sequence[EventMessage]) -> None:
        if not self.crashed:
            self.crashed = True
            self.inner.publish(list(messages)[: self.keep])
            raise Crash("killed mid-publish")
        self.inner.publish(messages)


class CrashingStore(DynamoDBStateStore):
    def __init__(self, *args: Any, crashes: int = 1):
        super().__init__(*args)
        self.crashes = crashes

    def save(self, state: PollState, expected_version: int | None) -> int:
        if self.crashes and expected_version is not None:
            self.crashes -= 1
            raise Crash("killed between publish and commit")
        return super().save(state, expected_version)


@pytest.mark.parametrize("step", ["after_fetch", "mid_publish", "before_commit"])
def test_crash_at_every_step_then_rerun_delivers_each_event_once_in_order(
    pipeline: Pipeline, clock: FakeClock, step: str
) -> None:
    log = InMemoryEventLog(clock)
    for i in range(1, 41):
        log.add(event_at(clock, i, ("Shot", i % 4)))
    log.add(event_at(clock, 41), visible_at=clock.now + 5)
    log.add(event_at(clock, 42, ("Shot", 3)))
    store = DynamoDBStateStore(pipeline.table, SITE, pipeline.dynamodb)
    initialise(store, 0)
    sns = SnsPublisher(pipeline.topic_arn, pipeline.sns, sleep=lambda s: None)
    crashing: dict[str, Any] = {
        "after_fetch": {"publisher": CrashingPublisher(sns, keep=0)},
        "mid_publish": {"publisher": CrashingPublisher(sns, keep=17)},
        "before_commit": {"store": CrashingStore(pipeline.table, SITE, pipeline.dynamodb)},
    }[step]
    with pytest.raises(Crash):
        poll(deps_for(pipeline, log, clock, **crashing), config(), time_left=lambda: 0.0)
    clock.sleep(10)
    for _ in range(3):
        poll(deps_for(pipeline, log, clock), config(), time_left=lambda: 0.0)
    messages = drain(pipeline.sqs, pipeline.queue_url)
    ids = delivered_ids(messages)
    assert sorted(ids) == list(range(1, 43))
    by_group: dict[str, list[int]] = defaultdict(list)
    for m in messages:
        by_group[m["Attributes"]["MessageGroupId"]].append(json.loads(m["Body"])["id"])
    for group, group_ids in by_group.items():
        if group != "Shot:1":  # 41 is a late commit in Shot:1, so it comes last there by design
            assert group_ids == sorted(group_ids)


def test_two_pollers_at_once_lose_nothing_and_state_never_goes_back(pipeline: Pipeline) -> None:
    # Two real threads polling the same site and table while events keep arriving. Their first
    # loads meet at a barrier, so both hold the same version and one commit must lose: the
    # collision is forced, not left to the scheduler. Each polls until the stored cursor has
    # caught up (not for a fixed time), so a slow machine only makes it slower.
    import threading
    import time

    started = time.time()
    log = InMemoryEventLog(time.time)
    for i in range(1, 301):
        # The first page is visible from the start, so both first passes have something to commit.
        visible_at = started + max(0, i - 20) * 0.004
        log.add(event_at(FakeClock(started), i, ("Shot", i % 7)), visible_at=visible_at)
    dynamodb = Recording(pipeline.dynamodb, atomic=True)
    initialise(DynamoDBStateStore(pipeline.table, SITE, dynamodb), 0)
    sent: list[int] = []
    first_loads = threading.Barrier(2, timeout=30)

    class Spy:
        def publish(self, messages: Sequence[EventMessage]) -> None:
            sent.extend(m.event_id for m in messages)

    class MeetingStore(DynamoDBStateStore):
        met = False

        def load(self) -> VersionedState | None:
            loaded = super().load()
            if not self.met:
                self.met = True
                first_loads.wait()  # both pollers now hold the same version
            return loaded

    def caught_up() -> bool:
        stored = DynamoDBStateStore(pipeline.table, SITE, pipeline.dynamodb).load()
        return stored is not None and stored.state.cursor == 300

    def run() -> None:
        deps = PollerDeps(log, MeetingStore(pipeline.table, SITE, dynamodb), Spy(), time.time, time.sleep)
        deadline = time.monotonic() + 60.0
        while not caught_up() and time.monotonic() < deadline:
            poll(deps, config(page_size=20, poll_interval=0.01, safety_margin=0.0), lambda: 0.0)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(sent) == set(range(1, 301))  # nothing lost (repeats are FIFO-deduped downstream)
    stored = DynamoDBStateStore(pipeline.table, SITE, pipeline.dynamodb).load()
    assert stored is not None and stored.state.cursor == 300 and not stored.state.backlog
    puts = zip(kwargs_of(dynamodb.calls, "put_item"), _put_outcomes(dynamodb), strict=True)
    committed = sorted(
        (int(k["Item"]["version"]["N"]), int(k["Item"]["cursor"]["N"])) for k, ok in puts if ok
    )
    cursors = [cursor for _, cursor in committed]  # in the order the versions were written
    assert cursors == sorted(cursors)  # the stored cursor never went back
    assert len(committed) == stored.version  # every version written once: no lost update
    assert not all(_put_outcomes(dynamodb))  # the two did collide (and the loser stopped cleanly)


def _put_outcomes(recording: Recording) -> list[bool]:
    return [outcome for name, outcome in recording.outcomes if name == "put_item"]


def test_two_first_starts_at_once_one_stops_cleanly(pipeline: Pipeline, clock: FakeClock) -> None:
    log = InMemoryEventLog(clock)
    log.add(event_at(clock, 7))

    class FirstStartRace(DynamoDBStateStore):
        def load(self) -> VersionedState | None:
            return None  # both pollers saw no state

    DynamoDBStateStore(pipeline.table, SITE, pipeline.dynamodb).save(PollState(cursor=7), None)
    racing = FirstStartRace(pipeline.table, SITE, pipeline.dynamodb)
    summary = poll(deps_for(pipeline, log, clock, store=racing), config(), time_left=lambda: 0.0)
    assert summary.stopped_by == "conflict" and summary.passes == 0


def test_poll_stops_cleanly_when_another_poller_commits_first(pipeline: Pipeline, clock: FakeClock) -> None:
    log = InMemoryEventLog(clock)
    log.add(event_at(clock, 1))
    deps = deps_for(pipeline, log, clock)
    initialise(deps.store, 0)

    class Racing(DynamoDBStateStore):
        def save(self, state: PollState, expected_version: int | None) -> int:
            DynamoDBStateStore.save(self, PollState(cursor=99), expected_version)  # the other poller
            return super().save(state, expected_version)

    racing = Racing(pipeline.table, SITE, pipeline.dynamodb)
    summary = poll(deps_for(pipeline, log, clock, store=racing), config(), time_left=lambda: 0.0)
    assert summary.stopped_by == "conflict"
    stored = deps.store.load()
    assert stored is not None and stored.state.cursor == 99


def test_odd_events_are_all_published_and_a_text_date_is_named(
    pipeline: Pipeline, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    log = InMemoryEventLog(clock)
    odd = [
        load_event(n)
        for n in ("status_change", "user_login", "non_ascii", "custom_toolkit", "created_at_text")
    ]
    huge = make_event(1006, entity=("Shot", 9))
    huge["meta"]["new_value"] = "x" * 300_000
    for event in [*odd, huge]:
        log.add(event)
    deps = deps_for(pipeline, log, clock)
    initialise(deps.store, 1000)
    poll(deps, config(), time_left=lambda: 0.0)
    messages = drain(pipeline.sqs, pipeline.queue_url)
    assert sorted(delivered_ids(messages)) == list(range(1001, 1007))
    bodies = {json.loads(m["Body"])["id"]: json.loads(m["Body"]) for m in messages}
    assert bodies[1003]["meta"]["new_value"] == "镜头 — écran 🎬"
    assert bodies[1006] == {
        "type": "EventLogEntryReference",
        "id": 1006,
        "created_at": "2026-11-27T12:00:00Z",
    }
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["event created_at is not a date; published as given"]


def test_loop_runs_until_margin_and_sleeps_only_after_a_short_page(
    pipeline: Pipeline, clock: FakeClock
) -> None:
    log = InMemoryEventLog(clock)
    deps = deps_for(pipeline, log, clock)
    initialise(deps.store, 0)
    for i in range(1, 26):
        log.add(event_at(clock, i))
    deadline = clock.now + 20
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.sleep(seconds)

    deps.sleep = sleep
    summary = poll(
        deps, config(page_size=10, poll_interval=2.0, safety_margin=5.0), lambda: deadline - clock.now
    )
    assert summary.published == 25
    assert set(sleeps[:-1]) == {2.0} and sleeps[-1] <= 2.0  # the last sleep is cut to the margin
    assert len(sleeps) == summary.passes - 2  # no sleep after the two full pages
    assert deadline - clock.now >= 5.0


def test_metrics_and_log_lines_of_a_pass(
    pipeline: Pipeline, clock: FakeClock, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from shotgun_events.observability import metrics

    log = InMemoryEventLog(clock)
    deps = deps_for(pipeline, log, clock, publisher=CollectingPublisher())
    initialise(deps.store, PollState(cursor=10, backlog={3: clock.now - 1, 4: clock.now + 5}))
    log.add(event_at(clock, 11))
    log.add(event_at(clock, 20))  # 12..19 missing, but only 1 more id fits
    clock.sleep(7)
    metrics.clear_metrics()
    capsys.readouterr()
    one_pass(deps, config(max_backlog=2))
    metrics.flush_metrics()
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    values = {
        name: v[0] if isinstance(v, list) else v for b in emf for name, v in b.items() if name[0].isupper()
    }
    assert values["EventsPublished"] == 2.0
    assert values["FptReads"] == 2.0  # one by-id read of the backlog, one page
    assert values["EventsGivenUp"] == 2.0  # 3 and 4 never arrived
    assert values["BacklogOverflow"] == 6.0
    assert values["BacklogSize"] == 2.0
    assert values["LagSeconds"] == 7.0
    messages = [r.getMessage() for r in caplog.records]
    assert "event 3 never arrived: given up" in messages and "event 4 never arrived: given up" in messages
    assert "backlog full: events 12..17 will not be waited on" in messages
