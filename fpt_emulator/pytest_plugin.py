"""Pytest fixtures: a running emulator and a real ``shotgun_api3`` client connected to it.

Not registered globally. Use it from a conftest with
``from fpt_emulator.pytest_plugin import fpt_emulator, sg  # noqa: F401`` (or list
``"fpt_emulator.pytest_plugin"`` in the root conftest's ``pytest_plugins``).

The site has the stock schema. To test against a studio's own, define a fixture ``fpt_schema``
in a conftest returning its files (``shotgun-events schema-dump``; a relative path is taken
from the project root) or a :class:`~fpt_emulator.schema.Schema`::

    @pytest.fixture
    def fpt_schema():
        return "tests/site_schema"
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .emulator import DEFAULT_SCRIPT_NAME, FptEmulator
from .schema import Schema

#: The client timeout the ``sg`` fixture sets (FPT's client has none by default).
SG_TIMEOUT_SECS = 5.0


def site_schema(request: pytest.FixtureRequest) -> Schema | Path | None:
    """The schema a conftest's ``fpt_schema`` fixture asks for (None: there is none, the stock one)."""
    try:
        schema = request.getfixturevalue("fpt_schema")
    except pytest.FixtureLookupError:
        return None
    if isinstance(schema, str | Path):
        path = Path(schema)
        return path if path.is_absolute() else request.config.rootpath / path
    if schema is not None and not isinstance(schema, Schema):
        raise TypeError(f"fpt_schema must return a path, a Schema or None, not {type(schema).__name__}")
    return schema.copy() if schema is not None else None  # each test's site edits its own


@pytest.fixture
def fpt_emulator(request: pytest.FixtureRequest) -> Iterator[FptEmulator]:
    """A fresh emulator (seed 1, small demo studio) serving on a free local port."""
    emu = FptEmulator(seed=1, schema=site_schema(request))
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
