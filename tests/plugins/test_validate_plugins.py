"""`shotgun-events validate-plugins`: what each plugin does, and the problems that fail CI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fpt_emulator import DEFAULT_SCRIPT_KEY, DEFAULT_SCRIPT_NAME, FptEmulator
from shotgun_events_tools.cli import main
from shotgun_events_tools.operate.validate import env_names_read, match_findings, stock_schema
from tests.dispatch.support import write_plugin

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


def validate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["validate-plugins", *args, "--json"])
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return code, document


def test_the_shipped_plugins_have_no_problems(capsys: pytest.CaptureFixture[str]) -> None:
    code, document = validate(capsys, str(PLUGINS))
    assert code == 0
    reports = {r["name"]: r for r in document["plugins"]}
    assert "init_entity" in reports and all(not r["problems"] for r in reports.values())
    init = reports["init_entity"]
    assert init["env_names"] == {"SGDAEMON_INITENTITY_KEY": True, "SGDAEMON_INITENTITY_NAME": True}
    assert init["filter_policy"] == {"event_type": ["Shotgun_Asset_New", "Shotgun_Shot_New"]}
    assert [c["name"] for c in init["callbacks"]] == ["initEntity"]
    assert reports["datestamp"]["env_names"]["DATESTAMP_TIMEZONE"] is False  # read with a default


def test_problems_are_named_and_fail_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_plugin(tmp_path, "broken", "import no_such_module\n")
    write_plugin(
        tmp_path,
        "never",
        """
        import os

        def registerCallbacks(reg):
            name, key = os.environ.get("SGDAEMON_NEVER_NAME"), os.environ.get("SGDAEMON_NEVER_KEY")
            reg.registerCallback(name, key, cb,
                                 matchEvents={"Shotgun_Shoot_New": None,
                                              "Shotgun_Shot_New": ["code"],
                                              "Shotgun_Task_Change": []})

        def cb(sg, logger, event, args):
            pass
        """,
    )
    write_plugin(
        tmp_path,
        "fine",
        """
        def registerCallbacks(reg):
            reg.registerCallback("fine", "key", cb, matchEvents={"Shotgun_Task_Change": ["sg_status_list"]})

        def cb(sg, logger, event, args):
            pass
        """,
    )
    code, document = validate(capsys, str(tmp_path))
    assert code == 1
    reports = {r["name"]: r for r in document["plugins"]}
    assert reports["broken"]["loaded"] is False
    assert "does not load: failed to import: ModuleNotFoundError" in reports["broken"]["problems"][0]
    problems = " | ".join(reports["never"]["problems"])
    assert (
        "Shotgun_Shoot_New never fires: entity type Shoot is not in the FPT emulator's stock schema"
        in problems
    )
    assert "Shotgun_Shot_New never fires: FPT writes _New events without an attribute name" in problems
    assert "Shotgun_Task_Change never fires: its attribute list [] matches no attribute name" in problems
    assert reports["never"]["env_names"] == {"SGDAEMON_NEVER_KEY": True, "SGDAEMON_NEVER_NAME": True}
    assert reports["fine"]["problems"] == [] and reports["fine"]["warnings"] == []

    main(["validate-plugins", str(tmp_path)])
    text = capsys.readouterr().out
    assert (
        "3 plugins, 2 with problems" in text and "problem: callback cb: Shotgun_Shoot_New never fires" in text
    )


def test_a_site_schema_checks_fields_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fpt_emulator: FptEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a studio's site with a field of its own, recorded as `schema-dump` records it
    sg = fpt_emulator.connect(timeout=5)
    assert sg.schema_field_create("Shot", "text", "Stage") == "sg_stage"
    monkeypatch.setenv("SHOTGUN_SCRIPT_NAME", DEFAULT_SCRIPT_NAME)
    monkeypatch.setenv("SHOTGUN_SCRIPT_KEY", DEFAULT_SCRIPT_KEY)
    dump = tmp_path / "site_schema"
    dump.mkdir()
    assert main(["schema-dump", "--site", fpt_emulator.url, "--out", str(dump), "--json"]) == 0
    capsys.readouterr()
    plugins = tmp_path / "plugins"
    write_plugin(
        plugins,
        "custom",
        """
        def registerCallbacks(reg):
            reg.registerCallback("s", "k", cb, matchEvents={"Shotgun_Shot_Change": ["sg_stage", "sg_cut_inn"]})

        def cb(sg, logger, event, args):
            pass
        """,
    )
    # WHEN checked against the stock schema THEN unknown fields are only warnings (custom fields?)
    stock_code, stock = validate(capsys, str(plugins))
    assert stock_code == 0
    (warning,) = stock["plugins"][0]["warnings"]
    assert "Shot has no field sg_cut_inn, sg_stage in the FPT emulator's stock schema" in warning
    # WHEN checked against the site's THEN its own field is fine and the typo can never fire
    code, document = validate(capsys, str(plugins), "--schema", str(dump))
    assert code == 1
    assert document["schema"] == f"the schema in {dump}"
    (problem,) = document["plugins"][0]["problems"]
    assert "Shotgun_Shot_Change: Shot has no field sg_cut_inn" in problem and "never fires" in problem


def test_bad_inputs_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate-plugins", str(tmp_path / "nowhere")]) == 2
    assert f"{tmp_path / 'nowhere'} does not exist" in capsys.readouterr().err
    (tmp_path / "a_file.py").write_text("")
    assert main(["validate-plugins", str(tmp_path / "a_file.py")]) == 2
    assert "a_file.py is not a directory of plugins" in capsys.readouterr().err
    (tmp_path / "a_file.py").unlink()
    assert main(["validate-plugins", str(tmp_path)]) == 2
    assert "no plugins in" in capsys.readouterr().err
    write_plugin(tmp_path, "p", "def registerCallbacks(reg):\n    pass\n")
    (tmp_path / "schema_read.json").write_text("[1, 2]")
    assert main(["validate-plugins", str(tmp_path), "--schema", str(tmp_path / "schema_read.json")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"shotgun-events validate-plugins: --schema {tmp_path / 'schema_read.json'}: ")


def test_environment_names_are_read_from_the_source() -> None:
    source = """
