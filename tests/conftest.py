"""Shared fixtures: fake AWS credentials (moto only; no test may reach real AWS), the FPT emulator
(`fpt_emulator`, `sg`) and structured-log capture."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.dispatch.support import LogLines

pytest_plugins = ["fpt_emulator.pytest_plugin"]

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
for _name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
    os.environ[_name] = "testing"
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ShotgunEventsTest")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")


@pytest.fixture
def aws() -> Iterator[None]:
    """Every AWS call inside the test goes to moto."""
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture
def clean_environ() -> Iterator[None]:
    """Restore os.environ after code under test exported a plugin secret into it."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def json_logs() -> Iterator[LogLines]:
    """The structured log lines written during the test."""
    from tests.dispatch.support import capture_json_logs  # after the environment above is set

    yield from capture_json_logs()
