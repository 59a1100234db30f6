"""The cursor/backlog algorithm, pure: GIVEN a state and a page, WHEN advanced, THEN ..."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shotgun_events.cursor import PollState, advance, backlog_chunks, state_from_record, state_to_record
from tests.helpers import T0, make_event

NOW = T0.timestamp()
TIMEOUT = 300.0


def ids(events: list[dict]) -> list[int]:
    return [e["id"] for e in events]


def page(*event_ids: int, age: float = 0.0) -> list[dict]:
    return [make_event(i, created_at=T0 - timedelta(seconds=age)) for i in event_ids]


def test_contiguous_page_moves_cursor_and_publishes_in_order() -> None:
    result = advance(PollState(cursor=10), page(13, 11, 12), [], NOW, TIMEOUT, 100)
    assert ids(result.to_publish) == [11, 12, 13]
    assert result.state == PollState(cursor=13, backlog={})


def test_gap_goes_to_backlog_with_deadline_first_seen_plus_timeout() -> None:
    result = advance(PollState(cursor=10), page(11, 14), [], NOW, TIMEOUT, 100)
    assert ids(result.to_publish) == [11, 14]
    assert result.state.cursor == 14
    assert result.state.backlog == {12: NOW + TIMEOUT, 13: NOW + TIMEOUT}


def test_gap_before_first_event_of_page_is_a_gap_too() -> None:
    result = advance(PollState(cursor=10), page(12), [], NOW, TIMEOUT, 100)
    assert result.state.backlog == {11: NOW + TIMEOUT}


def test_deadline_is_not_extended_when_the_gap_is_seen_again() -> None:
    state = PollState(cursor=14, backlog={12: NOW + 50})
    result = advance(state, page(15), [], NOW + 10, TIMEOUT, 100)
    assert result.state.backlog == {12: NOW + 50}


def test_late_backlog_event_is_published_once_and_cursor_never_moves_back() -> None:
    # The daemon's bug 1: it moved its cursor back to the late id and replayed everything after it.
    state = PollState(cursor=20, backlog={12: NOW + TIMEOUT})
    late = page(12)
    result = advance(state, page(21), late, NOW, TIMEOUT, 100)
    assert ids(result.to_publish) == [12, 21]
    assert result.state == PollState(cursor=21, backlog={})
    again = advance(result.state, page(), late, NOW, TIMEOUT, 100)
    assert again.to_publish == []


def test_events_at_or_below_cursor_not_in_backlog_are_never_published() -> None:
    state = PollState(cursor=20, backlog={12: NOW + TIMEOUT})
    result = advance(state, page(5, 19, 20), page(11, 12, 13), NOW, TIMEOUT, 100)
    assert ids(result.to_publish) == [12]
    assert result.state.cursor == 20


def test_expired_backlog_ids_are_given_up() -> None:
    state = PollState(cursor=20, backlog={12: NOW - 1, 13: NOW + 1})
    result = advance(state, page(), [], NOW, TIMEOUT, 100)
    assert result.given_up == [12]
    assert result.state.backlog == {13: NOW + 1}


def test_event_arriving_exactly_at_deadline_is_still_published() -> None:
    state = PollState(cursor=20, backlog={12: NOW})
    result = advance(state, page(), page(12), NOW, TIMEOUT, 100)
    assert ids(result.to_publish) == [12]
    assert result.given_up == []


def test_gaps_between_events_older_than_timeout_are_not_waited_on() -> None:
    result = advance(PollState(cursor=10), page(12, 15, age=TIMEOUT + 60), [], NOW, TIMEOUT, 100)
    assert ids(result.to_publish) == [12, 15]
    assert result.state.backlog == {}
    assert result.stale_gaps == 3


def test_backlog_overflow_drops_the_oldest_gaps_and_reports_them() -> None:
    state = PollState(cursor=10, backlog={5: NOW + 10})
    result = advance(state, page(15, 20), [], NOW, TIMEOUT, max_backlog=5)
    kept = sorted(result.state.backlog)
    assert kept == [5, 16, 17, 18, 19]
    assert [list(r) for r in result.overflow] == [[11, 12, 13, 14]]


def test_huge_gap_is_handled_as_ranges_without_listing_every_id() -> None:
    result = advance(PollState(cursor=0), page(50_000_000), [], NOW, TIMEOUT, max_backlog=10)
    assert len(result.state.backlog) == 10
    assert sum(map(len, result.overflow)) == 50_000_000 - 1 - 10


def test_duplicate_rows_in_a_page_publish_once() -> None:
    result = advance(PollState(cursor=10), page(11, 11, 12), [], NOW, TIMEOUT, 100)
    assert ids(result.to_publish) == [11, 12]


def test_backlog_event_not_in_backlog_anymore_is_ignored() -> None:
    state = PollState(cursor=20, backlog={})
    assert advance(state, page(), page(12), NOW, TIMEOUT, 100).to_publish == []


@pytest.mark.parametrize(("size", "expected"), [(2, [[3, 5], [9]]), (500, [[3, 5, 9]])])
def test_backlog_is_read_in_chunks(size: int, expected: list[list[int]]) -> None:
    state = PollState(cursor=10, backlog={9: 1.0, 3: 1.0, 5: 1.0})
    assert backlog_chunks(state, size) == expected


def test_state_record_round_trip() -> None:
    state = PollState(cursor=99, backlog={12: 1.5, 3: 2.0})
    assert state_from_record(state_to_record(state)) == state
