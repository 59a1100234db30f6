"""shotgunEvents-compatible plugins: the registrar, `matchEvents`, loading and filter policies."""

from shotgun_events.plugins.loader import (
    Plugin,
    PluginNotFound,
    find_plugin,
    load_named_plugin,
    load_plugin,
    load_plugins,
    plugin_files,
)
from shotgun_events.plugins.logs import callback_logger, log_context, plugin_logger
from shotgun_events.plugins.matching import filter_policy, matches, validate_match_events
from shotgun_events.plugins.metrics import (
    EmfMetrics,
    MetricsSink,
    RecordedMetrics,
    emf_metrics,
    flush_metrics,
)
from shotgun_events.plugins.registrar import Registrar, Registration, callable_name

__all__ = [
    "EmfMetrics",
    "MetricsSink",
    "Plugin",
    "PluginNotFound",
    "RecordedMetrics",
    "Registrar",
    "Registration",
    "callable_name",
    "callback_logger",
    "emf_metrics",
    "filter_policy",
    "find_plugin",
    "flush_metrics",
    "load_named_plugin",
    "load_plugin",
    "load_plugins",
    "log_context",
    "matches",
    "plugin_files",
    "plugin_logger",
    "validate_match_events",
]
