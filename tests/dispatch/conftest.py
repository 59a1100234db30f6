"""Fixtures for the dispatch tests (AWS credentials, emulator and log capture come from tests/conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture
def clean_environ() -> Iterator[None]:
    """Restore os.environ after code under test exported a plugin secret into it."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
