"""Connections to Flow Production Tracking through the real `shotgun_api3` client.

Script keys come from Secrets Manager (Powertools parameters, cached); every client gets a
timeout (the client has none by default, DESIGN §6); transient failures (5xx, timeouts, dropped
or refused connections) are retried with backoff, because the client itself gives up on them.
"""

from __future__ import annotations

import http.client
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import shotgun_api3
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError

from shotgun_events.config import ConfigError
from shotgun_events.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

T = TypeVar("T")
SECRET_MAX_AGE_SECONDS = 300


class FptError(RuntimeError):
    """FPT could not be used; `kind` says why (auth, http_5xx, timeout, disconnected, unreachable, fault)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class ScriptCredentials:
    script_name: str
    api_key: str = field(repr=False)  # never in logs or reprs


class SecretReader:
    """Reads JSON secrets from Secrets Manager through Powertools, cached for a few minutes."""

    def __init__(self, client: SecretsManagerClient | None = None, max_age: int = SECRET_MAX_AGE_SECONDS):
        self._provider = SecretsProvider(boto3_client=client)
        self._max_age = max_age

    def read_json(self, secret_id: str) -> dict[str, Any]:
        try:
            value = self._provider.get(secret_id, transform="json", max_age=self._max_age)
        except TransformParameterError:
            raise ConfigError(f"secret {secret_id!r} is not a JSON object") from None
        except GetParameterError as exc:
            raise ConfigError(f"secret {secret_id!r} could not be read: {_without_value(exc)}") from None
        if not isinstance(value, dict):
            raise ConfigError(f"secret {secret_id!r} is not a JSON object")
        return value

    def forget(self) -> None:
        """Drop cached values: after an authentication failure the key may have been rotated."""
        self._provider.clear_cache()

    def script_credentials(self, secret_id: str) -> ScriptCredentials:
        """A `{"script_name", "api_key"}` secret (DESIGN §4) as credentials."""
        value = self.read_json(secret_id)
        missing = [k for k in ("script_name", "api_key") if not isinstance(value.get(k), str) or not value[k]]
        if missing:
            raise ConfigError(f"secret {secret_id!r} has no {' or '.join(missing)} string")
        return ScriptCredentials(script_name=value["script_name"], api_key=value["api_key"])


def _without_value(exc: Exception) -> str:
    # Powertools' message is the AWS error text; it never contains the secret value itself.
    return str(exc).splitlines()[0][:300]


def connect(url: str, credentials: ScriptCredentials, timeout_secs: float) -> shotgun_api3.Shotgun:
    """A client for one script user, with a timeout; it does not touch the network until used."""
    sg = shotgun_api3.Shotgun(
        url, script_name=credentials.script_name, api_key=credentials.api_key, connect=False
    )
    sg.config.timeout_secs = timeout_secs
    return sg


class FptConnections:
    """One client per (site, script user), kept across invocations of a warm Lambda."""

    def __init__(self, timeout_secs: float, factory: Callable[..., shotgun_api3.Shotgun] = connect):
        self._timeout = timeout_secs
        self._factory = factory
        self._clients: dict[tuple[str, str, str], shotgun_api3.Shotgun] = {}

    def get(self, url: str, credentials: ScriptCredentials) -> shotgun_api3.Shotgun:
        key = (url, credentials.script_name, credentials.api_key)
        if key not in self._clients:
            self._clients[key] = self._factory(url, credentials, self._timeout)
        return self._clients[key]


def classify(exc: BaseException) -> tuple[str, bool]:
    """(kind, transient) for an exception raised by the client."""
    if isinstance(exc, shotgun_api3.AuthenticationFault):
        return "auth", False
    if isinstance(exc, shotgun_api3.ProtocolError):
        if exc.errcode == 429:
            return "throttled", True
        return ("http_5xx", True) if exc.errcode >= 500 else ("http_4xx", False)
    if isinstance(exc, TimeoutError):
        return "timeout", True
    if isinstance(exc, http.client.RemoteDisconnected | ConnectionResetError | BrokenPipeError):
        return "disconnected", True
    if isinstance(exc, OSError | http.client.HTTPException) or type(exc).__name__ == "ServerNotFoundError":
        return "unreachable", True  # ServerNotFoundError: httplib2's DNS failure, bundled in shotgun_api3
    if isinstance(exc, ValueError):
        return "bad_response", True  # not JSON: a proxy's error page, a truncated answer
    return "fault", False


@dataclass
class RetryPolicy:
    """Exponential backoff with jitter, bounded by attempts and by the time the caller has left.

    `attempt_timeout` is how long one attempt may take (the client's timeout): no attempt starts
    that could not finish within `time_left()`, so a hanging site ends in a clear `FptError`
    rather than the Lambda being killed mid-call.
    """

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0
    attempt_timeout: float = 0.0
    sleep: Callable[[float], None] = time.sleep
    on_error: Callable[[str], None] = lambda kind: None

    def call(self, operation: str, fn: Callable[[], T], time_left: Callable[[], float] | None = None) -> T:
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except Exception as exc:
                kind, transient = classify(exc)
                self.on_error(kind)
                delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
                out_of_time = time_left is not None and time_left() < delay + self.attempt_timeout
                if not transient or attempt == self.attempts or out_of_time:
                    raise FptError(kind, f"FPT {operation} failed ({kind}): {_describe(exc)}") from exc
                logger.warning(
                    "FPT call failed, retrying",
                    extra={"operation": operation, "kind": kind, "attempt": attempt, "retry_in": delay},
                )
                self.sleep(delay)
        raise AssertionError("unreachable")


def _describe(exc: BaseException) -> str:
    text = str(exc).replace("\n", " ")[:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
