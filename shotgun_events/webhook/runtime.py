"""What the webhook Lambda keeps across invocations: the secret reader and the doorbell.

The token is read from Secrets Manager (`WEBHOOK_SECRET_ID`, a JSON `{"token": "..."}`) through
the cached reader, so a rotated token is picked up within the cache's five minutes. Without a
usable token or queue the function refuses every request: 500, one error line naming what is
missing, one `WebhookSetupFailures` data point. It tries again on the next request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from shotgun_events.config import ConfigError, WebhookConfig
from shotgun_events.doorbell import Ringer, SqsDoorbell
from shotgun_events.fpt import SecretReader
from shotgun_events.observability import count, logger
from shotgun_events.webhook.ingress import Ingress, WebhookRequest, WebhookResponse

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient

# FPT gives up on a delivery after 6 s: a ring that cannot be sent by then is not worth waiting for.
RING_CLIENT_CONFIG = Config(
    connect_timeout=1, read_timeout=2, retries={"max_attempts": 2, "mode": "standard"}
)


def read_token(secrets: SecretReader, secret_id: str) -> str:
    """The webhook's secret token from a `{"token": "..."}` secret; never empty."""
    token = secrets.read_json(secret_id).get("token")
    if not isinstance(token, str) or not token.strip():
        raise ConfigError(f"secret {secret_id!r} has no token string")
    return token


class WebhookFunction:
    """The webhook Lambda's state. Clients may be passed in (moto, fakes); otherwise boto3 builds them
    on first use, not at import."""

    def __init__(
        self,
        *,
        secrets_client: SecretsManagerClient | None = None,
        sqs_client: SQSClient | None = None,
        environ: Mapping[str, str] | None = None,
    ):
        self._secrets_client = secrets_client
        self._sqs_client = sqs_client
        self._environ = environ
        self._secrets: SecretReader | None = None
        self._doorbells: dict[str, Ringer] = {}

    def __call__(self, request: WebhookRequest) -> WebhookResponse:
        try:
            config = WebhookConfig.from_env(os.environ if self._environ is None else self._environ)
            if self._secrets is None:
                self._secrets = SecretReader(self._secrets_client)
            token = read_token(self._secrets, config.secret_id)
        except ConfigError as exc:
            logger.error(
                f"webhook cannot start: {exc}; every request is refused until it is fixed",
                extra={"error_type": type(exc).__name__},
            )
            count("WebhookSetupFailures")
            return WebhookResponse(500, {"error": "webhook is not configured"})
        return Ingress(token, self._ringer(config.doorbell_queue_url)).handle(request)

    def _ringer(self, queue_url: str) -> Ringer:
        if queue_url not in self._doorbells:
            client = self._sqs_client or boto3.client("sqs", config=RING_CLIENT_CONFIG)
            self._doorbells[queue_url] = SqsDoorbell(queue_url, client)
        return self._doorbells[queue_url]
