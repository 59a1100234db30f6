"""The template as data: the SAM source, and its offline translation to plain CloudFormation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shotgun_events_tools.stack.translate import load_template, parameter_values, translate

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SITE = "https://studio.example.com"


@pytest.fixture(scope="session")
def sam_template() -> dict[str, Any]:
    return load_template(TEMPLATE)


@pytest.fixture(scope="session")
def translated(sam_template: dict[str, Any]) -> dict[str, Any]:
    """Translated with an alarm email, so the conditional subscription is in it too."""
    values = parameter_values(sam_template, {"ShotgunUrl": SITE, "AlarmEmail": "ops@example.com"})
    return translate(sam_template, values)


def resources_of(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}
