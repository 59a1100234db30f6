"""Create `template.yaml`'s stack on moto (in process, or moto's server on loopback): the demo's and
the infrastructure test's AWS.

The template is translated offline (`translate`), created with moto's CloudFormation, and the
resource types moto's CloudFormation skips are then created with boto3 from the same template data:
whatever the stack lacks after creation is looked up here by type, so nothing is kept in a second
hand-written list. A skipped type with no creator is an error, never silently missing.
"""

from __future__ import annotations

import io
import json
import re
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from shotgun_events_tools.stack.outputs import StackOutputs
from shotgun_events_tools.stack.resolve import Resolver
from shotgun_events_tools.stack.translate import (
    ARTIFACT_BUCKET,
    ARTIFACT_KEY,
    load_template,
    parameter_values,
    translate,
)

ACCOUNT = "123456789012"  # moto's


@dataclass
class EmbeddedStack:
    """A stack created from the template: its translated template, resources and outputs."""

    name: str
    region: str
    template: dict[str, Any]
    parameters: dict[str, str]
    physical: dict[str, str]  # logical id -> physical id
    outputs: StackOutputs
    session: boto3.Session
    endpoint_url: str | None = None
    extra_outputs: dict[str, str] = field(default_factory=dict)  # outputs moto could not compute

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]

    @property
    def resolver(self) -> Resolver:
        pseudo = {
            "AWS::StackName": self.name,
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        return Resolver(self.template, {**self.parameters, **pseudo, **self.physical}, self.attribute)

    def attribute(self, logical_id: str, name: str) -> str:
        """`Fn::GetAtt` of a created resource, built the way AWS builds these ARNs and names."""
        resource_type = self.template["Resources"][logical_id]["Type"]
        physical = self.physical[logical_id]
        arn = f"arn:aws:{{}}:{self.region}:{ACCOUNT}:{{}}"
        attributes: dict[str, Callable[[], str]] = {
            "AWS::SQS::Queue.Arn": lambda: arn.format("sqs", physical.rsplit("/", 1)[-1]),
            "AWS::SQS::Queue.QueueName": lambda: physical.rsplit("/", 1)[-1],
            "AWS::SQS::Queue.QueueUrl": lambda: physical,
            "AWS::SNS::Topic.TopicArn": lambda: physical,
            "AWS::SNS::Topic.TopicName": lambda: physical.rsplit(":", 1)[-1],
            "AWS::Lambda::Function.Arn": lambda: arn.format("lambda", f"function:{physical}"),
            "AWS::Lambda::Url.FunctionUrl": lambda: physical,
            "AWS::DynamoDB::Table.Arn": lambda: arn.format("dynamodb", f"table/{physical}"),
            "AWS::IAM::Role.Arn": lambda: f"arn:aws:iam::{ACCOUNT}:role/{physical}",
            "AWS::KMS::Key.Arn": lambda: arn.format("kms", f"key/{physical}"),
            "AWS::Logs::LogGroup.Arn": lambda: arn.format("logs", f"log-group:{physical}:*"),
        }
        try:
            return attributes[f"{resource_type}.{name}"]()
        except KeyError:
            raise KeyError(f"Fn::GetAtt {logical_id}.{name} ({resource_type}) is not known here") from None

    def properties(self, logical_id: str) -> dict[str, Any]:
        resolved: dict[str, Any] = self.resolver.resolve(
            self.template["Resources"][logical_id].get("Properties", {})
        )
        return resolved

    def environment(self, function_logical_id: str) -> dict[str, str]:
        """The environment variables the stack gives a function (Globals merged by the translation)."""
        variables = self.properties(function_logical_id).get("Environment", {}).get("Variables", {})
        return {k: str(v) for k, v in variables.items()}

    def function_logical_id(self, function_name: str) -> str:
        for logical, physical in self.physical.items():
            if (
                physical == function_name
                and self.template["Resources"][logical]["Type"] == "AWS::Lambda::Function"
            ):
                return logical
        raise KeyError(f"no function {function_name} in stack {self.name}")


def make_moto_deletes_atomic() -> None:
    """moto's SQS DeleteMessage rebuilds a queue's message list outside the lock its sends take, so a
    message delivered (by SNS) during a delete can vanish: a loss that real SQS never has. Run
    deletes under that lock too. Idempotent; moto must run in this process."""
    from moto.sqs.models import Queue

    delete = Queue.delete_message
    if getattr(delete, "atomic", False):
        return

    def atomic_delete(self: Any, receipt_handle: str) -> None:
        with self._messages_lock:
            delete(self, receipt_handle)

    atomic_delete.atomic = True  # type: ignore[attr-defined]
    Queue.delete_message = atomic_delete  # type: ignore[method-assign]


def make_moto_server_lookups_cached() -> None:
    """moto's server finds the backend of every request by listing moto's own package folder (about
    200 entries, each checked to be a folder), under one lock for all requests. The folder does not
    change while it runs: list it once. Idempotent."""
    import functools

    from moto import backends

    if not isinstance(backends.list_of_moto_modules, functools._lru_cache_wrapper):
        listed = tuple(backends.list_of_moto_modules())
        backends.list_of_moto_modules = functools.cache(lambda: listed)


def make_moto_fifo_receives_in_order() -> None:
    """moto keeps a FIFO message group locked while any message it delivered is "pending", and unlocks
    it only as its receive loop meets each message visible again. When two messages of a group come
    back together (their visibility timeout ran out), it meets the first while the second still
    holds the lock, skips it, and delivers the second first: one entity's events out of order, which
    real SQS never does. Release every message visible again before a receive looks at the groups.
    Idempotent; moto must run in this process."""
    from moto.sqs.models import SQSBackend

    receive = SQSBackend.receive_message
    if getattr(receive, "in_order", False):
        return

    def receive_in_order(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        queue = self.get_queue(queue_name)
        for message in [m for m in queue.pending_messages if m.visible]:
            queue.pending_messages.discard(message)
        return receive(self, queue_name, *args, **kwargs)

    receive_in_order.in_order = True  # type: ignore[attr-defined]
    SQSBackend.receive_message = receive_in_order  # type: ignore[method-assign]


def make_moto_sqs_counts_cheap() -> None:
    """moto counts a queue's messages by asking every message the time, twice, and rebuilds all of a
    queue's attributes (those counts included) for each send and, several times, for each message a
    receive returns: a receive costs O(n²) clock reads, most of a busy run's CPU. Count at one instant
    in one pass, and read the retention period without the counts. The answers are the same; only
    the cost changes. Idempotent; moto must run in this process."""
    from moto.core.utils import unix_time, unix_time_millis
    from moto.sqs.models import Message, Queue, SQSBackend

    if getattr(Queue, "cheap_counts", False):
        return

    def ready(queue: Any) -> list[Message]:  # visible and not delayed, as `Queue.messages`
        now = unix_time_millis()
        return [m for m in queue._messages if now > m.visible_at and not now < m.delayed_until]

    def not_visible(queue: Any) -> int:
        now = unix_time_millis()
        return sum(1 for m in queue._messages if not now > m.visible_at)

    def delayed(queue: Any) -> int:
        now = unix_time_millis()
        return sum(1 for m in queue._messages if now < m.delayed_until)

    def within_retention(backend: Any, queue_name: str, message: Message) -> bool:
        retention = int(backend.get_queue(queue_name).message_retention_period)
        return bool(retention + message.sent_timestamp / 1000 > unix_time())  # type: ignore[operator]

    Queue.messages = property(ready)  # type: ignore[assignment,method-assign]
    Queue.approximate_number_of_messages = property(lambda queue: len(ready(queue)))  # type: ignore[assignment,method-assign]
    Queue.approximate_number_of_messages_not_visible = property(not_visible)  # type: ignore[assignment,method-assign]
    Queue.approximate_number_of_messages_delayed = property(delayed)  # type: ignore[assignment,method-assign]
    SQSBackend.is_message_valid_based_on_retention_period = within_retention  # type: ignore[assignment,method-assign]
    Queue.cheap_counts = True  # type: ignore[attr-defined]


def detach_moto_event_sources(region: str) -> None:
    """Stop moto invoking functions itself when a message reaches a queue with an event source mapping.

    moto's SQS then receives the message (raising its receive count) and tries to run the function in
    Docker. Here the mappings are driven by `shotgun_events_tools.local.event_source`, the way Lambda
    would, so moto keeps the mappings (their state, batch size) but no longer acts on them. moto must
    run in this process (`mock_aws`, or a `ThreadedMotoServer` started here).
    """
    from moto.sqs.models import sqs_backends

    for queue in sqs_backends[ACCOUNT][region].queues.values():
        queue.lambda_event_source_mappings.clear()


def moto_skips(resource_type: str) -> bool:
    """Whether moto's CloudFormation creates nothing for this type (asked of moto itself)."""
    from moto.cloudformation.parsing import NULL_MODELS, get_model_map

    return resource_type in NULL_MODELS or resource_type not in get_model_map()


def _references(value: Any) -> set[str]:
    """Logical ids a template value points at (`Ref`, `Fn::GetAtt`, `${X}` / `${X.Attr}` in `Fn::Sub`)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg.split(".")[0] if isinstance(arg, str) else arg[0])
            elif key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                found.update(re.findall(r"\$\{([A-Za-z0-9]+)", text))
            found |= _references(arg)
    elif isinstance(value, list):
        for item in value:
            found |= _references(item)
    return found


def _code_zip() -> bytes:
    # moto's Lambda wants code to exist; the functions run in process, so a placeholder will do.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "placeholder: the embedded stack runs its handlers in process\n")
    return buffer.getvalue()


def _subscription(stack: EmbeddedStack, logical_id: str, props: dict[str, Any]) -> None:
    attributes = {}
    for key in ("RawMessageDelivery", "FilterPolicy", "FilterPolicyScope", "RedrivePolicy"):
        if key in props:
            value = props[key]
            attributes[key] = json.dumps(value) if isinstance(value, dict) else str(value).lower()
            if key == "FilterPolicyScope":
                attributes[key] = str(value)
    stack.client("sns").subscribe(
        TopicArn=props["TopicArn"],
        Protocol=props["Protocol"],
        Endpoint=props["Endpoint"],
        Attributes=attributes,
    )


def _queue_policy(stack: EmbeddedStack, logical_id: str, props: dict[str, Any]) -> None:
    for queue_url in props["Queues"]:
        stack.client("sqs").set_queue_attributes(
            QueueUrl=queue_url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
        )


def _topic_policy(stack: EmbeddedStack, logical_id: str, props: dict[str, Any]) -> None:
    for topic_arn in props["Topics"]:
        stack.client("sns").set_topic_attributes(
            TopicArn=topic_arn, AttributeName="Policy", AttributeValue=json.dumps(props["PolicyDocument"])
        )


def _alarm(stack: EmbeddedStack, logical_id: str, props: dict[str, Any]) -> None:
    props = {"AlarmName": f"{stack.name}-{logical_id}", **props}
    for number in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
        if number in props:
            props[number] = int(props[number])
    props["Threshold"] = float(props["Threshold"])
    stack.client("cloudwatch").put_metric_alarm(**props)


def _schedule(stack: EmbeddedStack, logical_id: str, props: dict[str, Any]) -> None:
    target = dict(props["Target"])
    if "RetryPolicy" in target:
        target["RetryPolicy"] = {k: int(v) for k, v in target["RetryPolicy"].items()}
    stack.client("scheduler").create_schedule(
        Name=props.get("Name", f"{stack.name}-{logical_id}"),
        ScheduleExpression=props["ScheduleExpression"],
        FlexibleTimeWindow=props["FlexibleTimeWindow"],
        Target=target,
        State=props.get("State", "ENABLED"),
    )


def _function_url(stack: EmbeddedStack, logical_id: str, props: dict[str, Any]) -> None:
    url = stack.client("lambda").create_function_url_config(
        FunctionName=props["TargetFunctionArn"], AuthType=props["AuthType"]
    )["FunctionUrl"]
    stack.physical[logical_id] = url


def _event_invoke_config(stack: EmbeddedStack, logical_id: str, props: dict[str, Any]) -> None:
    stack.client("lambda").put_function_event_invoke_config(
        FunctionName=props["FunctionName"],
        Qualifier=props.get("Qualifier", "$LATEST"),
        MaximumRetryAttempts=int(props["MaximumRetryAttempts"]),
        MaximumEventAgeInSeconds=int(props["MaximumEventAgeInSeconds"]),
    )


def _secret(stack: EmbeddedStack, logical_id: str, props: dict[str, Any]) -> None:
    import secrets

    generate = props.get("GenerateSecretString")
    if generate:
        value = json.loads(generate.get("SecretStringTemplate", "{}"))
        value[generate["GenerateStringKey"]] = secrets.token_hex(int(generate.get("PasswordLength", 32)) // 2)
        text = json.dumps(value)
    else:
        text = props["SecretString"]
    secrets_manager = stack.client("secretsmanager")
    arn = secrets_manager.create_secret(Name=f"{stack.name}-{logical_id}", SecretString=text)["ARN"]
    stack.physical[logical_id] = arn  # `Ref` of a secret is its ARN


# How to create each resource type moto's CloudFormation skips (DESIGN §7), from its properties.
CREATORS: dict[str, Callable[[EmbeddedStack, str, dict[str, Any]], None]] = {
    "AWS::SNS::Subscription": _subscription,
    "AWS::SQS::QueuePolicy": _queue_policy,
    "AWS::SNS::TopicPolicy": _topic_policy,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::Scheduler::Schedule": _schedule,
    "AWS::Lambda::EventInvokeConfig": _event_invoke_config,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::Lambda::Url": _function_url,
}


def create_stack(
    template_path: str | Path,
    stack_name: str,
    parameters: dict[str, str],
    *,
    region: str = "us-east-1",
    endpoint_url: str | None = None,
    session: boto3.Session | None = None,
) -> EmbeddedStack:
    """Create the stack on moto (the current `mock_aws`, or the moto server at `endpoint_url`)."""
    session = session or boto3.Session(region_name=region)
    sam = load_template(template_path)
    values = parameter_values(sam, parameters)
    template = translate(sam, values, region=region, account=ACCOUNT)

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint_url)  # type: ignore[call-overload]

    s3 = client("s3")
    if region == "us-east-1":
        s3.create_bucket(Bucket=ARTIFACT_BUCKET)
    else:
        s3.create_bucket(Bucket=ARTIFACT_BUCKET, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_object(Bucket=ARTIFACT_BUCKET, Key=ARTIFACT_KEY, Body=_code_zip())
    # Outputs naming a resource moto will not create are left to us (moto rejects them).
    skipped = {k for k, r in template["Resources"].items() if moto_skips(r["Type"])}
    outputs = template.get("Outputs", {})
    deferred = {k: o for k, o in outputs.items() if _references(o.get("Value")) & skipped}
    for_moto = {**template, "Outputs": {k: o for k, o in outputs.items() if k not in deferred}}
    # moto warns for each type it skips; each is created below from the same template, so the
    # warning only misleads (a demo looks as if its stack had failed).
    warnings.filterwarnings(
        "ignore", message=r"Tried to parse AWS::\S+ but it's not supported by moto", category=UserWarning
    )
    cloudformation = client("cloudformation")
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(for_moto),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    described = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    if described["StackStatus"] != "CREATE_COMPLETE":
        raise RuntimeError(
            f"stack {stack_name}: {described['StackStatus']} {described.get('StackStatusReason', '')}"
        )
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
        if r.get("LogicalResourceId") and r.get("PhysicalResourceId")  # moto lists skipped ones bare
    }
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    stack = EmbeddedStack(
        stack_name,
        region,
        template,
        values,
        physical,
        StackOutputs.from_outputs(stack_name, outputs),
        session,
        endpoint_url,
    )
    detach_moto_event_sources(region)
    make_moto_deletes_atomic()
    make_moto_sqs_counts_cheap()
    make_moto_fifo_receives_in_order()
    make_moto_server_lookups_cached()
    resolver = stack.resolver
    for logical_id, resource in template["Resources"].items():
        if logical_id not in skipped:
            continue
        condition = resource.get("Condition")
        if condition and not resolver.condition(condition):
            continue
        creator = CREATORS.get(resource["Type"])
        if creator is None:
            raise RuntimeError(f"moto did not create {logical_id} ({resource['Type']}) and nothing here can")
        creator(stack, logical_id, stack.properties(logical_id))
        stack.physical.setdefault(logical_id, f"{stack_name}-{logical_id}")
    resolver = stack.resolver  # with what the creators added
    stack.extra_outputs = {
        key: str(resolver.resolve(output["Value"]))
        for key, output in deferred.items()
        if not output.get("Condition") or resolver.condition(output["Condition"])
    }
    return stack
