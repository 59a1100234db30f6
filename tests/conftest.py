"""Shared fixtures: fake AWS credentials (moto only; no test may reach real AWS)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

pytest_plugins = ["shotgun_events.emulator.pytest_plugin"]

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