import os
from os import environ, getenv
A = os.environ["NEEDED"]
B = os.environ.get("OPTIONAL", "x")
C = os.getenv("ALSO_NEEDED")
D = getenv("WITH_DEFAULT", default="y")
E = environ.get("BARE")
F = {"name": "SGDAEMON_X_NAME"}
"""
    assert env_names_read(source) == {
        "ALSO_NEEDED": True,
        "BARE": True,
        "NEEDED": True,
        "OPTIONAL": False,
        "SGDAEMON_X_NAME": True,
        "WITH_DEFAULT": False,
    }


@pytest.mark.parametrize(
    ("match_events", "problem", "warning"),
    [
        (None, None, None),
        ({"*": None}, None, None),
        ({"*": None, "Shotgun_Shot_New": None}, None, "other keys (Shotgun_Shot_New) are ignored"),
        ({"Shotgun_Shot_Change": "sg_status"}, None, "matched as substrings"),
        ({"Shotgun_Shot_Retirement": ["retirement_date"]}, "_Retirement events without an attribute", None),
        ({"Shotgun_Shot_Change": ["*"]}, None, None),
        ({"Shotgun_Shot_Change": ["sg_custom"]}, None, "Shot has no field sg_custom"),
        ({"Toolkit_App_Startup": None}, None, None),
        ({"Shotgun_Shot_Viewed": None}, None, "not an entity event FPT writes"),
        ({"Shotgun_User_Login": None}, None, None),
        ({"*": []}, "matches no attribute name", None),
    ],
)
def test_match_rules(match_events: Any, problem: str | None, warning: str | None) -> None:
    problems, warnings = match_findings(match_events, stock_schema())
    assert (problem is None) == (not problems) and all(problem in p for p in problems if problem)
    assert (warning is None) == (not warnings) and all(warning in w for w in warnings if warning)
