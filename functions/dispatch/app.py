"""Dispatch Lambda: one deployed function per plugin (`PLUGIN_NAME`), fed by its SQS FIFO queue.

Thin: the `DispatchFunction` reads `DispatchConfig` each invocation, builds its adapters and loads
the plugin once per cold start, and answers in the `ReportBatchItemFailures` shape.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shotgun_events.dispatch import DispatchFunction
from shotgun_events.observability import log_invocation, traced

dispatch = DispatchFunction()  # builds nothing until the first invocation


@log_invocation
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(dispatch(event, context))
