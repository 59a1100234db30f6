"""The cursor/backlog algorithm, pure: GIVEN a state and a page, WHEN advanced, THEN ..."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shotgun_events.poller.cursor import PollState, advance, backlog_chunks
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


def test_gaps_between_old_events_get_one_last_read_then_are_given_up() -> None:
    result = advance(PollState(cursor=10), page(12, 15, age=TIMEOUT + 60), [], NOW, TIMEOUT, 100)
    assert ids(result.to_publish) == [12, 15]
    assert result.state.backlog == {11: NOW, 13: NOW, 14: NOW}
    assert result.stale_gaps == 3
    later = advance(result.state, page(), page(13), NOW + 2, TIMEOUT, 100)
    assert ids(later.to_publish) == [13]  # it did commit after all: published, not lost
    assert later.given_up == [11, 14]


def test_a_gap_before_an_event_past_the_timeout_by_less_than_its_stamps_second_gets_the_full_wait() -> None:
    """FPT stamps created_at in whole seconds: an event stamped 300.5 s ago may have happened 299.6 s
    ago, and an id allocated just before it may still commit within its 300 s. Read once and given
    up on the next pass (which comes at once while catching up), it would be lost."""
    result = advance(PollState(cursor=10), page(12, age=TIMEOUT + 0.5), [], NOW, TIMEOUT, 100)
    assert result.state.backlog == {11: NOW + TIMEOUT}
    assert result.stale_gaps == 0
    later = advance(result.state, page(), [], NOW + 0.1, TIMEOUT, 100)
    assert later.given_up == [] and 11 in later.state.backlog


def test_backlog_overflow_evicts_the_earliest_deadlines_first() -> None:
    state = PollState(cursor=10, backlog={5: NOW + 10, 6: NOW + 250})
    result = advance(state, page(15, 20), [], NOW, TIMEOUT, max_backlog=5)
    assert sorted(result.state.backlog) == [14, 16, 17, 18, 19]
    assert [list(r) for r in result.overflow] == [[5], [6], [11, 12, 13]]


def test_a_fresh_gap_is_kept_over_an_old_one_about_to_expire() -> None:
    state = PollState(cursor=100, backlog={i: NOW + 10 for i in range(1, 6)})
    result = advance(state, page(102), [], NOW, TIMEOUT, max_backlog=5)
    assert 101 in result.state.backlog
    assert [list(r) for r in result.overflow] == [[1]]
    assert ids(advance(result.state, page(), page(101), NOW + 1, TIMEOUT, 5).to_publish) == [101]


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
