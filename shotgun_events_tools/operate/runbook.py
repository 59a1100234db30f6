"""From an alarm's name to what to do about it (README: Operating, "When an alarm fires").

CloudFormation names an alarm `<stack>-<LogicalId>-<suffix>`; the logical id says which alarm it
is, and for a plugin's alarms, which plugin.
"""

from __future__ import annotations

from collections.abc import Iterable

from shotgun_events_tools.stack.generate import logical_id

POLLER_STEPS = {
    "PollerErrorsAlarm": "read the poller's error line (its log group); fix the secret, site or FPT access",
    "PollerStoppedAlarm": "is the schedule enabled, the poller throttled? status shows its last run",
    "PollerLagAlarm": "status shows how far behind it is; FPT errors on the dashboard, or the site's load",
    "EventsGivenUpAlarm": "an id never arrived (a rolled-back change, usually); if it did exist: replay it",
    "BacklogOverflowAlarm": "a site-side incident left many ids missing; once over, replay the range",
}


def next_step(alarm_name: str, stack: str, plugins: Iterable[str]) -> str:
    """What to run (or look at) when this alarm fires."""
    for alarm, step in POLLER_STEPS.items():
        if alarm in alarm_name:
            return step
    for plugin in sorted(plugins, key=len, reverse=True):
        prefix = logical_id(plugin)
        if f"{prefix}DeadLettersAlarm" in alarm_name:
            return (
                f"shotgun-events dlq {plugin} --stack {stack} --show; fix and deploy the plugin; "
                f"shotgun-events redrive {plugin} --stack {stack}"
            )
        if f"{prefix}OldestMessageAlarm" in alarm_name:
            return (
                f"plugin {plugin} is slow, hanging, throttled or paused: status; "
                f"shotgun-events resume {plugin} --stack {stack} if it was paused"
            )
    return "see README: Operating"
