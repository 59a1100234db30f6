"""template.yaml as data: encryption, DLQs, alarms, logs, least privilege, the env contract of
DESIGN §4, and the per-plugin part in step with plugins/."""

from __future__ import annotations

import importlib
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shotgun_events.plugins import filter_policy, load_plugins
from shotgun_events_tools.stack.generate import Project, StackConfig, generate, logical_id
from tests.infrastructure.conftest import ROOT, TEMPLATE, resources_of

POLLER_ENV = (
    "SHOTGUN_URL",
    "SHOTGUN_SECRET_ID",
    "STATE_TABLE",
    "EVENTS_TOPIC_ARN",
    "POLL_INTERVAL_SECONDS",
    "BACKLOG_TIMEOUT_SECONDS",
    "PAGE_SIZE",
)
DISPATCH_ENV = ("PLUGIN_NAME", "PLUGIN_PATHS", "SHOTGUN_URL", "PLUGIN_SECRET_ID", "IDEMPOTENCY_TABLE")
LAMBDA_LONGEST_TIMEOUT = 900
# The only statements that may name every resource: X-Ray has no resource-level permissions.
STAR_RESOURCE_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def ref(value: Any) -> str:
    """The logical id a `Ref` or `Fn::GetAtt` points at."""
    if "Ref" in value:
        return str(value["Ref"])
    return str(value["Fn::GetAtt"][0])


def deployed_plugins() -> list[str]:
    config = StackConfig.load(ROOT / "plugins" / "stack.toml")
    return [p.stem for p in sorted((ROOT / "plugins").glob("*.py")) if p.stem not in config.exclude]


def test_template_is_up_to_date_with_plugins() -> None:
    assert generate(Project(ROOT)) == TEMPLATE.read_text(), "run `shotgun-events generate-template`"


