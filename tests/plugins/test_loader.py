"""Loading plugins from directories with a daemon-compatible registrar."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest

from shotgun_events.plugins import (
    PluginNotFound,
    RecordedMetrics,
    Registrar,
    filter_policy,
    load_named_plugin,
    load_plugin,
    load_plugins,
    plugin_files,
)
from tests.dispatch.support import LogLines

GOOD = """
import os

def registerCallbacks(reg):
    reg.registerCallback("script_a", "key_a", first, {"Shotgun_Task_Change": ["sg_status_list"]}, {"n": 1})
    reg.registerCallback("script_b", "key_b", second, matchEvents=None, args=None, stopOnError=False)

def first(sg, logger, event, args):
    pass

def second(sg, logger, event, args):
    pass
"""


def write(directory: Path, name: str, source: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def test_registrations_in_order_with_their_settings(tmp_path: Path) -> None:
    plugin = load_plugin(write(tmp_path, "good.py", GOOD))
    assert plugin.active and plugin.error is None
    first, second = plugin.registrations
    assert (first.name, first.index, first.script_name, first.stop_on_error) == ("first", 0, "script_a", True)
    assert first.match_events == {"Shotgun_Task_Change": ["sg_status_list"]}
    assert first.args == {"n": 1}
    assert (second.name, second.key, second.stop_on_error, second.match_events) == (
        "second",
        "1:second",
        False,
        None,
    )
    assert plugin.match_events == [first.match_events, None]
    assert filter_policy(plugin.match_events) is None


def test_script_key_never_in_repr(tmp_path: Path) -> None:
    plugin = load_plugin(write(tmp_path, "good.py", GOOD))
    assert "key_a" not in repr(plugin.registrations[0])


def test_file_name_order_and_skipped_files(tmp_path: Path) -> None:
    for name in ["b.py", "a.py", ".hidden.py", "__init__.py", "notes.txt", "c.pyc"]:
        write(tmp_path, name, GOOD)
    (tmp_path / "d.py").mkdir()
    assert [p.name for p in plugin_files(tmp_path)] == ["a.py", "b.py"]
    assert [p.name for p in load_plugins([tmp_path])] == ["a", "b"]


def test_missing_directory_has_no_plugins(tmp_path: Path) -> None:
    assert load_plugins([tmp_path / "nope"]) == []


BROKEN = {
    "syntax": ("def registerCallbacks(reg):\n    return (\n", "failed to import: SyntaxError"),
    "import_error": ("import not_a_module_anywhere\n", "failed to import: ModuleNotFoundError"),
    "raises_at_import": (
        "raise RuntimeError('boom at import')\n",
        "failed to import: RuntimeError: boom at import",
    ),
    "exits_at_import": ("import sys\nsys.exit(3)\n", "failed to import: SystemExit"),
    "no_register": ("x = 1\n", "has no registerCallbacks(reg) function"),
    "register_not_callable": ("registerCallbacks = 5\n", "has no registerCallbacks(reg) function"),
    "raises_in_register": (
        "def registerCallbacks(reg):\n    raise KeyError('SGDAEMON_X_NAME')\n",
        "raised in registerCallbacks: KeyError",
    ),
    "non_callable": (
        "def registerCallbacks(reg):\n    reg.registerCallback('n', 'k', 'not a function')\n",
        "raised in registerCallbacks: TypeError: registerCallback: callback must be callable, got a str",
    ),
    "bad_match_events": (
        "def registerCallbacks(reg):\n    reg.registerCallback('n', 'k', print, ['Shotgun_Task_Change'])\n",
        "raised in registerCallbacks: TypeError: matchEvents must be a dict or None",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_plugin_is_disabled_with_one_error_and_a_metric(
    tmp_path: Path, case: str, json_logs: LogLines
) -> None:
    source, reason = BROKEN[case]
    write(tmp_path, "a_first.py", GOOD)
    write(tmp_path, f"{case}.py", source)
    write(tmp_path, "z_last.py", GOOD)
    metrics = RecordedMetrics()

    plugins = load_plugins([tmp_path], metrics)

    assert [(p.name, p.active) for p in plugins] == [("a_first", True), (case, False), ("z_last", True)]
    broken = plugins[1]
    assert broken.error is not None and broken.error.startswith(reason)
    assert broken.registrations == []
    assert metrics.values == {(case, "PluginLoadFailures"): [1]}
    errors = json_logs.at("ERROR")
    assert len(errors) == 1
    assert errors[0]["plugin"] == case
    assert errors[0]["message"].startswith(f"plugin {case} disabled: {reason}")
    assert ("exception" in errors[0]) is (case not in ("no_register", "register_not_callable"))


TOGGLED = """
import os

def registerCallbacks(reg):
    if not os.environ.get("TOGGLED_PLUGIN_ENABLED"):
        reg.logger.info("switched off on this site")
        return
    reg.registerCallback("n", "k", print)
