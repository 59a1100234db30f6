"""What the operator commands need of a deployment, and what they get back.

A deployment is a stack deployed from `template.yaml` (`StackDeployment`) or, later, the local
runtime's store; each command is written once against this protocol.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from shotgun_events.events import REPLAY_ATTRIBUTE, EventMessage, decode_body, entity_type, event_id_of
from shotgun_events.poller.state_store import StateStore
from shotgun_events_tools.operate.redrive import MoveResult, Progress
from shotgun_events_tools.operate.site import Site


@dataclass(frozen=True)
class PollerStatus:
    site: str
    cursor: int | None  # None: no state yet (the poller's first run starts after the newest event)
    backlog: int = 0
    oldest_gap: int | None = None  # the lowest id waited for
    oldest_gap_deadline: float | None = None  # when it is given up (epoch s)
    state_updated_at: str | None = None  # the state's last commit
    last_run: float | None = None  # when the poller last ran (epoch s), if known
    last_run_failed: bool | None = None
    runs_recorded: bool = True  # False where nothing records the poller's runs (the local store)


@dataclass(frozen=True)
class PluginStatus:
    name: str
    queued: int
    in_flight: int
    parked: int
    paused: bool
    state: str  # as the service says it: Enabled, Disabled, Enabling, Disabling, ...
    oldest_parked_age: float | None = None  # seconds, if known
    recent_failures: int | None = None  # records failed in the last hour, if known
    # What the local store knows instead: events waiting for a retry after a failed attempt, the
    # most attempts one of them has had, and events parked in the last hour.
    retrying: int | None = None
    retry_attempts: int | None = None
    parked_last_hour: int | None = None
    load_error: str | None = None  # why the plugin's file does not load (it is disabled), if checked


@dataclass(frozen=True)
class ParkedEvent:
    """One message in a plugin's DLQ."""

    message_id: str
    body: str
    event_id: int | None
    event_type: str | None
    entity: str | None  # "Shot:1234"
    first_delivery: float | None  # the first delivery attempt (epoch s)
    receive_count: int | None
    replay: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        message_id: str,
        body: str,
        attributes: Mapping[str, str],
        first_delivery: float | None,
        receive_count: int | None,
    ) -> ParkedEvent:
        """What the message's body (or, for a reference, its attributes) says about the event."""
        event_id = event_type = entity = None
        try:
            event = decode_body(body)
            event_id = event_id_of(event)
            event_type = event.get("event_type") or attributes.get("event_type")
            link = event.get("entity")
            if isinstance(link, dict) and link.get("type"):
                entity = f"{link['type']}:{link.get('id')}"
            else:
                entity = entity_type(event) or attributes.get("entity_type")
        except ValueError:
            pass  # a malformed message is listed by its message id
        return cls(
            message_id,
            body,
            event_id,
            event_type,
            entity,
            first_delivery,
            receive_count,
            attributes.get(REPLAY_ATTRIBUTE),
            dict(attributes),
        )


@dataclass(frozen=True)
class LoggedError:
    time: float
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)


class Deployment(Protocol):
    label: str  # "stack studio", for messages and the audit trail

    def who(self) -> str:
        """Who is acting (the AWS caller identity, or the local user): for the audit trail."""
        ...

    def plugins(self) -> list[str]: ...

    def require_plugin(self, name: str) -> None:
        """Raise a one-line error unless the deployment runs plugin `name`."""
        ...

    def site(self, credentials_file: str | Path | None = None) -> Site:
        """The FPT site, as the poller's script user (or the one in `credentials_file`)."""
        ...

    def site_url(self) -> str: ...

    def state_store(self) -> AbstractContextManager[StateStore]:
        """The poller's state, for as long as the `with` block (the local store is locked meanwhile)."""
        ...

    def check_changeable(self) -> None:
        """Raise a one-line error when no change can be made now (the local store held by a `run`),
        so a command says so before it reads FPT or prints what it is about to do."""
        ...

    def poller_status(self) -> PollerStatus: ...

    def plugin_statuses(self) -> list[PluginStatus]: ...

    def firing_alarms(self) -> list[str]:
        """Names of the deployment's alarms that are in ALARM now."""
        ...

    def set_paused(self, name: str, paused: bool) -> bool:
        """Pause (or resume) a plugin's deliveries; False when it already was."""
        ...

    def parked(self, name: str, limit: int) -> tuple[list[ParkedEvent], int]:
        """Up to `limit` parked events of the plugin, and how many its DLQ holds."""
        ...

    def last_error(self, name: str, event_id: int) -> LoggedError | None:
        """The plugin's last error line about the event, if its logs have one."""
        ...

    def plugin_environment(self, name: str) -> Mapping[str, str] | None:
        """The variables the plugin's function gets besides its own (its secret); None if unknown."""
        ...

    def redrive(self, name: str, progress: Progress, method: str = "auto") -> MoveResult: ...

    def deliver(
        self, name: str, messages: Sequence[EventMessage], dedup_prefix: str, progress: Progress
    ) -> int:
        """Send messages to one plugin's queue only; the number sent."""
        ...
