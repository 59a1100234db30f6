"""`pause` / `resume`: the plugin's event source mapping, as Lambda holds it; status shows it."""

from __future__ import annotations

import json

from tests.operate.conftest import Studio


def test_pause_disables_the_mapping_resume_enables_it_and_status_shows_it(studio: Studio) -> None:
    paused = studio.cli("pause", "init_entity")
    assert paused.code == 0, paused.err
    assert studio.mapping("init_entity")["State"] == "Disabled"
    assert studio.mapping("create_shot_directories")["State"] == "Enabled"  # only that plugin
    (audit,) = paused.audit()
    assert (audit["command"], audit["plugin"], audit["count"]) == ("pause", "init_entity", 1)

    status = studio.cli("status", "--json")
    plugins = {p["name"]: p for p in json.loads(status.out)["plugins"]}
    assert plugins["init_entity"]["paused"] is True
    assert plugins["create_shot_directories"]["paused"] is False

    again = studio.cli("pause", "init_entity")
    assert again.code == 0 and "already paused" in again.out
    assert again.audit()[0]["count"] == 0

    resumed = studio.cli("resume", "init_entity")
    assert resumed.code == 0, resumed.err
    assert studio.mapping("init_entity")["State"] == "Enabled"
    assert resumed.audit()[0]["command"] == "resume"


def test_an_unknown_plugin_is_one_line_and_changes_nothing(studio: Studio) -> None:
    result = studio.cli("pause", "no_such_plugin")
    assert result.code == 2
    (line,) = result.err.strip().splitlines()
    assert "runs no plugin 'no_such_plugin'" in line and "init_entity" in line
    assert result.audit() == []
    assert {studio.mapping(p)["State"] for p in studio.stack.outputs.plugins} == {"Enabled"}
