"""Dispatch: one plugin's callbacks run on the events of its SQS FIFO queue (DESIGN §2, §5)."""

from shotgun_events.dispatch.core import (
    CallbackError,
    CallbackSetupError,
    Connections,
    EventFailed,
    EventNotFound,
    EventOutcome,
    PluginDispatcher,
)
from shotgun_events.dispatch.ledger import (
    IDEMPOTENCY_TTL_SECONDS,
    EffectLedger,
    InMemoryPersistenceLayer,
    dynamodb_persistence,
)
from shotgun_events.dispatch.runtime import (
    DispatchFunction,
    DispatchSetupError,
    build_dispatcher,
    export_secret_env,
    fail_all,
)

__all__ = [
    "IDEMPOTENCY_TTL_SECONDS",
    "CallbackError",
    "CallbackSetupError",
    "Connections",
    "DispatchFunction",
    "DispatchSetupError",
    "EffectLedger",
    "EventFailed",
    "EventNotFound",
    "EventOutcome",
    "InMemoryPersistenceLayer",
    "PluginDispatcher",
    "build_dispatcher",
    "dynamodb_persistence",
    "export_secret_env",
    "fail_all",
]
