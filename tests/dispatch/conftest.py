"""Fixtures for the dispatch tests: fake AWS credentials and region (moto only), log capture, env."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from shotgun_events.emulator.pytest_plugin import fpt_emulator  # noqa: F401 (fixture)
from tests.dispatch.support import LogLines, capture_json_logs

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
for _name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
    os.environ.setdefault(_name, "testing")


@pytest.fixture
def json_logs() -> Iterator[LogLines]:
    """The structured log lines written during the test."""
    yield from capture_json_logs()


@pytest.fixture
def clean_environ() -> Iterator[None]:
    """Restore os.environ after code under test exported a plugin secret into it."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
