"""Poller Lambda: read config, build adapters, call the core. Scheduled by EventBridge Scheduler."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from shotgun_events.config import PollerConfig
from shotgun_events.doorbell import SqsDoorbell
from shotgun_events.event_log import FptEventLog
from shotgun_events.fpt import FptConnections, FptError, RetryPolicy, SecretReader
from shotgun_events.observability import count_fpt_error, log_invocation, logger, metrics, traced
from shotgun_events.poller import PollerDeps, poll
from shotgun_events.poller.publisher import SnsPublisher
from shotgun_events.poller.state_store import DynamoDBStateStore


@cache
def _adapters(fpt_timeout: float) -> tuple[SecretReader, FptConnections, Any, Any]:
    """Clients kept across invocations of a warm container (built on first use, not at import)."""
    return (
        SecretReader(boto3.client("secretsmanager")),
        FptConnections(fpt_timeout),
        boto3.client("dynamodb"),
        boto3.client("sns"),
    )


@cache
def _doorbell(queue_url: str) -> SqsDoorbell:
    # The default 60 s read timeout outlasts SQS's 20 s long poll.
    return SqsDoorbell(queue_url, boto3.client("sqs"))


@log_invocation
@metrics.log_metrics(capture_cold_start_metric=True)
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    def time_left() -> float:
        return context.get_remaining_time_in_millis() / 1000

    config: PollerConfig | None = None
    try:
        config = PollerConfig.from_env()
        secrets, connections, dynamodb, sns = _adapters(config.fpt_timeout)
        sg = connections.get(config.shotgun_url, secrets.script_credentials(config.secret_id))
        margin = config.safety_margin
        retry = RetryPolicy(attempt_timeout=config.fpt_timeout, on_error=count_fpt_error)
        deps = PollerDeps(
            event_log=FptEventLog(sg, retry, lambda: time_left() - margin),
            store=DynamoDBStateStore(config.state_table, config.shotgun_url, dynamodb),
            publisher=SnsPublisher(config.topic_arn, sns),
            doorbell=_doorbell(config.doorbell_queue_url) if config.doorbell_queue_url else None,
        )
        summary = poll(deps, config, time_left)
    except Exception as exc:
        # One clear line naming what is wrong; the cursor stays where the last commit left it.
        logger.error(f"poller stopped: {exc}", extra={"error_type": type(exc).__name__})
        if isinstance(exc, FptError) and exc.kind == "auth" and config is not None:
            _adapters(config.fpt_timeout)[0].forget()  # a rotated key is read afresh next time
        raise
    return {
        "passes": summary.passes,
        "published": summary.published,
        "given_up": summary.given_up,
        "cursor": summary.cursor,
        "stopped_by": summary.stopped_by,
    }
