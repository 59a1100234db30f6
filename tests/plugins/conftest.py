"""Fixtures for the plugin tests, including the plugin authors' kit used as a studio would use it."""

from __future__ import annotations

from shotgun_events_tools.testing import fpt_emulator, plugin_harness, sg  # noqa: F401 (fixtures)
