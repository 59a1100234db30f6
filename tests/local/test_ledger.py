"""The SQLite idempotency layer keeps the same conditions as the in-memory one (and DynamoDB's):
both run through the dispatch core's `EffectLedger` against the same tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from shotgun_events.dispatch import EffectLedger, InMemoryPersistenceLayer
from shotgun_events_tools.local.ledger import SqlitePersistenceLayer, clear_in_progress, prune_expired
from shotgun_events_tools.local.store import LocalStore

SITE = "https://studio.example.com"
EFFECT = {"site": SITE, "plugin": "p", "callback": "0:cb", "event_id": 7}


@pytest.fixture(params=["memory", "sqlite"])
def layer(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BasePersistenceLayer]:
    if request.param == "memory":
        yield InMemoryPersistenceLayer()
        return
    with LocalStore(tmp_path / "store.sqlite", SITE) as store:
        yield SqlitePersistenceLayer(store)


class Body:
    def __init__(self, error: BaseException | None = None):
        self.runs = 0
        self.error = error

    def __call__(self) -> dict[str, Any]:
        self.runs += 1
        if self.error is not None:
            raise self.error
        return {"status": "completed"}


def ledger(layer: BasePersistenceLayer, ttl: int = 3600) -> EffectLedger:
    return EffectLedger(layer, key_prefix="plugin.p", expires_after_seconds=ttl)


def test_a_completed_effect_does_not_run_again(layer: BasePersistenceLayer) -> None:
    body = Body()
    assert ledger(layer).run(EFFECT, body) == (True, {"status": "completed"})
    assert ledger(layer).run(EFFECT, body) == (False, {"status": "completed"})
    assert ledger(layer).run({**EFFECT, "event_id": 8}, body)[0] is True
    assert body.runs == 2


def test_a_failed_run_leaves_no_record(layer: BasePersistenceLayer) -> None:
    with pytest.raises(RuntimeError):
        ledger(layer).run(EFFECT, Body(RuntimeError("boom")))
    body = Body()
    assert ledger(layer).run(EFFECT, body)[0] is True and body.runs == 1


class Killed(BaseException):
    """The process dying mid-callback: nothing after it runs."""


def test_a_run_killed_midway_leaves_no_record(layer: BasePersistenceLayer) -> None:
    with pytest.raises(Killed):
        ledger(layer).run(EFFECT, Body(Killed()))
    body = Body()
    assert ledger(layer).run(EFFECT, body)[0] is True and body.runs == 1


@pytest.mark.parametrize(("seconds_left", "runs_again"), [(60, False), (0, True)])
def test_an_in_progress_record_blocks_until_its_deadline(
    layer: BasePersistenceLayer, seconds_left: float, runs_again: bool
) -> None:
    # The record an earlier version wrote before running a callback, with its invocation's deadline.
    effect_ledger = ledger(layer)
    layer.save_inprogress(EFFECT, remaining_time_in_millis=int(seconds_left * 1000))
    time.sleep(0.01)
    body = Body()
    if runs_again:
        assert effect_ledger.run(EFFECT, body)[0] is True
    else:
        with pytest.raises(IdempotencyAlreadyInProgressError):
            effect_ledger.run(EFFECT, body)
        assert body.runs == 0


def test_an_expired_record_runs_again(layer: BasePersistenceLayer) -> None:
    ledger(layer, ttl=0).run(EFFECT, Body())
    time.sleep(1.05)  # expiry is in whole seconds: now it has passed
    body = Body()
    assert ledger(layer).run(EFFECT, body)[0] is True


# -- the SQLite layer only ---------------------------------------------------------------------------------


def test_records_survive_a_restart_and_stale_in_progress_is_cleared(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    with LocalStore(path, SITE) as store:
        ledger(SqlitePersistenceLayer(store)).run(EFFECT, Body())
        with pytest.raises(Killed):
            ledger(SqlitePersistenceLayer(store)).run({**EFFECT, "event_id": 9}, Body(Killed()))
        # An "in progress" record a run of an earlier version left behind.
        layer = SqlitePersistenceLayer(store)
        ledger(layer)
        layer.save_inprogress({**EFFECT, "event_id": 10}, remaining_time_in_millis=60_000)
    with LocalStore(path, SITE) as store:
        # The only process that could hold the store is gone: its in-progress record is dropped.
        assert clear_in_progress(store) == 1
        body = Body()
        assert ledger(SqlitePersistenceLayer(store)).run(EFFECT, body)[0] is False
        assert ledger(SqlitePersistenceLayer(store)).run({**EFFECT, "event_id": 9}, body)[0] is True
        assert ledger(SqlitePersistenceLayer(store)).run({**EFFECT, "event_id": 10}, body)[0] is True
        assert body.runs == 2
        assert prune_expired(store) == 0
        assert prune_expired(store, now=time.time() + 2 * 3600) == 3  # past the one-hour expiry
