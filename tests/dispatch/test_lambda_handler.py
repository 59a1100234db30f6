"""The real `functions.dispatch.app.lambda_handler` end to end on moto: Secrets Manager, DynamoDB, SQS."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from functions.dispatch import app
from shotgun_events.config import ConfigError, DispatchConfig
from shotgun_events.dispatch import DispatchFunction, export_secret_env
from shotgun_events.plugins import EmfMetrics, RecordedMetrics
from tests.dispatch.support import (
    LambdaSqsDriver,
    LogLines,
    PluginPipeline,
    create_idempotency_table,
    create_plugin_pipeline,
    publish,
    queue_event_ids,
    write_plugin,
)
from tests.helpers import LambdaContextStub, make_event

pytestmark = pytest.mark.usefixtures("aws", "clean_environ")

SECRET_ID = "shotgun-events/plugins/e2e_plugin"

PLUGIN = """
import json
import os
import uuid

LOADED_AS = str(uuid.uuid4())  # a new value each time the module is imported

def registerCallbacks(reg):
    reg.setEmails("td@example.com")
    reg.registerCallback(
        os.environ["SGDAEMON_E2E_NAME"],
        os.environ["SGDAEMON_E2E_KEY"],
        on_status,
        matchEvents={"Shotgun_Shot_Change": ["sg_status_list"]},
        args={"seen": 0},
    )

def on_status(sg, logger, event, args):
    args["seen"] += 1
    logger.info("status of %s is now %s", event["entity"]["name"], event["meta"]["new_value"])
    with open(os.environ["E2E_OUTPUT"], "a") as out:
        out.write(json.dumps({
            "id": event["id"],
            "script": sg.config.script_name,
            "timeout": sg.config.timeout_secs,
            "aware": event["created_at"].tzinfo is not None,
            "seen": args["seen"],
            "from_env": os.environ.get("STUDIO_SETTING"),
            "module": LOADED_AS,
            "client": id(sg),
        }) + "\\n")
