"""Pytest fixtures: a running emulator and a real ``shotgun_api3`` client connected to it.

Not registered globally. Use it from a conftest with
``from fpt_emulator.pytest_plugin import fpt_emulator, sg  # noqa: F401`` (or list
``"fpt_emulator.pytest_plugin"`` in the root conftest's ``pytest_plugins``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .emulator import DEFAULT_SCRIPT_NAME, FptEmulator

#: The client timeout the ``sg`` fixture sets (FPT's client has none by default).
SG_TIMEOUT_SECS = 5.0


@pytest.fixture
def fpt_emulator() -> Iterator[FptEmulator]:
    """A fresh emulator (seed 1, small demo studio) serving on a free local port."""
    emu = FptEmulator(seed=1)
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def sg(fpt_emulator: FptEmulator) -> Iterator[Any]:
    """``shotgun_api3.Shotgun`` for the default script, with ``config.timeout_secs`` set."""
    client = fpt_emulator.connect(DEFAULT_SCRIPT_NAME, timeout=SG_TIMEOUT_SECS)
    try:
        yield client
    finally:
        client.close()
