"""The deployed shape on one machine: moto's server as AWS, the stack `template.yaml` defines created
on it, the real poller handler on a schedule, and per plugin the real dispatch handler driven the
way Lambda's SQS event source mapping drives a FIFO queue (`SqsEventSource`).

Every boto3 client (ours, the handlers', the plugins') reaches the moto server through
`AWS_ENDPOINT_URL`; the FPT emulator is the site. Callbacks are wrapped by a `CallbackRecord` only
to count what ran, for the summary; the dispatch path itself is the deployed one.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fpt_emulator import FptEmulator
from shotgun_events.config import DispatchConfig
from shotgun_events.dispatch import DispatchFunction
from shotgun_events.plugins import RecordedMetrics
from shotgun_events.plugins.registrar import Registration
from shotgun_events_tools.local.event_source import InvocationContext, SqsEventSource
from shotgun_events_tools.ports import free_port
from shotgun_events_tools.stack.embedded import EmbeddedStack, create_stack

STACK_NAME = "demo"
REGION = "us-east-1"
POLLER_SCRIPT = ("shotgun_events_poller", "demo-poller-key")


def create_secrets(
    stack: EmbeddedStack, emulator: FptEmulator, plugins_dir: Path, workdir: Path
) -> dict[str, str]:
    """The stack's secrets on moto, for script users added to the emulator: the poller's, and per
    plugin the variables its source names (plus `SHOT_DIRECTORIES_ROOT` under `workdir`).

    Returns plugin -> its script user's name.
    """
    from shotgun_events_tools.script_users import default_script_env, script_env_names

    secrets = stack.client("secretsmanager")
    emulator.add_script(*POLLER_SCRIPT)
    poller_env = stack.environment("PollerFunction")
    secrets.create_secret(
        Name=poller_env["SHOTGUN_SECRET_ID"],
        SecretString=json.dumps({"script_name": POLLER_SCRIPT[0], "api_key": POLLER_SCRIPT[1]}),
    )
    scripts: dict[str, str] = {}
    for name, outputs in stack.outputs.plugins.items():
        values = default_script_env(script_env_names((plugins_dir / f"{name}.py").read_text()))
        for env_name in sorted(k for k in values if k.endswith("_NAME")):
            emulator.add_script(values[env_name], values[env_name.removesuffix("_NAME") + "_KEY"])
            scripts[name] = values[env_name]
        values["SHOT_DIRECTORIES_ROOT"] = str(workdir / "shots")
        environ = stack.environment(stack.function_logical_id(outputs.function_name))
        secrets.create_secret(Name=environ["PLUGIN_SECRET_ID"], SecretString=json.dumps(values))
    return scripts


@dataclass
class CallbackRecord:
    """What ran: per (plugin, callback) the event ids started and completed, and the delays."""

    started: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    completed: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    delays: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wrap(self, registration: Registration) -> None:
        inner, key = registration.callback, (registration.plugin, registration.name)

        @functools.wraps(inner)  # keeps the name: the effect-once key is the callback's name
        def recorded(sg: Any, logger: Any, event: dict[str, Any], args: Any) -> Any:
            created = event.get("created_at")
            with self._lock:
                self.started[key].append(int(event["id"]))
                if isinstance(created, datetime):
                    self.delays[registration.plugin].append(time.time() - created.timestamp())
            result = inner(sg, logger, event, args)
            with self._lock:
                self.completed[key].append(int(event["id"]))
            return result

        registration.callback = recorded


class _Invocation(InvocationContext):
    """An invocation whose time runs out when the pipeline stops, so the poller ends its loop as at
    its deadline rather than being waited for."""

    def __init__(self, function_name: str, timeout: float, stopped: threading.Event):
        super().__init__(function_name, timeout)
        self._stopped = stopped

    def get_remaining_time_in_millis(self) -> int:
        return 0 if self._stopped.is_set() else super().get_remaining_time_in_millis()


@dataclass
class PluginRuntime:
    name: str
    source: SqsEventSource
    registrations: list[Registration]


class EmbeddedPipeline:
    """`start()`: moto server, stack, secrets, one event source per plugin, the webhook; then
    `start_poller()`: the poller's schedule. `stop()`: all of it."""

    def __init__(
        self,
        emulator: FptEmulator,
        template: Path,
        workdir: Path,
        *,
        aws_port: int = 0,
        concurrency: int = 10,
        poll_interval: float = 1.0,
        schedule_seconds: float = 20.0,
        invocation_seconds: float | None = None,
        safety_margin: float = 1.0,
        max_receive_count: int = 3,
        retry_visibility: int = 1,
        visibility_timeout: int | None = None,
        doorbell: bool = True,
        parameters: dict[str, str] | None = None,
        poller_environment: dict[str, str] | None = None,
        session: Any = None,
        idle_wait: float = 0.05,
    ):
        self.emulator = emulator
        self.template = template
        self.workdir = workdir
        self.aws_port = free_port(aws_port, "AWS (moto) port")
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.schedule_seconds = schedule_seconds
        # Each invocation's timeout (default: 0.9 of the schedule, at most 30 s) and the poller's
        # SAFETY_MARGIN_SECONDS: a bench sets them to the template's to see the deployed schedule.
        self.invocation_seconds = invocation_seconds or min(schedule_seconds * 0.9, 30.0)
        self.safety_margin = safety_margin
        self.max_receive_count = max_receive_count
        self.retry_visibility = retry_visibility
        self.visibility_timeout = visibility_timeout  # None: the queue's own (6x the function timeout)
        self.doorbell = doorbell
        self.parameters = dict(parameters or {})  # more stack parameters (e.g. BacklogTimeoutSeconds)
        self.poller_environment = dict(poller_environment or {})  # on top of the stack's
        self.session = session  # a boto3 Session for the stack's own clients (event sources, secrets)
        self.idle_wait = idle_wait  # an event source's pause after an empty receive
        self.webhook_url: Any = None  # the webhook function behind a local Function URL
        self.record = CallbackRecord()
        self.metrics = RecordedMetrics()
        self.plugins: dict[str, PluginRuntime] = {}
        self.poller_runs: list[dict[str, Any]] = []
        self.poller_errors: list[str] = []
        self.scripts: dict[str, str] = {}  # plugin -> its script user's name
        self.stack: EmbeddedStack | None = None
        self._server: Any = None
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"

    def start(self) -> EmbeddedStack:
        from moto.server import ThreadedMotoServer

        os.environ.update(
            {
                "AWS_ENDPOINT_URL": self.endpoint_url,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ACCESS_KEY_ID": "demo",
                "AWS_SECRET_ACCESS_KEY": "demo",
            }
        )
        os.environ.pop("AWS_PROFILE", None)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.aws_port, verbose=False)
        self._server.start()
        parameters = {
            "ShotgunUrl": self.emulator.url,
            "MaxReceiveCount": str(self.max_receive_count),
            "PollIntervalSeconds": str(self.poll_interval),
            "EnableDoorbell": "true" if self.doorbell else "false",
            **self.parameters,
        }
        self.stack = create_stack(
            self.template,
            STACK_NAME,
            parameters,
            region=REGION,
            endpoint_url=self.endpoint_url,
            session=self.session,
        )
        self.scripts = create_secrets(
            self.stack, self.emulator, self.template.parent / "plugins", self.workdir
        )
        for name in self.stack.outputs.plugins:
            self.plugins[name] = self._start_plugin(self.stack, name)
        if self.doorbell:
            self._start_webhook(self.stack)
        return self.stack

    def start_poller(self) -> None:
        """The poller's schedule begins (after the caller has set where it starts)."""
        self._poller = threading.Thread(target=self._schedule, name="poller-schedule", daemon=True)
        self._poller.start()

    def _start_webhook(self, stack: EmbeddedStack) -> None:
        """The webhook function at a local Function URL, and the emulator's webhook pointing at it."""
        from functions.webhook import app
        from shotgun_events_tools.function_url import LocalFunctionUrl

        environ = stack.environment("WebhookFunction")
        os.environ.update(environ)
        secret = stack.client("secretsmanager").get_secret_value(SecretId=environ["WEBHOOK_SECRET_ID"])
        self.webhook_url = LocalFunctionUrl(app.lambda_handler, concurrency=5).start()
        self.emulator.add_webhook(self.webhook_url.url, json.loads(secret["SecretString"])["token"])

    def _start_plugin(self, stack: EmbeddedStack, name: str) -> PluginRuntime:
        outputs = stack.outputs.plugin(name)
        logical = stack.function_logical_id(outputs.function_name)
        environ = {**stack.environment(logical), "PLUGIN_PATHS": str(self.template.parent / "plugins")}
        dispatch = DispatchFunction(environ=environ, metrics=self.metrics)
        function = stack.properties(logical)
        (mapping,) = stack.client("lambda").list_event_source_mappings(FunctionName=outputs.function_name)[
            "EventSourceMappings"
        ]

        def handler(event: dict[str, Any], context: Any) -> Any:
            return dispatch(event, context)

        source = SqsEventSource(
            outputs.queue_url,
            handler,
            client=stack.client("sqs"),
            batch_size=int(mapping["BatchSize"]),
            concurrency=self.concurrency,
            function_timeout=float(function["Timeout"]),
            visibility_timeout=self.visibility_timeout,
            retry_visibility=self.retry_visibility,
            function_name=outputs.function_name,
            idle_wait=self.idle_wait,
        )
        # Build the dispatcher now (secret, plugin) so its callbacks can be counted for the summary.
        registrations = dispatch.dispatcher(DispatchConfig.from_env(environ)).plugin.registrations
        for registration in registrations:
            self.record.wrap(registration)
        source.start()
        return PluginRuntime(name, source, registrations)

    def redeploy(self, name: str) -> PluginRuntime:
        """A new version of plugin `name` goes live: its event source stops (invocations under way
        finish) and starts again with a new dispatch function, which loads the plugin afresh."""
        assert self.stack is not None
        self.plugins[name].source.stop(timeout=30)
        self.plugins[name] = self._start_plugin(self.stack, name)
        return self.plugins[name]

    def invoke_poller(self) -> dict[str, Any]:
        """One invocation of the real poller handler, with the stack's environment, just under the
        schedule (the Lambda timeout is a little less than the rate)."""
        from functions.poller import app

        assert self.stack is not None
        os.environ.update(
            {
                **self.stack.environment("PollerFunction"),
                "SAFETY_MARGIN_SECONDS": str(self.safety_margin),
                **self.poller_environment,
            }
        )
        # Its time runs out when the pipeline stops, so the poller ends as at its deadline.
        context = _Invocation("poller", self.invocation_seconds, self._stop)
        result: dict[str, Any] = app.lambda_handler({}, context)
        self.poller_runs.append(result)
        return result

    def _schedule(self) -> None:
        """The poller's schedule: one invocation every `schedule_seconds`, each running just under it."""
        while not self._stop.is_set():
            tick = time.monotonic()
            try:
                self.invoke_poller()
            except Exception as exc:  # the handler logged it; the next tick polls again, as in Lambda
                self.poller_errors.append(f"{type(exc).__name__}: {exc}")
            self._stop.wait(max(0.0, self.schedule_seconds - (time.monotonic() - tick)))

    def stop_poller(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=60)

    def wait_drained(self, timeout: float) -> bool:
        """Until every plugin's queue is empty and no invocation runs (the DLQs keep what failed)."""
        deadline = time.monotonic() + timeout
        return all(
            p.source.wait_idle(max(0.1, deadline - time.monotonic()), settle=0.5)
            for p in self.plugins.values()
        )

    def queue_counts(self, url: str) -> tuple[int, int]:
        assert self.stack is not None
        attributes = self.stack.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
            "Attributes"
        ]
        return int(attributes["ApproximateNumberOfMessages"]), int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def dead_letter_ids(self, plugin: str) -> list[int]:
        """The event ids parked in the plugin's DLQ (read, then made visible again at once)."""
        assert self.stack is not None
        sqs, url = self.stack.client("sqs"), self.stack.outputs.plugin(plugin).dead_letter_queue_url
        read: list[dict[str, Any]] = []
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get(
            "Messages", []
        ):
            read.extend(messages)
        for start in range(0, len(read), 10):
            sqs.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(read[start : start + 10])
                ],
            )
        return sorted(json.loads(m["Body"])["id"] for m in read)

    def stop(self) -> None:
        self.stop_poller()
        for plugin in self.plugins.values():
            plugin.source.stop(timeout=30)
        if self.webhook_url is not None:
            self.webhook_url.stop()
        if self._server is not None:
            self._server.stop()
            self._server = None