def test_every_queue_is_fifo_encrypted_kept_14_days_and_drains_to_a_fifo_dlq(
    translated: dict[str, Any],
) -> None:
    queues = resources_of(translated, "AWS::SQS::Queue")
    dlqs = {
        ref(q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
        for q in queues.values()
        if "RedrivePolicy" in q["Properties"]
    }
    assert dlqs and dlqs < set(queues)
    for name, queue in queues.items():
        props = queue["Properties"]
        assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props, name
        if name == "DoorbellQueue":  # rings, not events: disposable, so no DLQ and a minute's retention
            assert queue["Condition"] == "DoorbellOn" and "RedrivePolicy" not in props
            continue
        assert props["FifoQueue"] is True and props["MessageRetentionPeriod"] == 14 * 24 * 3600, name
        if name not in dlqs:
            assert props["RedrivePolicy"]["maxReceiveCount"] == {"Ref": "MaxReceiveCount"}, name


def test_visibility_timeout_is_at_least_six_times_the_consumer_timeout(translated: dict[str, Any]) -> None:
    mappings = resources_of(translated, "AWS::Lambda::EventSourceMapping")
    assert len(mappings) == len(deployed_plugins())
    for mapping in mappings.values():
        props = mapping["Properties"]
        queue = translated["Resources"][ref(props["EventSourceArn"])]["Properties"]
        function = translated["Resources"][ref(props["FunctionName"])]["Properties"]
        assert queue["VisibilityTimeout"] >= 6 * function["Timeout"]
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert 1 <= props["BatchSize"] <= 10 and props["ScalingConfig"]["MaximumConcurrency"] >= 2


def test_topics_are_encrypted_with_a_key_cloudwatch_may_use(translated: dict[str, Any]) -> None:
    topics = resources_of(translated, "AWS::SNS::Topic")
    assert topics["EventsTopic"]["Properties"]["FifoTopic"] is True
    assert "FifoTopic" not in topics["AlarmTopic"]["Properties"]  # a FIFO topic cannot email
    for topic in topics.values():
        assert topic["Properties"]["KmsMasterKeyId"] == {"Ref": "TopicKey"}
    key = translated["Resources"]["TopicKey"]["Properties"]
    services = [s["Principal"].get("Service") for s in key["KeyPolicy"]["Statement"]]
    assert "cloudwatch.amazonaws.com" in services and key["EnableKeyRotation"] is True
    email = [
        s
        for s in resources_of(translated, "AWS::SNS::Subscription").values()
        if s["Properties"]["Protocol"] == "email"
    ]
    assert len(email) == 1 and email[0]["Condition"] == "HasAlarmEmail"
    assert email[0]["Properties"]["TopicArn"] == {"Ref": "AlarmTopic"}


def test_tables_on_demand_encrypted_recoverable_with_the_contract_keys(translated: dict[str, Any]) -> None:
    tables = resources_of(translated, "AWS::DynamoDB::Table")
    for table in tables.values():
        props = table["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST" and props["SSESpecification"]["SSEEnabled"] is True
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    state, ledger = tables["StateTable"], tables["IdempotencyTable"]
    assert state["Properties"]["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert state["DeletionPolicy"] == "Retain" and state["UpdateReplacePolicy"] == "Retain"
    assert ledger["Properties"]["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert ledger["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def test_every_alarm_notifies_the_alarm_topic_on_alarm_and_on_ok(translated: dict[str, Any]) -> None:
    alarms = resources_of(translated, "AWS::CloudWatch::Alarm")
    assert len(alarms) == 5 + 1 + 2 * len(deployed_plugins())  # poller, doorbell, per plugin
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        assert alarm["Properties"]["OKActions"] == [{"Ref": "AlarmTopic"}], name
    stopped = alarms["PollerStoppedAlarm"]["Properties"]
    assert stopped["EvaluationPeriods"] == 3 and stopped["TreatMissingData"] == "breaching"


def test_every_function_logs_to_a_stack_log_group_with_retention(translated: dict[str, Any]) -> None:
    functions = resources_of(translated, "AWS::Lambda::Function")
    assert len(functions) == 1 + 1 + len(deployed_plugins())  # poller, webhook, per plugin
    for name, function in functions.items():
        props = function["Properties"]
        group = translated["Resources"][ref(props["LoggingConfig"]["LogGroup"])]
        assert group["Type"] == "AWS::Logs::LogGroup", name
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
        assert props["Architectures"] == [{"Ref": "Architecture"}], name
        role = translated["Resources"][ref(props["Role"])]
        assert role["Type"] == "AWS::IAM::Role" and "ManagedPolicyArns" not in role["Properties"], name


def _statements(value: Any) -> Iterator[dict[str, Any]]:
    """Every statement of every policy document in the template, `Fn::If` branches included."""
    if isinstance(value, dict):
        if "Statement" in value and "Version" in value:
            for statement in value["Statement"]:
                if "Fn::If" in statement:
                    yield from (s for s in statement["Fn::If"][1:] if "Effect" in s)
                else:
                    yield statement
        for item in value.values():
            yield from _statements(item)
    elif isinstance(value, list):
        for item in value:
            yield from _statements(item)


def test_no_wildcard_action_and_star_resources_only_where_aws_requires(translated: dict[str, Any]) -> None:
    statements = list(_statements(translated["Resources"]))
    assert len(statements) > 20
    key_policy = list(_statements(translated["Resources"]["TopicKey"]))
    for statement in statements:
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        assert not any("*" in a for a in actions), statement
        if statement.get("Resource") == "*" and statement not in key_policy:
            assert set(actions) <= STAR_RESOURCE_ACTIONS, statement


def test_each_function_reads_only_its_own_secret(translated: dict[str, Any]) -> None:
    for name, role in resources_of(translated, "AWS::IAM::Role").items():
        for statement in _statements(role):
            if statement.get("Action") == "secretsmanager:GetSecretValue":
                if statement["Resource"] == {"Ref": "WebhookTokenSecret"}:  # the stack's own: its exact ARN
                    continue
                resource = statement["Resource"]["Fn::Sub"]
                assert resource.endswith("-??????"), name  # the suffix Secrets Manager adds
                assert "${ShotgunSecretName}" in resource or "${PluginSecretPrefix}" in resource, name


def test_dispatch_functions_may_only_read_and_write_completions_in_the_ledger(
    translated: dict[str, Any],
) -> None:
    ledger = [
        statement
        for role in resources_of(translated, "AWS::IAM::Role").values()
        for statement in _statements(role)
        if statement.get("Resource") == {"Fn::GetAtt": ["IdempotencyTable", "Arn"]}
    ]
    assert ledger, "no role uses the idempotency table"
    assert all(statement["Action"] == ["dynamodb:GetItem", "dynamodb:UpdateItem"] for statement in ledger)


def test_every_handler_imports() -> None:
    from shotgun_events_tools.stack.translate import load_template

    handlers = {
        r["Properties"]["Handler"]
        for r in load_template(TEMPLATE)["Resources"].values()
        if r["Type"] == "AWS::Serverless::Function"
    }
    assert handlers
    for handler in handlers:
        module, _, function = handler.rpartition(".")
        assert callable(getattr(importlib.import_module(module), function)), handler


def test_functions_get_the_env_contract(translated: dict[str, Any]) -> None:
    functions = resources_of(translated, "AWS::Lambda::Function")
    poller = functions["PollerFunction"]["Properties"]
    assert set(POLLER_ENV) <= set(poller["Environment"]["Variables"])
    plugin_names = set()
    webhook = functions.pop("WebhookFunction")["Properties"]["Environment"]["Variables"]
    assert set(webhook) >= {"WEBHOOK_SECRET_ID", "DOORBELL_QUEUE_URL"}
    assert poller["Environment"]["Variables"]["DOORBELL_QUEUE_URL"]["Fn::If"][0] == "DoorbellOn"
    for name, function in functions.items():
        variables = function["Properties"]["Environment"]["Variables"]
        if name != "PollerFunction":
            assert set(DISPATCH_ENV) <= set(variables), name
            plugin_names.add(variables["PLUGIN_NAME"])
            assert (ROOT / variables["PLUGIN_PATHS"] / f"{variables['PLUGIN_NAME']}.py").is_file()
    assert plugin_names == set(deployed_plugins())


def test_the_poller_runs_alone_once_per_tick_and_polls_until_the_next(
    sam_template: dict[str, Any], translated: dict[str, Any]
) -> None:
    poller = translated["Resources"]["PollerFunction"]["Properties"]
    assert poller["ReservedConcurrentExecutions"] == 1
    invoke = resources_of(translated, "AWS::Lambda::EventInvokeConfig")
    assert [c["Properties"]["MaximumRetryAttempts"] for c in invoke.values()] == [0]
    schedule = next(iter(resources_of(translated, "AWS::Scheduler::Schedule").values()))["Properties"]
    assert schedule["Target"]["RetryPolicy"] == {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60}
    (max_event_age,) = [c["Properties"]["MaximumEventAgeInSeconds"] for c in invoke.values()]
    margin = float(poller["Environment"]["Variables"]["SAFETY_MARGIN_SECONDS"])
    for rate, entry in sam_template["Mappings"]["PollerSchedule"].items():
        period = 60 * int(rate)
        assert entry["PeriodSeconds"] == period
        # It stops polling when the margin is left: at the next tick, or at Lambda's longest timeout.
        assert entry["Timeout"] - margin == period or entry["Timeout"] == LAMBDA_LONGEST_TIMEOUT
        # A tick throttled behind the last pass is run within Lambda's event age, not dropped.
        assert entry["Timeout"] - period < max_event_age
        assert entry["Expression"] == f"rate({rate} minute{'s' if rate != '1' else ''})"


def test_each_plugin_subscribes_its_queue_with_its_own_filter_policy(translated: dict[str, Any]) -> None:
    plugins = {p.name: p for p in load_plugins([ROOT / "plugins"])}
    subscriptions = {
        ref(s["Properties"]["Endpoint"]): s["Properties"]
        for s in resources_of(translated, "AWS::SNS::Subscription").values()
        if s["Properties"]["Protocol"] == "sqs"
    }
    policies = {
        ref(p["Properties"]["Queues"][0]): p["Properties"]
        for p in resources_of(translated, "AWS::SQS::QueuePolicy").values()
    }
    for name in deployed_plugins():
        queue = f"{logical_id(name)}Queue"
        subscription = subscriptions[queue]
        assert subscription["RawMessageDelivery"] is True and subscription["TopicArn"] == {
            "Ref": "EventsTopic"
        }
        assert subscription.get("FilterPolicy") == filter_policy(plugins[name].match_events)
        (statement,) = policies[queue]["PolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
        assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": "EventsTopic"}}}


def test_an_excluded_plugin_gets_nothing(translated: dict[str, Any]) -> None:
    config = StackConfig.load(ROOT / "plugins" / "stack.toml")
    assert config.exclude
    for name in config.exclude:
        assert not [k for k in translated["Resources"] if k.startswith(logical_id(name))]


def test_outputs_name_every_plugin_resource(translated: dict[str, Any]) -> None:
    outputs = translated["Outputs"]
    assert outputs["Plugins"]["Value"].split(",") == deployed_plugins()
    for name in deployed_plugins():
        for suffix in ("QueueUrl", "DeadLetterQueueUrl", "FunctionName"):
            assert f"{logical_id(name)}{suffix}" in outputs
    assert {"EventsTopicArn", "StateTableName", "IdempotencyTableName", "DashboardUrl"} <= set(outputs)


def test_the_dashboard_shows_the_flow_and_each_plugin(translated: dict[str, Any]) -> None:
    body = translated["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    for metric in ("EventsPublished", "LagSeconds", "BacklogSize", "FptErrors", "Processed", "Failed"):
        assert metric in body
    assert body.count('"p99"') == len(deployed_plugins())


def test_the_dashboard_and_its_url_can_be_left_out(translated: dict[str, Any]) -> None:
    assert translated["Conditions"]["DashboardOn"] == {"Fn::Equals": [{"Ref": "EnableDashboard"}, "true"]}
    assert translated["Parameters"]["EnableDashboard"]["Default"] == "true"
    assert translated["Resources"]["Dashboard"]["Condition"] == "DashboardOn"
    assert translated["Outputs"]["DashboardUrl"]["Condition"] == "DashboardOn"


def test_the_code_uri_holds_runtime_code_only_and_its_requirements_match_the_project() -> None:
    lambda_dir = ROOT / "lambda"
    links = {p.name: p.readlink().as_posix() for p in lambda_dir.iterdir() if p.is_symlink()}
    assert links == {
        "shotgun_events": "../shotgun_events",
        "functions": "../functions",
        "plugins": "../plugins",
    }
    requirements = [
        re.split(r"[<>=\[ ]", line)[0].lower().replace("_", "-")
        for line in (lambda_dir / "requirements.txt").read_text().splitlines()
        if line and not line.startswith(("#", "-r"))
    ]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    declared = {re.split(r"[<>=\[ ]", d)[0].lower().replace("_", "-") for d in project}
    # boto3 comes from the Lambda runtime, Powertools from its public layer.
    assert set(requirements) == declared - {"boto3", "aws-lambda-powertools"}
    assert "-r plugins/requirements.txt" in (lambda_dir / "requirements.txt").read_text()


@pytest.mark.parametrize("source", ["import pytz_missing_in_this_venv\n"])
def test_a_plugin_with_a_missing_import_fails_generation_naming_plugin_and_module(
    tmp_path: Path, source: str
) -> None:
    from shotgun_events_tools.stack.generate import TemplateError

    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "tz_plugin.py").write_text(source + "def registerCallbacks(reg):\n    pass\n")
    (tmp_path / "template.yaml").write_text(TEMPLATE.read_text())
    with pytest.raises(
        TemplateError, match=r"tz_plugin.*pytz_missing_in_this_venv.*plugins/requirements.txt"
    ):
        generate(Project(tmp_path))
