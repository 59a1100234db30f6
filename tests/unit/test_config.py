"""Config from the environment: defaults, and errors that name the variable."""

from __future__ import annotations

import pytest

from shotgun_events.config import ConfigError, DispatchConfig, PollerConfig, WebhookConfig

POLLER_ENV = {
    "SHOTGUN_URL": "https://studio.shotgrid.autodesk.com/",
    "SHOTGUN_SECRET_ID": "fpt/poller",
    "STATE_TABLE": "state",
    "EVENTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:events.fifo",
}


def test_poller_defaults() -> None:
    config = PollerConfig.from_env(POLLER_ENV)
    assert config.shotgun_url == "https://studio.shotgrid.autodesk.com"
    assert (config.poll_interval, config.backlog_timeout, config.page_size) == (2.0, 300.0, 500)
    assert config.max_backlog == 10_000


def test_site_url_spelling_is_normalised() -> None:
    config = PollerConfig.from_env({**POLLER_ENV, "SHOTGUN_URL": "HTTPS://Studio.ShotGrid.Autodesk.com/"})
    assert config.shotgun_url == "https://studio.shotgrid.autodesk.com"


def test_poll_interval_may_be_fractional() -> None:
    assert PollerConfig.from_env({**POLLER_ENV, "POLL_INTERVAL_SECONDS": "0.25"}).poll_interval == 0.25


@pytest.mark.parametrize("missing", sorted(POLLER_ENV))
def test_missing_variable_is_named(missing: str) -> None:
    env = {k: v for k, v in POLLER_ENV.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        PollerConfig.from_env(env)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("POLL_INTERVAL_SECONDS", "soon"),
        ("PAGE_SIZE", "0"),
        ("PAGE_SIZE", "501"),
        ("BACKLOG_TIMEOUT_SECONDS", "-1"),
        ("SHOTGUN_URL", "studio.example.com"),
        ("SAFETY_MARGIN_SECONDS", "nan"),
        ("POLL_INTERVAL_SECONDS", "inf"),
        ("BACKLOG_TIMEOUT_SECONDS", "1e400"),
        ("SHOTGUN_TIMEOUT_SECONDS", "inf"),
        ("MAX_BACKLOG", "20001"),
    ],
)
def test_malformed_variable_is_named(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        PollerConfig.from_env({**POLLER_ENV, name: value})


def test_dispatch_config() -> None:
    env = {
        "PLUGIN_NAME": "logArgs",
        "SHOTGUN_URL": "https://studio.example.com",
        "IDEMPOTENCY_TABLE": "idem",
        "PLUGIN_PATHS": "plugins:/opt/more",
        "USE_SESSION_UUID": "true",
    }
    config = DispatchConfig.from_env(env)
    assert config.plugin_paths == ("plugins", "/opt/more")
    assert config.use_session_uuid is True
    assert config.plugin_secret_id is None
    with pytest.raises(ConfigError, match="USE_SESSION_UUID"):
        DispatchConfig.from_env({**env, "USE_SESSION_UUID": "maybe"})


def test_backlog_timeout_is_capped_so_the_state_item_always_fits() -> None:
    with pytest.raises(ConfigError, match="BACKLOG_TIMEOUT_SECONDS"):
        PollerConfig.from_env({**POLLER_ENV, "BACKLOG_TIMEOUT_SECONDS": "3601"})


def test_doorbell_is_optional_for_the_poller() -> None:
    assert PollerConfig.from_env(POLLER_ENV).doorbell_queue_url is None
    assert PollerConfig.from_env({**POLLER_ENV, "DOORBELL_QUEUE_URL": " "}).doorbell_queue_url is None
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/doorbell"
    assert PollerConfig.from_env({**POLLER_ENV, "DOORBELL_QUEUE_URL": url}).doorbell_queue_url == url


@pytest.mark.parametrize("missing", ["WEBHOOK_SECRET_ID", "DOORBELL_QUEUE_URL"])
def test_webhook_config_names_what_is_missing(missing: str) -> None:
    env = {"WEBHOOK_SECRET_ID": "fpt/webhook", "DOORBELL_QUEUE_URL": "https://sqs/doorbell"}
    assert WebhookConfig.from_env(env) == WebhookConfig("fpt/webhook", "https://sqs/doorbell")
    with pytest.raises(ConfigError, match=missing):
        WebhookConfig.from_env({k: v for k, v in env.items() if k != missing})
