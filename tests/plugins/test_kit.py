"""The plugin author's loop: the kit says why a callback failed, shows the plugin's log lines, takes
plugin paths from the project root, and `shotgun-events new-plugin` writes a plugin whose test passes."""

from __future__ import annotations

import importlib.util
import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fpt_emulator import FptEmulator
from shotgun_events_tools.cli import main
from shotgun_events_tools.testing import PluginHarness
from tests.dispatch.support import write_plugin

Harness = Callable[..., PluginHarness]
ROOT = Path(__file__).resolve().parents[2]

BROKEN = """
import os

def registerCallbacks(reg):
    reg.registerCallback(os.environ.get("SGDAEMON_BROKEN_NAME"), os.environ.get("SGDAEMON_BROKEN_KEY"),
                         onShot, {"Shotgun_Shot_Change": ["description"]})

def onShot(sg, logger, event, args):
    logger.info("looking at %s", event["entity"]["name"])
    sg.find("Shot", [["sg_delivery_date", "is", None]])  # a field this site does not have
"""


def test_a_failure_says_which_exception_failed_the_callback(plugin_harness: Harness, tmp_path: Path) -> None:
    h = plugin_harness(write_plugin(tmp_path, "broken", BROKEN))
    shot = h.given("Shot", {"code": "SH010", "project": h.project})
    h.update("Shot", shot["id"], {"description": "new brief"})
    h.deliver()

    (failure,) = h.failures
    assert failure == f"{failure.event_id}:0:onShot"  # still the "<event id>:<callback>" it always was
    assert failure.error == "Fault: API read() Shot.sg_delivery_date doesn't exist."
    assert failure.traceback is not None and "broken.py" in failure.traceback
    assert "Shot.sg_delivery_date doesn't exist" in repr(h.failures)  # what a failed assert prints
    assert h.log_text.splitlines()[0] == "INFO plugin.broken.onShot: looking at SH010"
    assert [r.levelname for r in h.logs] == ["INFO", "ERROR"]


def test_plugin_log_lines_reach_caplog(
    plugin_harness: Harness, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    h = plugin_harness(write_plugin(tmp_path, "broken", BROKEN))
    shot = h.given("Shot", {"code": "SH020", "project": h.project})
    with caplog.at_level(logging.INFO):
        h.update("Shot", shot["id"], {"description": "x"})
        h.deliver()
    assert "looking at SH020" in caplog.text
    assert any(r.name == "plugin.broken.onShot" and r.levelno == logging.ERROR for r in caplog.records)


def test_plugin_paths_are_taken_from_the_project_root(
    plugin_harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fpt_emulator: FptEmulator
) -> None:
    monkeypatch.chdir(tmp_path)  # pytest run from elsewhere
    h = plugin_harness("plugins/logArgs.py")
    assert h.plugin.path == ROOT / "plugins" / "logArgs.py"
    with pytest.raises(FileNotFoundError, match=f"taken from the project root {ROOT}"):
        plugin_harness("plugins/nope.py")
    # Built by hand, the harness finds the root from the working directory up.
    (tmp_path / "pyproject.toml").write_text("")
    write_plugin(tmp_path / "plugins", "mine", "def registerCallbacks(reg):\n    pass\n")
    (tmp_path / "deep").mkdir()
    monkeypatch.chdir(tmp_path / "deep")
    with PluginHarness(fpt_emulator, "plugins/mine.py") as mine:
        assert mine.plugin.path == tmp_path / "plugins" / "mine.py"


def test_new_plugin_writes_a_plugin_whose_test_passes(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fpt_emulator: FptEmulator,
) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "tests").mkdir()
    monkeypatch.chdir(tmp_path / "tests")  # written under the project root, wherever it is run
    assert main(["new-plugin", "shotStarted"]) == 0
    assert "wrote plugins/shotStarted.py and tests/plugins/test_shotStarted.py" in capsys.readouterr().out
    plugin, test = (
        tmp_path / "plugins" / "shotStarted.py",
        tmp_path / "tests" / "plugins" / "test_shotStarted.py",
    )
    assert "SGDAEMON_SHOTSTARTED_NAME" in plugin.read_text()
    assert main(["new-plugin", "shotStarted"]) == 2  # never overwrites
    assert "already exists" in capsys.readouterr().err
    assert main(["new-plugin", "not-a-name"]) == 2

    # The written test runs as is, through the kit, against the emulator.
    spec = importlib.util.spec_from_file_location("test_shotStarted", test)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tests = [getattr(module, name) for name in dir(module) if name.startswith("test_")]
    assert len(tests) == 2
    for run in tests:
        emulator = FptEmulator(seed=1).start()
        made: list[PluginHarness] = []

        def harness(path: str, emulator: Any = emulator, made: list[PluginHarness] = made) -> PluginHarness:
            made.append(PluginHarness(emulator, path, root=tmp_path, setenv=monkeypatch.setenv))
            return made[-1]

        try:
            run(harness)
        finally:
            for h in made:
                h.close()
            emulator.stop()

    # And it passes the project's own ruff (tests/ are checked; plugins/ are the studio's own).
    ruff = Path(sys.executable).with_name("ruff")
    checked = subprocess.run(
        [str(ruff), "check", "--config", str(ROOT / "pyproject.toml"), str(test)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout
    formatted = subprocess.run(
        [str(ruff), "format", "--check", "--config", str(ROOT / "pyproject.toml"), str(test)],
        capture_output=True,
        text=True,
    )
    assert formatted.returncode == 0, formatted.stdout
