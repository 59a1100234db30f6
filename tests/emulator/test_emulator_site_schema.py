"""A studio's own site: its schema recorded (`generate_schema`, `shotgun-events schema-dump`) and
loaded back (`--schema`, `FptEmulator(schema=...)`, the `fpt_schema` fixture); snapshots keep it."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import pytest
import shotgun_api3
from shotgun_api3.lib.mockgun import generate_schema

from fpt_emulator import FptEmulator, SchemaFileError, load_site_schema
from fpt_emulator.cli import main as emulator_main
from shotgun_events_tools.cli import main

PROJECT = {"type": "Project", "id": 1}


def studio_site(sg: Any) -> str:
    """The stock site plus one studio field: what a real studio's schema looks like."""
    return str(sg.schema_field_create("Shot", "timecode", "Delivery TC", {"description": "DI in point"}))


def test_a_schema_recorded_with_generate_schema_loads_back(sg: Any, tmp_path: Path) -> None:
    field = studio_site(sg)
    generate_schema(sg, str(tmp_path / "schema.pickle"), str(tmp_path / "schema_entity.pickle"))
    with FptEmulator(schema=tmp_path) as studio:
        other = studio.connect()
        assert other.schema_read() == sg.schema_read()
        assert other.schema_entity_read() == sg.schema_entity_read()
        shot = other.create("Shot", {"code": "SH010", "project": PROJECT, field: 3_600_000})
        assert other.find_one("Shot", [["id", "is", shot["id"]]], [field])[field] == 3_600_000
    # The schema file alone finds its entity file next to it.
    assert set(load_site_schema(tmp_path / "schema.pickle").entities["Shot"].fields) >= {field, "code"}


def test_a_schema_as_json_loads_too(sg: Any, tmp_path: Path) -> None:
    field = studio_site(sg)
    (tmp_path / "schema_read.json").write_text(json.dumps(sg.schema_read()))
    (tmp_path / "schema_entity_read.json").write_text(json.dumps(sg.schema_entity_read()))
    schema = load_site_schema(tmp_path)
    assert schema.entities["Shot"].fields[field].data_type == "timecode"
    assert schema.entities["Step"].display_name == "Step"
    assert schema.links[("Shot", "assets")].entity_type == "AssetShotConnection"  # FPT's pairs, re-linked


