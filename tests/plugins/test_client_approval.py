"""plugins/clientApproval.py, a studio plugin in the daemon's style (untyped, camelCase, outside our
ruff and mypy), through the authors' kit as a studio's TD would test it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from shotgun_events_tools.testing import PluginHarness

Harness = Callable[..., PluginHarness]


def version_under_review(h: PluginHarness) -> tuple[dict[str, Any], dict[str, Any]]:
    """A Comp task with a Version of it by Chen, waiting for the client."""
    shot = h.given("Shot", {"code": "SH010", "project": h.project})
    task = h.given(
        "Task",
        {
            "content": "Comp",
            "entity": shot,
            "project": h.project,
            "step": h.step("Comp"),
            "sg_status_list": "rev",
        },
    )
    version = h.given(
        "Version",
        {
            "code": "SH010_comp_v003",
            "project": h.project,
            "entity": shot,
            "sg_task": task,
            "user": h.person("chen.wei"),
            "sg_status_list": "rev",
        },
    )
    return task, version


def test_a_client_approval_is_recorded_and_the_artist_told_without_email(plugin_harness: Harness) -> None:
    # GIVEN a Version in review
    h = plugin_harness("plugins/clientApproval.py")  # from the project root, wherever pytest runs
    task, version = version_under_review(h)

    # WHEN the supervisor ticks "Client Approved" in the review
    h.update("Version", version["id"], {"client_approved": True}, user="iris.novak")
    h.deliver()

    # THEN the approval is stamped, the Version and its Task are approved, and Chen has a Note
    assert h.failures == []
    approved = h.get("Version", version["id"], ["client_approved_at", "client_approved_by", "sg_status_list"])
    assert approved is not None
    assert approved["client_approved_by"]["id"] == h.person("iris.novak")["id"]
    assert approved["client_approved_at"].tzinfo is not None and approved["sg_status_list"] == "apr"
    assert h.get("Task", task["id"], ["sg_status_list"])["sg_status_list"] == "apr"  # type: ignore[index]
    (note,) = h.find(
        "Note",
        [["note_links", "is", version]],
        ["subject", "content", "addressings_to", "suppress_email_notif", "sg_note_type"],
    )
    assert note["subject"] == "SH010_comp_v003: Approved by the client"  # the Status entity's name
    assert note["content"] == "Approved in review by Iris Novak."
    assert [p["id"] for p in note["addressings_to"]] == [h.person("chen.wei")["id"]]
    assert note["suppress_email_notif"] is True and note["sg_note_type"] == "Client"
    assert [(w.method, w.entity_type) for w in h.writes] == [
        ("update", "Version"),
        ("update", "Task"),
        ("create", "Note"),
    ]
    assert "SH010_comp_v003 approved by Iris Novak" in h.log_text


def test_an_approval_given_twice_is_recorded_once(plugin_harness: Harness) -> None:
    h = plugin_harness("plugins/clientApproval.py")
    _, version = version_under_review(h)
    h.update("Version", version["id"], {"client_approved": True})
    h.deliver()
    writes = len(h.writes)
    h.update("Version", version["id"], {"client_approved": False})
    h.update("Version", version["id"], {"client_approved": True})
    h.deliver()
    assert len(h.writes) == writes and h.failures == []
    assert "was already approved" in h.log_text


def test_its_log_lines_reach_caplog(plugin_harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    h = plugin_harness("plugins/clientApproval.py")
    _, version = version_under_review(h)
    h.update("Version", version["id"], {"client_approved": True}, user="iris.novak")
    h.deliver()
    assert any(
        r.name == "plugin.clientApproval.clientApproved" and "approved by" in r.message
        for r in caplog.records
    )
