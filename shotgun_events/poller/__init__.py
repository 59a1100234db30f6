"""The poller: fetch -> publish -> commit over the event log (cursor, backlog, state store, publisher)."""

from shotgun_events.poller.core import PollerDeps, PollSummary, initialise, load_or_start, poll, run_pass

__all__ = ["PollSummary", "PollerDeps", "initialise", "load_or_start", "poll", "run_pass"]
