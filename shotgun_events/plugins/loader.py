"""Finding and loading plugins from directories, the daemon's way.

A plugin is a `.py` file with a module-level `registerCallbacks(reg)`. Files are taken in name
order (files starting with `.` and `__init__.py` are skipped), callbacks in registration order. A
plugin that fails to import, has no `registerCallbacks`, raises in it or registers a non-callable
is *disabled*: one error log line with the traceback, one `PluginLoadFailures` data point, and the
other plugins load as usual.

A plugin that registers no callbacks is not broken (in the daemon it is a harmless no-op, e.g. one
switched off by an environment toggle): it loads active with no callbacks and one warning, and
dispatch consumes its events without running anything.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from shotgun_events.observability import logger
from shotgun_events.plugins.logs import log_context
from shotgun_events.plugins.metrics import MetricsSink, emf_metrics
from shotgun_events.plugins.registrar import Registrar, Registration

MODULE_PREFIX = "shotgun_events_plugin_"


class PluginNotFound(LookupError):
    """No directory of the plugin path holds a plugin of that name."""


@dataclass(eq=False)
class Plugin:
    """A loaded plugin; `error` is set (and `registrations` empty) when it is disabled."""

    name: str
    path: Path
    registrations: list[Registration] = field(default_factory=list)
    error: str | None = None

    @property
    def active(self) -> bool:
        return self.error is None

    @property
    def match_events(self) -> list[Any]:
        """Each callback's `matchEvents`, the input of `filter_policy`."""
        return [r.match_events for r in self.registrations]


def plugin_files(directory: str | Path) -> list[Path]:
    """The plugin files of one directory in the order they run; a missing directory has none."""
    root = Path(directory)
    if not root.is_dir():
        return []
    return sorted(
        (p for p in root.iterdir() if _is_plugin_file(p)),
        key=lambda p: p.name,
    )


def _is_plugin_file(path: Path) -> bool:
    name = path.name
    return name.endswith(".py") and not name.startswith(".") and name != "__init__.py" and path.is_file()


def _valid_name(name: str) -> bool:
    return bool(name) and not name.startswith(".") and Path(name).name == name and "\\" not in name


def find_plugin(name: str, paths: Sequence[str | Path]) -> Path:
    """The file of plugin `name` in the first directory of `paths` that has it."""
    if _valid_name(name):
        for directory in paths:
            candidate = Path(directory) / f"{name}.py"
            if _is_plugin_file(candidate):
                return candidate
    searched = ", ".join(str(p) for p in paths)
    raise PluginNotFound(f"plugin {name!r} not found in {searched}")


def _import(name: str, path: Path) -> ModuleType:
    module_name = MODULE_PREFIX + re.sub(r"\W", "_", name)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    # Plugins may import helper modules kept beside them, as they could under the daemon.
    directory = str(path.parent.resolve())
    if directory not in sys.path:
        sys.path.append(directory)
    sys.modules[module_name] = module  # dataclasses and pickling look the module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def load_plugin(path: str | Path, metrics: MetricsSink | None = None) -> Plugin:
    """Import one plugin file and run its `registerCallbacks`; never raises for a broken plugin."""
    path = Path(path)
    name = path.stem
    plugin = Plugin(name=name, path=path)
    with log_context(plugin=name):
        stage = "import"
        try:
            module = _import(name, path)
            register = getattr(module, "registerCallbacks", None)
            if not callable(register):
                return _disable(plugin, "has no registerCallbacks(reg) function", None, metrics)
            stage = "registerCallbacks"
            registrar = Registrar(name)
            register(registrar)
        except (Exception, SystemExit) as exc:
            reason = "failed to import" if stage == "import" else "raised in registerCallbacks"
            return _disable(plugin, f"{reason}: {type(exc).__name__}: {exc}", exc, metrics)
        plugin.registrations = registrar.registrations
    if not plugin.registrations:
        logger.warning(
            f"plugin {name} registered no callbacks: it ignores every event",
            extra={"plugin": name, "path": str(path), "callbacks": []},
        )
        return plugin
    logger.info(
        "plugin loaded",
        extra={
            "plugin": name,
            "path": str(path),
            "callbacks": [r.name for r in plugin.registrations],
        },
    )
    return plugin


def _disable(plugin: Plugin, reason: str, exc: BaseException | None, metrics: MetricsSink | None) -> Plugin:
    plugin.error = reason
    plugin.registrations = []
    # With the traceback only (file, line, code): never the frames' local variables.
    logger.error(
        f"plugin {plugin.name} disabled: {reason}",
        exc_info=exc,
        extra={"plugin": plugin.name, "path": str(plugin.path), "reason": reason},
    )
    (metrics or emf_metrics()).add(plugin.name, "PluginLoadFailures", 1, MetricUnit.Count)
    return plugin


def load_named_plugin(name: str, paths: Sequence[str | Path], metrics: MetricsSink | None = None) -> Plugin:
    """The plugin `name` from the first directory in `paths` that has it (what a dispatch Lambda runs)."""
    return load_plugin(find_plugin(name, paths), metrics)


def load_plugins(paths: Iterable[str | Path], metrics: MetricsSink | None = None) -> list[Plugin]:
    """Every plugin of every directory, disabled ones included (check `.active`), in run order.

    A name found in several directories is loaded from the first; the others are skipped with a
    warning, because a plugin's name is its queue and its function.
    """
    plugins: list[Plugin] = []
    seen: dict[str, Path] = {}
    for directory in paths:
        for path in plugin_files(directory):
            if path.stem in seen:
                logger.warning(
                    f"plugin {path.stem} in {path.parent} is shadowed by {seen[path.stem]}",
                    extra={"plugin": path.stem, "path": str(path), "used": str(seen[path.stem])},
                )
                continue
            seen[path.stem] = path
            plugins.append(load_plugin(path, metrics))
    return plugins
