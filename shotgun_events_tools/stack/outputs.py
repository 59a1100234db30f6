"""What a deployed stack's outputs name: the topic, the tables, and each plugin's queue, DLQ and function.

The operator commands, the demo and the tests find every resource this way, from the stack's
outputs (`Plugins` lists the plugins, `<Prefix>QueueUrl` etc. name theirs), never by guessing names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shotgun_events_tools.stack.generate import logical_id

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient


class StackNotFound(LookupError):
    """No such stack, or not one made from this project's template; the message says which."""


@dataclass(frozen=True)
class PluginOutputs:
    name: str
    queue_url: str
    dead_letter_queue_url: str
    function_name: str


@dataclass(frozen=True)
class StackOutputs:
    stack_name: str
    events_topic_arn: str
    alarm_topic_arn: str
    state_table: str
    idempotency_table: str
    poller_function: str
    plugins: dict[str, PluginOutputs]

    @classmethod
    def from_outputs(cls, stack_name: str, outputs: Mapping[str, str]) -> StackOutputs:
        def get(key: str) -> str:
            try:
                return outputs[key]
            except KeyError:
                raise StackNotFound(
                    f"stack {stack_name} has no output {key}: is it a shotgun-events stack?"
                ) from None

        names = [n for n in get("Plugins").split(",") if n and n != "none"]
        plugins = {}
        for name in names:
            prefix = logical_id(name)
            plugins[name] = PluginOutputs(
                name,
                get(f"{prefix}QueueUrl"),
                get(f"{prefix}DeadLetterQueueUrl"),
                get(f"{prefix}FunctionName"),
            )
        return cls(
            stack_name,
            get("EventsTopicArn"),
            get("AlarmTopicArn"),
            get("StateTableName"),
            get("IdempotencyTableName"),
            get("PollerFunctionName"),
            plugins,
        )

    def plugin(self, name: str) -> PluginOutputs:
        try:
            return self.plugins[name]
        except KeyError:
            known = ", ".join(sorted(self.plugins)) or "none"
            raise StackNotFound(
                f"stack {self.stack_name} runs no plugin {name!r} (it runs: {known})"
            ) from None


def read_stack(cloudformation: CloudFormationClient, stack_name: str) -> StackOutputs:
    from botocore.exceptions import ClientError

    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        raise StackNotFound(
            f"stack {stack_name}: {exc.response.get('Error', {}).get('Message', exc)}"
        ) from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    return StackOutputs.from_outputs(stack_name, outputs)
