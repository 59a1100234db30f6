"""`Deployment` on a stack deployed from `template.yaml`, its resources found from the stack's outputs.

Opening one checks the credentials first (STS `GetCallerIdentity`, which is also the audit trail's
"who") and then reads the stack, so a wrong name or bad credentials fail before anything changes.
Counts come from SQS and Lambda as they are; ages, failures and the poller's last run from
CloudWatch metrics (none of it receives a message, so `status --watch` disturbs nothing).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import boto3

from shotgun_events.config import site_url
from shotgun_events.events import EventMessage
from shotgun_events.fpt import SecretReader
from shotgun_events.poller.state_store import DynamoDBStateStore, StateStore, state_key
from shotgun_events_tools.cli import CommandError
from shotgun_events_tools.operate.deployment import LoggedError, ParkedEvent, PluginStatus, PollerStatus
from shotgun_events_tools.operate.queues import Outgoing, send_in_order, string_attributes
from shotgun_events_tools.operate.redrive import (
    MoveResult,
    Progress,
    depth,
    move_by_copy,
    move_tasks_offered,
    move_with_task,
    queue_arn,
)
from shotgun_events_tools.operate.site import Site
from shotgun_events_tools.stack.generate import logical_id
from shotgun_events_tools.stack.outputs import PluginOutputs, StackNotFound, StackOutputs, read_stack

PAUSED_STATES = {"Disabled", "Disabling"}
LIST_VISIBILITY_SECONDS = 30  # while `dlq --show` reads the DLQ; made visible again right after
LOG_SEARCH_DAYS = 14  # SQS keeps a parked event 14 days: its error is no older
FAILURES_WINDOW = timedelta(hours=1)


class StackDeployment:
    """One deployed stack (see the module docstring)."""

    def __init__(self, stack_name: str, session: boto3.Session, endpoint_url: str | None = None):
        self._session = session
        self._endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}
        self._sites: dict[str | None, Site] = {}
        self.identity = self.client("sts").get_caller_identity()
        self.outputs: StackOutputs = read_stack(self.client("cloudformation"), stack_name)
        self.label = f"stack {stack_name}"

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service, endpoint_url=self._endpoint_url)  # type: ignore[call-overload]
        return self._clients[service]

    # -- who, what -----------------------------------------------------------------------------------

    def who(self) -> str:
        return str(self.identity.get("Arn", "unknown"))

    def plugins(self) -> list[str]:
        return sorted(self.outputs.plugins)

    def require_plugin(self, name: str) -> None:
        self._plugin(name)

    def _plugin(self, name: str) -> PluginOutputs:
        try:
            return self.outputs.plugin(name)
        except StackNotFound as exc:
            raise CommandError(str(exc)) from None

    @cached_property
    def _poller_environment(self) -> dict[str, str]:
        configuration = self.client("lambda").get_function_configuration(
            FunctionName=self.outputs.poller_function
        )
        variables = configuration.get("Environment", {}).get("Variables", {})
        return {k: str(v) for k, v in variables.items()}

    def site_url(self) -> str:
        return site_url({"SHOTGUN_URL": self._poller_environment.get("SHOTGUN_URL", "")})

    def site(self, credentials_file: str | Path | None = None) -> Site:
        key = str(credentials_file) if credentials_file is not None else None
        if key not in self._sites:
            if credentials_file is not None:
                from shotgun_events_tools.commands.run import read_credentials

                credentials = read_credentials(str(credentials_file))
            else:
                secret_id = self._poller_environment.get("SHOTGUN_SECRET_ID", "")
                if not secret_id:
                    raise CommandError(
                        f"the poller function {self.outputs.poller_function} names no SHOTGUN_SECRET_ID: "
                        "pass --credentials FILE"
                    )
                credentials = SecretReader(self.client("secretsmanager")).script_credentials(secret_id)
            self._sites[key] = Site(self.site_url(), credentials)
        return self._sites[key]

    # -- the poller --------------------------------------------------------------------------------

    def _state_store(self) -> DynamoDBStateStore:
        return DynamoDBStateStore(self.outputs.state_table, self.site_url(), self.client("dynamodb"))

    def state_store(self) -> AbstractContextManager[StateStore]:
        return nullcontext(self._state_store())

    def check_changeable(self) -> None:
        return None  # nothing holds a stack: a change that cannot be made fails as it is made

    def poller_status(self) -> PollerStatus:
        site = self.site_url()
        loaded = self._state_store().load()
        if loaded is None:
            status = PollerStatus(site, None)
        else:
            backlog = loaded.state.backlog
            oldest = min(backlog) if backlog else None
            item = self.client("dynamodb").get_item(
                TableName=self.outputs.state_table,
                Key={"pk": {"S": state_key(site)}},
                ProjectionExpression="updated_at",
                ConsistentRead=True,
            )
            status = PollerStatus(
                site,
                loaded.state.cursor,
                len(backlog),
                oldest,
                backlog[oldest] if oldest is not None else None,
                item.get("Item", {}).get("updated_at", {}).get("S"),
            )
        last_run, failed = self._last_poller_run()
        return PollerStatus(**{**status.__dict__, "last_run": last_run, "last_run_failed": failed})

    def _last_poller_run(self) -> tuple[float | None, bool | None]:
        """The newest minute the poller ran in (AWS/Lambda Invocations) and whether it failed then."""
        dimension = [{"Name": "FunctionName", "Value": self.outputs.poller_function}]
        results = self._metrics(
            {
                "runs": ("AWS/Lambda", "Invocations", dimension, "Sum", 60),
                "errors": ("AWS/Lambda", "Errors", dimension, "Sum", 60),
            },
            timedelta(minutes=30),
        )
        runs = {t: v for t, v in results.get("runs", []) if v > 0}
        if not runs:
            return None, None
        newest = max(runs)
        errors = dict(results.get("errors", []))
        return newest, errors.get(newest, 0) > 0

    def _metrics(
        self, queries: Mapping[str, tuple[str, str, list[dict[str, str]], str, int]], window: timedelta
    ) -> dict[str, list[tuple[float, float]]]:
        """(timestamp, value) series per query id, newest first; one GetMetricData call per 500."""
        if not queries:
            return {}
        now = datetime.now(UTC)
        metric_queries = [
            {
                "Id": query_id,
                "MetricStat": {
                    "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": dimensions},
                    "Period": period,
                    "Stat": stat,
                },
            }
            for query_id, (namespace, metric, dimensions, stat, period) in queries.items()
        ]
        series: dict[str, list[tuple[float, float]]] = {}
        for start in range(0, len(metric_queries), 500):
            pages = (
                self.client("cloudwatch")
                .get_paginator("get_metric_data")
                .paginate(
                    MetricDataQueries=metric_queries[start : start + 500],
                    StartTime=now - window,
                    EndTime=now + timedelta(minutes=1),
                    ScanBy="TimestampDescending",
                )
            )
            for page in pages:
                for result in page["MetricDataResults"]:
                    points = zip(result.get("Timestamps", []), result.get("Values", []), strict=False)
                    series.setdefault(result["Id"], []).extend((t.timestamp(), v) for t, v in points)
        return series

    # -- plugins ------------------------------------------------------------------------------------

    def plugin_statuses(self) -> list[PluginStatus]:
        plugins = [self.outputs.plugins[name] for name in self.plugins()]
        service = [{"Name": "service", "Value": self.outputs.stack_name}]
        queries: dict[str, tuple[str, str, list[dict[str, str]], str, int]] = {}
        for index, plugin in enumerate(plugins):
            dlq_name = plugin.dead_letter_queue_url.rsplit("/", 1)[-1]
            queries[f"age{index}"] = (
                "AWS/SQS",
                "ApproximateAgeOfOldestMessage",
                [{"Name": "QueueName", "Value": dlq_name}],
                "Maximum",
                300,
            )
            queries[f"failed{index}"] = (
                "ShotgunEvents",
                "RecordFailures",
                [*service, {"Name": "plugin", "Value": plugin.name}],
                "Sum",
                3600,
            )
        metrics = self._metrics(queries, FAILURES_WINDOW)
        statuses = []
        for index, plugin in enumerate(plugins):
            queued, in_flight = depth(self.client("sqs"), plugin.queue_url)
            parked_visible, parked_hidden = depth(self.client("sqs"), plugin.dead_letter_queue_url)
            parked = parked_visible + parked_hidden
            state = self._mapping(plugin)["State"]
            ages = metrics.get(f"age{index}", [])
            failures = metrics.get(f"failed{index}", [])
            statuses.append(
                PluginStatus(
                    name=plugin.name,
                    queued=queued,
                    in_flight=in_flight,
                    parked=parked,
                    paused=state in PAUSED_STATES,
                    state=state,
                    oldest_parked_age=ages[0][1] if ages and parked else None,
                    recent_failures=int(sum(v for _, v in failures)),
                )
            )
        return statuses

    def _mapping(self, plugin: PluginOutputs) -> dict[str, Any]:
        """The event source mapping feeding the plugin's function from its queue."""
        arn = queue_arn(self.client("sqs"), plugin.queue_url)
        pages = (
            self.client("lambda")
            .get_paginator("list_event_source_mappings")
            .paginate(FunctionName=plugin.function_name)
        )
        for page in pages:
            for mapping in page["EventSourceMappings"]:
                if mapping.get("EventSourceArn") == arn:
                    return dict(mapping)
        raise CommandError(
            f"plugin {plugin.name}: its function {plugin.function_name} has no event source mapping "
            "from its queue (was it removed by hand?)"
        )

    def set_paused(self, name: str, paused: bool) -> bool:
        mapping = self._mapping(self._plugin(name))
        if (mapping["State"] in PAUSED_STATES) == paused:
            return False
        self.client("lambda").update_event_source_mapping(UUID=mapping["UUID"], Enabled=not paused)
        return True

    def firing_alarms(self) -> list[str]:
        topic = self.outputs.alarm_topic_arn
        firing = []
        for page in self.client("cloudwatch").get_paginator("describe_alarms").paginate(StateValue="ALARM"):
            for alarm in page.get("MetricAlarms", []):
                if topic in alarm.get("AlarmActions", []):
                    firing.append(str(alarm["AlarmName"]))
        return sorted(firing)

    # -- parked events -----------------------------------------------------------------------------

    def parked(self, name: str, limit: int) -> tuple[list[ParkedEvent], int]:
        plugin = self._plugin(name)
        sqs = self.client("sqs")
        visible, hidden = depth(sqs, plugin.dead_letter_queue_url)
        listed: list[ParkedEvent] = []
        handles: list[str] = []
        try:
            while len(listed) < limit:
                messages = sqs.receive_message(
                    QueueUrl=plugin.dead_letter_queue_url,
                    MaxNumberOfMessages=min(10, limit - len(listed)),
                    VisibilityTimeout=LIST_VISIBILITY_SECONDS,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
                if not messages:
                    break
                for message in messages:
                    handles.append(message["ReceiptHandle"])
                    listed.append(_parked(message))
        finally:
            for start in range(0, len(handles), 10):
                sqs.change_message_visibility_batch(
                    QueueUrl=plugin.dead_letter_queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                        for i, h in enumerate(handles[start : start + 10])
                    ],
                )
        return sorted(listed, key=lambda p: (p.event_id or 0, p.message_id)), visible + hidden

    def _log_group(self, plugin: PluginOutputs) -> str:
        """The function's log group: as Lambda says, else the stack's `<Prefix>LogGroup`, else Lambda's
        default name."""
        configuration = self.client("lambda").get_function_configuration(FunctionName=plugin.function_name)
        group = (configuration.get("LoggingConfig") or {}).get("LogGroup")
        if group:
            return str(group)
        wanted = f"{logical_id(plugin.name)}LogGroup"
        # ListStackResources, not DescribeStackResources (which stops at 100 resources).
        pages = (
            self.client("cloudformation")
            .get_paginator("list_stack_resources")
            .paginate(StackName=self.outputs.stack_name)
        )
        for page in pages:
            for resource in page["StackResourceSummaries"]:
                if resource.get("LogicalResourceId") == wanted and resource.get("PhysicalResourceId"):
                    return str(resource["PhysicalResourceId"])
        return f"/aws/lambda/{plugin.function_name}"

    def last_error(self, name: str, event_id: int) -> LoggedError | None:
        plugin = self._plugin(name)
        group = self._log_group(plugin)
        start = int((time.time() - LOG_SEARCH_DAYS * 86400) * 1000)
        newest: LoggedError | None = None
        pages = (
            self.client("logs")
            .get_paginator("filter_log_events")
            .paginate(
                logGroupName=group,
                startTime=start,
                filterPattern=f'{{ $.event_id = {event_id} && $.level = "ERROR" }}',
                PaginationConfig={"MaxItems": 10_000},
            )
        )
        try:
            for page in pages:
                for line in page.get("events", []):
                    found = _error_line(line, event_id)
                    if found is not None and (newest is None or found.time >= newest.time):
                        newest = found
        except self.client("logs").exceptions.ResourceNotFoundException:
            return None
        return newest

    def plugin_environment(self, name: str) -> Mapping[str, str] | None:
        if name not in self.outputs.plugins:
            return None
        plugin = self.outputs.plugins[name]
        configuration = self.client("lambda").get_function_configuration(FunctionName=plugin.function_name)
        variables = configuration.get("Environment", {}).get("Variables", {})
        secret_id = variables.get("PLUGIN_SECRET_ID")
        if not secret_id:
            return {}
        values = SecretReader(self.client("secretsmanager")).read_json(str(secret_id))
        return {k: str(v) for k, v in values.items()}

    # -- moving events -----------------------------------------------------------------------------

    def redrive(self, name: str, progress: Progress, method: str = "auto") -> MoveResult:
        plugin = self._plugin(name)
        sqs = self.client("sqs")
        if method in {"auto", "move-task"}:
            source = queue_arn(sqs, plugin.dead_letter_queue_url)
            if move_tasks_offered(sqs, source):
                return move_with_task(sqs, source, queue_arn(sqs, plugin.queue_url), progress)
            if method == "move-task":
                raise CommandError("this SQS endpoint offers no message move tasks: use --method copy")
        return move_by_copy(sqs, plugin.dead_letter_queue_url, plugin.queue_url, progress)

    def deliver(
        self, name: str, messages: Sequence[EventMessage], dedup_prefix: str, progress: Progress
    ) -> int:
        plugin = self._plugin(name)
        sent = 0

        def on_sent(batch: list[Outgoing]) -> None:
            nonlocal sent
            sent += len(batch)
            progress(sent, len(messages))

        outgoing = [
            Outgoing(
                body=m.body,
                group_id=m.group_id,
                dedup_id=f"{dedup_prefix}{m.event_id}",
                attributes=string_attributes(m.attributes),
                tag=m.event_id,
            )
            for m in messages
        ]
        send_in_order(self.client("sqs"), plugin.queue_url, outgoing, on_sent)
        return sent


def _parked(message: Mapping[str, Any]) -> ParkedEvent:
    attributes = message.get("Attributes", {})
    strings = {
        name: str(value.get("StringValue"))
        for name, value in message.get("MessageAttributes", {}).items()
        if value.get("StringValue") is not None
    }
    first = attributes.get("ApproximateFirstReceiveTimestamp")
    count = attributes.get("ApproximateReceiveCount")
    return ParkedEvent.of(
        message["MessageId"],
        message["Body"],
        strings,
        first_delivery=int(first) / 1000 if first else None,
        receive_count=int(count) if count else None,
    )


def _error_line(line: Mapping[str, Any], event_id: int) -> LoggedError | None:
    """A JSON log line at ERROR about `event_id` (the filter pattern is not trusted to do it alone)."""
    try:
        record = json.loads(line.get("message", ""))
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get("level") != "ERROR" or record.get("event_id") != event_id:
        return None
    details = {k: record[k] for k in ("callback", "exception_name", "exception", "message_id") if k in record}
    return LoggedError(float(line.get("timestamp", 0)) / 1000, str(record.get("message", "")), details)
