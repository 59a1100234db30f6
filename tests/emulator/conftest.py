"""Emulator tests use the emulator's own fixtures (``fpt_emulator``, ``sg``)."""

from shotgun_events.emulator.pytest_plugin import fpt_emulator, sg

__all__ = ["fpt_emulator", "sg"]