def test_a_pickle_that_would_run_code_is_refused_unrun(tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self) -> tuple[Any, ...]:
            return (os.system, (f"touch {marker}",))

    (tmp_path / "schema.pickle").write_bytes(pickle.dumps({"Shot": Evil()}, protocol=2))
    with pytest.raises(
        SchemaFileError, match=r"holds an object of class .*system; a schema file holds only plain"
    ):
        FptEmulator(schema=tmp_path)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "neither a pickle nor JSON"),
        (b"[1, 2]", "not a schema_read"),
        (
            json.dumps({"Shot": {"code": {"data_type": {"value": None}}}}).encode(),
            "Shot: field 'code': no data_type",
        ),
        (pickle.dumps({"Shot": "nope"}, protocol=2), "entity 'Shot': expected a dict of fields"),
    ],
)
def test_a_file_that_is_not_a_schema_is_named(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "mine.json"
    path.write_bytes(content)
    with pytest.raises(SchemaFileError, match=message):
        load_site_schema(path)


def test_bad_paths_fail_at_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SchemaFileError, match="no such schema file or directory"):
        FptEmulator(schema=tmp_path / "nope")
    with pytest.raises(SchemaFileError, match="no schema files in this directory"):
        FptEmulator(schema=tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        FptEmulator(snapshot=tmp_path / "missing" / "site.json")
    assert emulator_main(["--port", "0", "--schema", str(tmp_path / "nope")]) == 2
    assert "no such schema file" in capsys.readouterr().err
    assert emulator_main(["--port", "0", "--snapshot", str(tmp_path / "missing" / "s.json")]) == 2
    assert "the folder" in capsys.readouterr().err


def test_a_snapshot_keeps_the_schema(tmp_path: Path) -> None:
    snapshot = tmp_path / "site.json"
    with FptEmulator(snapshot=snapshot) as emu:
        sg = emu.connect()
        field = studio_site(sg)
        sg.schema_field_update("Task", "sg_status_list", {"valid_values": ["wtg", "ip", "fin", "pndng"]})
        shot = sg.create("Shot", {"code": "SH010", "project": PROJECT, field: 1000})
        sg.schema_field_create("Shot", "text", "Gone")
        sg.schema_field_delete("Shot", "sg_gone")
    with FptEmulator(snapshot=snapshot) as again:
        sg = again.connect()
        assert sg.find_one("Shot", [["id", "is", shot["id"]]], [field])[field] == 1000
        status = sg.schema_field_read("Task", "sg_status_list")["sg_status_list"]
        assert status["properties"]["valid_values"]["value"] == ["wtg", "ip", "fin", "pndng"]
        assert sg._call_rpc("schema_field_revive", {"type": "Shot", "field_name": "sg_gone"}) is True


def test_schema_dump_records_a_site_for_the_emulator(
    sg: Any, fpt_emulator: FptEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    field = studio_site(sg)
    monkeypatch.setenv("SHOTGUN_SCRIPT_NAME", "shotgun_events")
    monkeypatch.setenv("SHOTGUN_SCRIPT_KEY", fpt_emulator.scripts["shotgun_events"])
    assert main(["schema-dump", "--site", fpt_emulator.url, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "77 entity types" in out and "schema.pickle" in out
    assert load_site_schema(tmp_path).entities["Shot"].fields[field].data_type == "timecode"

    credentials = tmp_path / "creds.json"
    credentials.write_text(json.dumps({"script_name": "shotgun_events", "api_key": "wrong"}))
    assert (
        main(
            [
                "schema-dump",
                "--site",
                fpt_emulator.url,
                "--out",
                str(tmp_path),
                "--credentials",
                str(credentials),
            ]
        )
        == 2
    )
    assert "refused the script 'shotgun_events'" in capsys.readouterr().err
    credentials.write_text(
        json.dumps({"script_name": "shotgun_events", "api_key": fpt_emulator.scripts["shotgun_events"]})
    )
    json_out = tmp_path / "json"
    json_out.mkdir()
    args = [
        "schema-dump",
        "--site",
        fpt_emulator.url,
        "--out",
        str(json_out),
        "--json",
        "--credentials",
        str(credentials),
    ]
    assert main(args) == 0
    assert json.loads((json_out / "schema_read.json").read_text()) == sg.schema_read()

    monkeypatch.delenv("SHOTGUN_SCRIPT_KEY")
    assert main(["schema-dump", "--site", fpt_emulator.url, "--out", str(tmp_path)]) == 2
    assert "set SHOTGUN_SCRIPT_NAME and SHOTGUN_SCRIPT_KEY" in capsys.readouterr().err


class TestTheFixtureTakesASiteSchema:
    """A conftest's `fpt_schema` fixture gives the `fpt_emulator` (and kit) fixtures a site's schema."""

    @pytest.fixture
    def fpt_schema(self) -> Path:
        # The real site's files, as shipped, without the newer fields the stock site adds.
        return Path(__file__).resolve().parents[2] / "fpt_emulator" / "data"

    def test_the_site_has_that_schema(self, sg: Any) -> None:
        assert "client_approved_at" not in sg.schema_field_read("Version")
        with pytest.raises(shotgun_api3.Fault, match=r"Version\.client_approved_at doesn't exist"):
            sg.create("Version", {"code": "v1", "project": PROJECT, "client_approved_at": None})
        assert sg.find("HumanUser", [["login", "is", "ada.moreau"]])  # and the demo studio
