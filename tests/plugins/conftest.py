"""Fixtures for the plugin tests, including the plugin authors' kit used as a studio would use it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shotgun_events.testing import fpt_emulator, plugin_harness, sg  # noqa: F401 (fixtures)
from tests.dispatch.support import LogLines, capture_json_logs


@pytest.fixture
def json_logs() -> Iterator[LogLines]:
    """The structured log lines written during the test."""
    yield from capture_json_logs()
