"""One contract, two implementations: the in-memory fake event log the poller tests use, and
FptEventLog over the real client against the emulator. The fake must not drift from FPT."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fpt_emulator import FptEmulator
from shotgun_events.event_log import EventLog, FptEventLog
from shotgun_events.events import EVENT_FIELDS
from shotgun_events.fpt import RetryPolicy
from tests.fakes import FakeClock, InMemoryEventLog

PROJECT = {"type": "Project", "id": 1}


@pytest.fixture
def site(fpt_emulator: FptEmulator) -> Iterator[dict[str, Any]]:
    """A site with a committed history, one open transaction (a gap) and one rolled-back change."""
    sg = fpt_emulator.connect(timeout=5)
    shot = sg.create("Shot", {"code": "SH100", "project": PROJECT})
    open_tx = fpt_emulator.begin()
    open_tx.update("Shot", shot["id"], {"sg_status_list": "hld"})
    with fpt_emulator.transaction(rollback=True) as dead:
        dead.create("Shot", {"code": "GONE", "project": PROJECT})
    for code in ("SH110", "SH120"):
        sg.create("Shot", {"code": code, "project": PROJECT})
    yield {"sg": sg, "open": open_tx.event_ids, "dead": dead.event_ids}
    open_tx.commit()


@pytest.fixture(params=["fpt", "fake"])
def event_log(request: pytest.FixtureRequest, site: dict[str, Any], fpt_emulator: FptEmulator) -> EventLog:
    real = FptEventLog(site["sg"], RetryPolicy())
    if request.param == "fpt":
        return real
    fake = InMemoryEventLog(FakeClock())
    for event in real.after(0, 10_000):
        fake.add({field: event.get(field) for field in (*EVENT_FIELDS, "type")})
    for event_id in site["open"] + site["dead"]:
        fake.add({"id": event_id, "type": "EventLogEntry"}, visible_at=None)
    return fake


def test_newest_id_is_the_newest_committed_event(event_log: EventLog, fpt_emulator: FptEmulator) -> None:
    assert event_log.newest_id() == fpt_emulator.site.last_event_id


def test_after_is_ascending_limited_and_skips_uncommitted_ids(
    event_log: EventLog, site: dict[str, Any], fpt_emulator: FptEmulator
) -> None:
    everything = event_log.after(0, 500)
    ids = [e["id"] for e in everything]
    assert ids == sorted(ids) and ids[-1] == fpt_emulator.site.last_event_id
    assert not set(site["open"] + site["dead"]) & set(ids)
    assert [e["id"] for e in event_log.after(ids[2], 3)] == ids[3:6]
    assert set(everything[0]) >= set(EVENT_FIELDS)
    assert everything[0]["created_at"].tzinfo is not None


def test_by_ids_returns_only_committed_ones(event_log: EventLog, site: dict[str, Any]) -> None:
    committed = [e["id"] for e in event_log.after(0, 500)][:2]
    found = event_log.by_ids([*committed, *site["open"], *site["dead"]])
    assert sorted(e["id"] for e in found) == committed
    assert event_log.by_ids([]) == []