"""


def test_a_plugin_that_registers_no_callbacks_loads_active_with_one_warning(
    tmp_path: Path, json_logs: LogLines, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a plugin switched off by its own environment toggle (a harmless no-op in the daemon)
    monkeypatch.delenv("TOGGLED_PLUGIN_ENABLED", raising=False)
    write(tmp_path, "toggled.py", TOGGLED)
    metrics = RecordedMetrics()
    # WHEN it is loaded
    plugin = load_named_plugin("toggled", [tmp_path], metrics)
    # THEN it is active with no callbacks, one warning says so, and it is no load failure
    assert plugin.active and plugin.error is None and plugin.registrations == []
    assert metrics.values == {}
    assert json_logs.at("ERROR") == []
    (warning,) = json_logs.at("WARNING")
    assert warning["message"] == "plugin toggled registered no callbacks: it ignores every event"
    assert warning["plugin"] == "toggled"


def test_the_non_callable_error_never_shows_the_value(
    tmp_path: Path, json_logs: LogLines, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A swapped argument order puts the script key where the callback goes.
    monkeypatch.setenv("SGDAEMON_SWAPPED_KEY", "sekrit-key")
    write(
        tmp_path,
        "swapped.py",
        """
        import os

        def registerCallbacks(reg):
            reg.registerCallback("n", print, os.environ["SGDAEMON_SWAPPED_KEY"])
        """,
    )
    plugin = load_plugin(tmp_path / "swapped.py", RecordedMetrics())
    assert not plugin.active
    assert "sekrit-key" not in json_logs.text
    assert "sekrit-key" not in (plugin.error or "")


def test_named_plugin_comes_from_the_first_directory_that_has_it(tmp_path: Path) -> None:
    write(tmp_path / "studio", "shared.py", GOOD.replace("script_a", "studio_a"))
    write(tmp_path / "site", "shared.py", GOOD.replace("script_a", "site_a"))
    write(tmp_path / "site", "only_site.py", GOOD)
    paths = [tmp_path / "studio", tmp_path / "site"]

    assert load_named_plugin("shared", paths).registrations[0].script_name == "studio_a"
    assert load_named_plugin("only_site", paths).active
    all_plugins = load_plugins(paths)
    assert [(p.name, p.path.parent.name) for p in all_plugins] == [
        ("shared", "studio"),
        ("only_site", "site"),
    ]


@pytest.mark.parametrize("name", ["missing", "../site/shared", ".hidden", "", "sub/x"])
def test_named_plugin_not_found(tmp_path: Path, name: str) -> None:
    write(tmp_path / "site", "shared.py", GOOD)
    write(tmp_path / "site", ".hidden.py", GOOD)
    with pytest.raises(PluginNotFound, match="not found in"):
        load_named_plugin(name, [tmp_path / "studio", tmp_path / "site"])


def test_plugins_can_import_modules_beside_them(tmp_path: Path) -> None:
    write(tmp_path, "studio_helpers_for_test.py", "PREFIX = 'helped'\n")
    write(
        tmp_path,
        "uses_helper.py",
        """
        import studio_helpers_for_test

        def registerCallbacks(reg):
            reg.registerCallback(studio_helpers_for_test.PREFIX, "k", cb)

        def cb(sg, logger, event, args):
            pass
        """,
    )
    plugin = load_named_plugin("uses_helper", [tmp_path])
    assert plugin.registrations[0].script_name == "helped"


def test_plugins_can_define_dataclasses(tmp_path: Path) -> None:
    write(
        tmp_path,
        "with_dataclass.py",
        """
        from dataclasses import dataclass

        @dataclass
        class Rule:
            field: str

        def registerCallbacks(reg):
            reg.registerCallback("n", "k", cb, args=Rule("x"))

        def cb(sg, logger, event, args):
            pass
        """,
    )
    assert load_named_plugin("with_dataclass", [tmp_path]).registrations[0].args.field == "x"


def test_registrar_loggers_and_set_emails(json_logs: LogLines) -> None:
    reg = Registrar("studio_plugin")
    assert isinstance(reg.logger, logging.Logger)
    assert reg.logger.name == "plugin.studio_plugin"
    assert reg.getLogger() is reg.logger
    reg.setEmails("td@example.com")
    reg.setEmails("other@example.com")
    reg.registerCallback("n", "k", print)
    assert reg.registrations[0].logger.name == "plugin.studio_plugin.print"
    lines = [r for r in json_logs.records() if "setEmails" in r["message"]]
    assert len(lines) == 1
    assert "alarms" in lines[0]["message"]


def test_callback_names_of_other_callables() -> None:
    import functools

    class Handler:
        def __call__(self, sg: object, logger: object, event: object, args: object) -> None:
            pass

    def named(sg: object, logger: object, event: object, args: object) -> None:
        pass

    reg = Registrar("p")
    reg.registerCallback("n", "k", Handler())
    reg.registerCallback("n", "k", functools.partial(named))
    reg.registerCallback("n", "k", lambda *a: None)
    assert [r.name for r in reg.registrations] == ["Handler", "named", "<lambda>"]


def test_a_dotted_file_name_is_a_plugin_name_not_a_package(tmp_path: Path) -> None:
    write(tmp_path, "studio.v2.py", GOOD)
    plugin = load_named_plugin("studio.v2", [tmp_path])
    assert plugin.active and plugin.name == "studio.v2"