"""


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    write_plugin(tmp_path / "plugins", "e2e_plugin", PLUGIN)
    table = create_idempotency_table(boto3.client("dynamodb"))
    output = tmp_path / "runs.jsonl"
    env = {
        "PLUGIN_NAME": "e2e_plugin",
        "PLUGIN_PATHS": f"{tmp_path / 'studio'}:{tmp_path / 'plugins'}",
        "SHOTGUN_URL": "https://studio.shotgrid.example.com",
        "PLUGIN_SECRET_ID": SECRET_ID,
        "IDEMPOTENCY_TABLE": table,
        "SHOTGUN_TIMEOUT_SECONDS": "12",
        "E2E_OUTPUT": str(output),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    metrics = RecordedMetrics()
    monkeypatch.setattr(app, "dispatch", DispatchFunction(metrics=metrics))  # a fresh cold start
    return {"output": output, "table": table, "metrics": metrics}


def put_secret(value: Any) -> None:
    secrets = boto3.client("secretsmanager")
    text = value if isinstance(value, str) else json.dumps(value)
    try:
        secrets.create_secret(Name=SECRET_ID, SecretString=text)
    except secrets.exceptions.ResourceExistsException:
        secrets.put_secret_value(SecretId=SECRET_ID, SecretString=text)


GOOD_SECRET = {"SGDAEMON_E2E_NAME": "e2e_script", "SGDAEMON_E2E_KEY": "e2e-key-value", "STUDIO_SETTING": 7}


def runs(output: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.read_text().splitlines()] if output.exists() else []


def pipeline_with_events(events: list[dict[str, Any]], max_receive_count: int = 3) -> PluginPipeline:
    pipeline = create_plugin_pipeline(
        {"event_type": ["Shotgun_Shot_Change"]}, max_receive_count=max_receive_count
    )
    publish(pipeline, events)
    return pipeline


def test_lambda_handler_end_to_end(deployment: dict[str, Any], json_logs: LogLines) -> None:
    put_secret(GOOD_SECRET)
    events = [
        make_event(1, ("Shot", 1)),
        make_event(2, ("Shot", 2)),
        make_event(3, ("Shot", 1), attribute_name="code"),
    ]
    pipeline = pipeline_with_events(events)
    driver = LambdaSqsDriver(pipeline.sqs, pipeline.queue_url, app.lambda_handler)

    driver.run()

    assert sorted(r["id"] for r in runs(deployment["output"])) == [1, 2]
    first = runs(deployment["output"])[0]
    assert first == {**first, "script": "e2e_script", "timeout": 12.0, "aware": True, "from_env": "7"}
    assert [r["seen"] for r in runs(deployment["output"])] == [1, 2]  # args shared by the batch
    assert all(inv["response"] == {"batchItemFailures": []} for inv in driver.invocations)
    assert queue_event_ids(pipeline.sqs, pipeline.dlq_url) == []

    items = boto3.client("dynamodb").scan(TableName=deployment["table"])["Items"]
    assert len(items) == 2  # event 3 matched no callback: nothing recorded
    assert all(item["status"]["S"] == "COMPLETED" for item in items)
    assert all(int(item["expiration"]["N"]) >= time.time() + 7 * 24 * 3600 for item in items)
    assert all(item["id"]["S"].startswith("plugin.e2e_plugin#") for item in items)

    metrics = deployment["metrics"].values
    assert metrics[("e2e_plugin", "Processed")] == [1, 1]
    assert metrics[("e2e_plugin", "SkippedByMatch")] == [1]
    plugin_lines = [r for r in json_logs.records() if r.get("logger") == "plugin.e2e_plugin.on_status"]
    assert {r["event_id"] for r in plugin_lines} == {1, 2}
    assert all(r["function_request_id"] == driver.context.aws_request_id for r in plugin_lines)
    # the log group names the function: its name, ARN and memory are not repeated on every line
    assert not any(
        set(r) & {"function_name", "function_arn", "function_memory_size"} for r in json_logs.records()
    )
    assert "e2e-key-value" not in json_logs.text
    assert sum("setEmails" in r["message"] for r in json_logs.records()) == 1


def test_the_dispatcher_plugin_and_client_survive_across_invocations(deployment: dict[str, Any]) -> None:
    # GIVEN two matching events, delivered one per invocation (batch size 1)
    put_secret(GOOD_SECRET)
    pipeline = pipeline_with_events([make_event(1, ("Shot", 1)), make_event(2, ("Shot", 2))])
    driver = LambdaSqsDriver(pipeline.sqs, pipeline.queue_url, app.lambda_handler, batch_size=1)

    # WHEN the warm function is invoked twice
    assert driver.poll() is not None
    built = app.dispatch.dispatcher(DispatchConfig.from_env())
    assert driver.poll() is not None
    assert driver.poll() is None

    # THEN it is two invocations of one cold start: same dispatcher, plugin module, args and FPT client
    assert [len(i["event"]["Records"]) for i in driver.invocations] == [1, 1]
    assert app.dispatch.dispatcher(DispatchConfig.from_env()) is built
    first, second = runs(deployment["output"])
    assert (first["seen"], second["seen"]) == (1, 2)
    assert first["module"] == second["module"]
    assert first["client"] == second["client"]
    assert deployment["metrics"].total("e2e_plugin", "PluginLoadFailures") == 0


def test_a_missing_secret_fails_the_records_until_it_exists_and_nothing_is_lost(
    deployment: dict[str, Any], json_logs: LogLines
) -> None:
    pipeline = pipeline_with_events([make_event(1, ("Shot", 1)), make_event(2, ("Shot", 2))])
    driver = LambdaSqsDriver(pipeline.sqs, pipeline.queue_url, app.lambda_handler)

    response = driver.poll()
    assert response is not None and len(response["batchItemFailures"]) == 2
    (error,) = json_logs.at("ERROR")
    assert SECRET_ID in error["message"] and "could not be read" in error["message"]
    assert deployment["metrics"].values[("e2e_plugin", "DispatchSetupFailures")] == [1]

    put_secret(GOOD_SECRET)
    driver.run()
    assert sorted(r["id"] for r in runs(deployment["output"])) == [1, 2]


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        ("not json", "is not a JSON object"),
        (["a", "list"], "is not a JSON object"),
        ({"SGDAEMON_E2E_NAME": {"nested": "e2e-key-value"}}, "value of SGDAEMON_E2E_NAME must be a string"),
        ({"bad name": "x"}, "is not an environment variable name"),
        ({**GOOD_SECRET, "PLUGIN_NAME": "e2e-key-value"}, "PLUGIN_NAME is reserved"),
        ({**GOOD_SECRET, "AWS_REGION": "e2e-key-value"}, "AWS_REGION is reserved"),
    ],
)
def test_a_malformed_secret_is_named_and_its_value_never_logged(
    deployment: dict[str, Any], json_logs: LogLines, secret: Any, why: str
) -> None:
    put_secret(secret)
    pipeline = pipeline_with_events([make_event(1, ("Shot", 1))])
    response = LambdaSqsDriver(pipeline.sqs, pipeline.queue_url, app.lambda_handler).poll()
    assert response is not None and len(response["batchItemFailures"]) == 1
    (error,) = json_logs.at("ERROR")
    assert SECRET_ID in error["message"] and why in error["message"]
    assert "e2e-key-value" not in json_logs.text


def test_a_plugin_that_fails_to_import_keeps_its_events_until_the_dlq(
    deployment: dict[str, Any], tmp_path: Path, json_logs: LogLines
) -> None:
    put_secret(GOOD_SECRET)
    write_plugin(tmp_path / "plugins", "e2e_plugin", "import not_installed_anywhere\n")
    pipeline = pipeline_with_events(
        [make_event(1, ("Shot", 1)), make_event(2, ("Shot", 2))], max_receive_count=2
    )

    LambdaSqsDriver(pipeline.sqs, pipeline.queue_url, app.lambda_handler).run()

    assert runs(deployment["output"]) == []
    assert sorted(queue_event_ids(pipeline.sqs, pipeline.dlq_url)) == [1, 2]
    errors = json_logs.at("ERROR")
    assert any(
        "plugin e2e_plugin disabled: failed to import: ModuleNotFoundError" in e["message"] for e in errors
    )
    assert any("dispatch cannot run plugin e2e_plugin" in e["message"] for e in errors)
    assert deployment["metrics"].total("e2e_plugin", "PluginLoadFailures") >= 1


def test_a_config_error_names_the_variable(
    deployment: dict[str, Any], json_logs: LogLines, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IDEMPOTENCY_TABLE")
    event = {"Records": [{"messageId": "m1", "body": "{}", "attributes": {"MessageGroupId": "g"}}]}
    response = app.lambda_handler(event, LambdaContextStub(seconds=60))
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    (error,) = json_logs.at("ERROR")
    assert "IDEMPOTENCY_TABLE" in error["message"]


def test_an_unknown_plugin_name_is_a_clear_error(
    deployment: dict[str, Any], json_logs: LogLines, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_secret(GOOD_SECRET)
    monkeypatch.setenv("PLUGIN_NAME", "not_deployed")
    pipeline = pipeline_with_events([make_event(1, ("Shot", 1))])
    response = LambdaSqsDriver(pipeline.sqs, pipeline.queue_url, app.lambda_handler).poll()
    assert response is not None and len(response["batchItemFailures"]) == 1
    (error,) = json_logs.at("ERROR")
    assert "plugin 'not_deployed' not found in" in error["message"]


RESERVED = [
    "PLUGIN_NAME",
    "PLUGIN_PATHS",
    "SHOTGUN_URL",
    "PLUGIN_SECRET_ID",
    "IDEMPOTENCY_TABLE",
    "USE_SESSION_UUID",
    "SHOTGUN_TIMEOUT_SECONDS",
    "AWS_ACCESS_KEY_ID",
    "AWS_LAMBDA_FUNCTION_NAME",
    "LAMBDA_TASK_ROOT",
    "_X_AMZN_TRACE_ID",
    "POWERTOOLS_SERVICE_NAME",
    "_HANDLER",
    "PATH",
    "PYTHONPATH",
    "LD_LIBRARY_PATH",
]


@pytest.mark.parametrize("name", RESERVED)
def test_a_secret_cannot_set_the_functions_own_configuration_or_runtime(name: str) -> None:
    # GIVEN a plugin secret that also sets a name the function or its runtime relies on
    environ: dict[str, str] = {}
    values = {"SGDAEMON_X_NAME": "x", name: "hidden-value-123"}
    # WHEN it is exported THEN it is refused, naming the secret and the key but never the value
    with pytest.raises(ConfigError) as refused:
        export_secret_env(values, "studio/secret", environ)
    assert "'studio/secret'" in str(refused.value) and f"{name} is reserved" in str(refused.value)
    assert "hidden-value-123" not in str(refused.value)
    assert environ == {}  # nothing is exported from a refused secret


@pytest.mark.parametrize("name", ["SGDAEMON_AWS_KEY", "MY_PATH", "aws_bucket", "STUDIO_LAMBDA_X"])
def test_plugin_names_that_only_look_alike_are_exported(name: str) -> None:
    environ: dict[str, str] = {}
    assert export_secret_env({name: "v"}, "studio/secret", environ) == [name]
    assert environ == {name: "v"}


def emf_documents(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]


def test_a_batch_writes_one_emf_document_with_every_data_point(
    deployment: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the function writing its metrics as EMF, as deployed
    monkeypatch.setattr(app, "dispatch", DispatchFunction(metrics=EmfMetrics(service="e2e")))
    put_secret(GOOD_SECRET)
    events = [
        make_event(1, ("Shot", 1)),
        make_event(2, ("Shot", 2)),
        make_event(3, ("Shot", 3), attribute_name="code"),
    ]
    pipeline = pipeline_with_events(events)
    capsys.readouterr()
    # WHEN one batch of the three runs
    response = LambdaSqsDriver(pipeline.sqs, pipeline.queue_url, app.lambda_handler).poll()
    # THEN its metrics are one EMF line (not one per data point), every data point kept
    assert response == {"batchItemFailures": []}
    (document,) = emf_documents(capsys)
    assert (document["plugin"], document["service"]) == ("e2e_plugin", "e2e")
    assert (document["Processed"], document["SkippedByMatch"]) == ([1.0, 1.0], [1.0])
    assert len(document["ProcessingDelay"]) == 2
    assert "CallbackDuration" not in document  # Lambda's own Duration: the function is the plugin's


def test_a_setup_failure_writes_its_metric_at_once(
    deployment: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(app, "dispatch", DispatchFunction(metrics=EmfMetrics(service="e2e")))
    pipeline = pipeline_with_events([make_event(1, ("Shot", 1))])  # no secret yet
    capsys.readouterr()
    LambdaSqsDriver(pipeline.sqs, pipeline.queue_url, app.lambda_handler).poll()
    (document,) = emf_documents(capsys)
    assert document["DispatchSetupFailures"] == [1.0]
