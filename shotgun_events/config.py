"""Typed configuration read from the environment, validated per invocation.

Every error names the variable that is wrong, so a bad deployment is diagnosed from one log line.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlparse

T = TypeVar("T")

# The backlog lives in one DynamoDB item (400 KB). Deadlines are whole seconds, so an hour's timeout
# means at most 3,601 distinct ones: with 20,000 scattered ids that is the most that surely fits.
MAX_BACKLOG_LIMIT = 20_000
MAX_BACKLOG_TIMEOUT = 3600.0


class ConfigError(ValueError):
    """A required setting is missing or malformed; the message names it."""


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is not set")
    return value


def _number(
    env: Mapping[str, str],
    name: str,
    default: T,
    parse: Callable[[str], T],
    minimum: float,
    maximum: float = math.inf,
) -> T:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name}={raw!r} is not a number") from None
    if not math.isfinite(value):  # type: ignore[arg-type]
        raise ConfigError(f"environment variable {name}={raw!r} is not a finite number")
    if not minimum <= value <= maximum:  # type: ignore[operator]
        raise ConfigError(f"environment variable {name}={raw!r} must be between {minimum} and {maximum}")
    return value


def site_url(env: Mapping[str, str]) -> str:
    """`SHOTGUN_URL`, checked to be an http(s) URL, normalised: scheme and host in lower case and no
    trailing slash, so one site always finds its one state item however the URL is spelled."""
    url = _required(env, "SHOTGUN_URL").rstrip("/")
    parsed = urlparse(url)
    if parsed.scheme.lower() not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"environment variable SHOTGUN_URL={url!r} is not an http(s) URL")
    return parsed._replace(scheme=parsed.scheme.lower(), netloc=parsed.netloc.lower()).geturl()


@dataclass(frozen=True)
class PollerConfig:
    shotgun_url: str
    secret_id: str
    state_table: str
    topic_arn: str
    poll_interval: float = 2.0
    backlog_timeout: float = 300.0
    page_size: int = 500
    max_backlog: int = 10_000
    fpt_timeout: float = 30.0
    safety_margin: float = 10.0
    doorbell_queue_url: str | None = None  # rung by the webhook: wait on it instead of sleeping

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PollerConfig:
        env = os.environ if env is None else env
        page_size = _number(env, "PAGE_SIZE", 500, int, 1)
        if page_size > 500:
            raise ConfigError(f"environment variable PAGE_SIZE={page_size} exceeds FPT's page limit of 500")
        return cls(
            shotgun_url=site_url(env),
            secret_id=_required(env, "SHOTGUN_SECRET_ID"),
            state_table=_required(env, "STATE_TABLE"),
            topic_arn=_required(env, "EVENTS_TOPIC_ARN"),
            poll_interval=_number(env, "POLL_INTERVAL_SECONDS", 2.0, float, 0),
            backlog_timeout=_number(env, "BACKLOG_TIMEOUT_SECONDS", 300.0, float, 0, MAX_BACKLOG_TIMEOUT),
            page_size=page_size,
            max_backlog=_number(env, "MAX_BACKLOG", 10_000, int, 0, MAX_BACKLOG_LIMIT),
            fpt_timeout=_number(env, "SHOTGUN_TIMEOUT_SECONDS", 30.0, float, 1),
            safety_margin=_number(env, "SAFETY_MARGIN_SECONDS", 10.0, float, 0),
            doorbell_queue_url=env.get("DOORBELL_QUEUE_URL", "").strip() or None,
        )


@dataclass(frozen=True)
class DispatchConfig:
    plugin_name: str
    plugin_paths: tuple[str, ...]
    shotgun_url: str
    idempotency_table: str
    plugin_secret_id: str | None = None
    use_session_uuid: bool = False
    fpt_timeout: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DispatchConfig:
        env = os.environ if env is None else env
        paths = tuple(p for p in env.get("PLUGIN_PATHS", "plugins").split(":") if p.strip())
        if not paths:
            raise ConfigError("environment variable PLUGIN_PATHS names no directory")
        return cls(
            plugin_name=_required(env, "PLUGIN_NAME"),
            plugin_paths=paths,
            shotgun_url=site_url(env),
            idempotency_table=_required(env, "IDEMPOTENCY_TABLE"),
            plugin_secret_id=env.get("PLUGIN_SECRET_ID", "").strip() or None,
            use_session_uuid=_flag(env, "USE_SESSION_UUID"),
            fpt_timeout=_number(env, "SHOTGUN_TIMEOUT_SECONDS", 30.0, float, 1),
        )


@dataclass(frozen=True)
class WebhookConfig:
    """The doorbell's ingress: where its token is kept and which queue it rings."""

    secret_id: str
    doorbell_queue_url: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WebhookConfig:
        env = os.environ if env is None else env
        return cls(
            secret_id=_required(env, "WEBHOOK_SECRET_ID"),
            doorbell_queue_url=_required(env, "DOORBELL_QUEUE_URL"),
        )


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"environment variable {name}={raw!r} is not a boolean (true/false)")
