"""Benchmark 6, cost: the stack's monthly AWS bill at 100k / 1M / 10M events a day, itemised.

The bill is computed from:

- the stack's settings, read from template.yaml and plugins/stack.toml: memory sizes, timeouts,
  batch size, the poller's schedule and poll interval, log retention, alarms, dashboards, keys,
  tables, secrets;
- what the code does, measured by running it (`bench/harness.py`: the real handlers, each in a
  Lambda-like process, on moto's server and the FPT emulator): a poller catch-up (events per
  PublishBatch, bytes per message), a steady poller invocation with live studio activity (log bytes,
  DynamoDB requests and metrics per pass), and for every deployed plugin dispatch batches of 10,
  10 and 1 (log and EMF bytes, CPU, DynamoDB and FPT requests per delivery and per invocation,
  the custom metrics it emits), plus the size of the effect-once records it wrote;
- the dated price table below (us-east-1, arm64, on demand, no free tier) and the assumptions
  printed with the result (what cannot be measured here: FPT's latency, Lambda's CPU share, the
  event source mapping's idle polling).

Scenario: 5 plugins with the stack's default plugin settings, each matching 10 % of the events.
Fixed costs (what the stack costs with events flowing at all) are printed apart from the
per-event ones, and the marginal cost of a million (plugin, event) deliveries at 1M events/day.

Not a test: it prints a table.

    .venv/bin/python bench/cost.py [--quick] [--fpt-ms 150]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import ARTIFACT_PACKAGES, ROOT, TEMPLATE, BenchStack, Invocation, runtime_dir

# -- prices -----------------------------------------------------------------------------------------

PRICES_DATE = "2026-12-02"
PRICES_SOURCES = (
    "aws.amazon.com/{lambda,sqs,sns,dynamodb,cloudwatch,kms,secrets-manager,eventbridge}/pricing, "
    "us-east-1; cross-checked with public pages of 2026-02 to 2026-06 (CloudWatch: $0.50/GB logs, "
    "$0.30 metric, $3 dashboard; SNS FIFO publish $0.30/M; DynamoDB on demand $0.625/M WRU, "
    "$0.125/M RRU; Scheduler $1.00/M)"
)
PRICE = {
    "lambda_gb_second": 0.0000133334,  # arm64, first 7.5 billion GB-s a month
    "lambda_request": 0.20 / 1e6,
    "sqs_fifo_request": 0.50 / 1e6,  # per 64 KB chunk of a request
    "sns_fifo_publish_request": 0.30 / 1e6,  # per 64 KB chunk of a Publish / PublishBatch request
    "sns_fifo_publish_gb": 0.017,
    "sns_fifo_delivery": 0.01 / 1e6,  # per message delivered to a subscription
    "sns_fifo_delivery_gb": 0.001,
    "dynamodb_write_unit": 0.625 / 1e6,  # on demand, per 1 KB written
    "dynamodb_read_unit": 0.125 / 1e6,  # on demand, per strongly consistent 4 KB read
    "dynamodb_storage_gb_month": 0.25,
    "dynamodb_pitr_gb_month": 0.20,
    "cloudwatch_metric_month": 0.30,  # a custom metric, prorated by the hours it gets data
    "cloudwatch_alarm_month": 0.10,  # standard resolution
    "cloudwatch_dashboard_month": 3.00,
    "logs_ingest_gb": 0.50,
    "logs_storage_gb_month": 0.03,  # compressed bytes
    "kms_key_month": 1.00,
    "kms_request": 0.03 / 10_000,
    "secret_month": 0.40,
    "secret_request": 0.05 / 10_000,
    "scheduler_invocation": 1.00 / 1e6,
}

# -- what cannot be measured on this machine ----------------------------------------------------------

HOURS_PER_MONTH = 730
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
PLUGINS = 5
MATCH_FRACTION = 0.10
SCENARIOS = (100_000, 1_000_000, 10_000_000)
TARGETS = {100_000: 15.0, 1_000_000: 40.0}
LAMBDA_MB_PER_VCPU = 1769  # Lambda gives a function CPU in proportion to memory: 1 vCPU at 1,769 MB
DYNAMODB_CALL_SECONDS = 0.006  # one GetItem / PutItem in region
PASS_SECONDS = 0.3  # one poller pass against FPT (read, publish, commit), besides the interval
ESM_IDLE_RECEIVES_PER_MINUTE = 15  # the SQS event source's long polls (20 s) of a queue, ~5 at once
PLATFORM_LOG_BYTES = 300  # Lambda's START, END and REPORT lines of an invocation
LOG_COMPRESSION = 0.15  # CloudWatch Logs bills storage on compressed bytes
COLD_STARTS_PER_FUNCTION_PER_DAY = 4  # secret reads, cold-start-only metrics
SNS_DATA_KEY_SECONDS = 300  # SNS reuses a data key of the topic's KMS key for up to 5 minutes
ITEM_OVERHEAD_BYTES = 100  # DynamoDB's per-item storage overhead
MESSAGE_CHUNK = 64 * 1024


# -- the stack's settings ------------------------------------------------------------------------------


@dataclass
class StackSettings:
    poller_memory_mb: int
    poller_timeout_s: float
    poller_runs_per_month: float
    poll_interval_s: float
    safety_margin_s: float
    plugin_memory_mb: int
    plugin_batch_size: int
    log_retention_days: int
    fixed_alarms: int
    alarms_per_plugin: float
    dashboards: int
    kms_keys: int
    secrets_fixed: int  # besides one per plugin
    tables_with_pitr: int

    @classmethod
    def read(cls) -> StackSettings:
        from shotgun_events.config import PollerConfig
        from shotgun_events_tools.stack.resolve import Resolver
        from shotgun_events_tools.stack.translate import load_template

        template = load_template(TEMPLATE)
        parameters = {k: v.get("Default") for k, v in template["Parameters"].items()}
        defaults = {k: str(v) for k, v in parameters.items() if v is not None}

        def unavailable(logical: str, name: str) -> str:
            raise KeyError(logical)

        conditions = Resolver(template, defaults, unavailable)
        # What a stack with the template's defaults has (the doorbell, for one, is off by default).
        resources = {
            logical: r
            for logical, r in template["Resources"].items()
            if "Condition" not in r or conditions.condition(r["Condition"])
        }
        rate = str(parameters["ScheduleRateMinutes"])
        schedule = template["Mappings"]["PollerSchedule"][rate]
        plugin_prefixes = [
            logical.removesuffix("Function")
            for logical, r in resources.items()
            if r["Type"] == "AWS::Serverless::Function" and "dispatch" in r["Properties"]["Handler"]
        ]
        alarms = [logical for logical, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"]
        plugin_alarms = [a for a in alarms if any(a.startswith(p) for p in plugin_prefixes)]
        plugin_defaults = tomllib.loads((ROOT / "plugins" / "stack.toml").read_text())["defaults"]
        poller_defaults = PollerConfig("https://site.example", "s", "t", "arn")
        poller_env = resources["PollerFunction"]["Properties"]["Environment"]["Variables"]
        return cls(
            poller_memory_mb=int(parameters["PollerMemorySize"]),
            poller_timeout_s=float(schedule["Timeout"]),
            poller_runs_per_month=HOURS_PER_MONTH * 60 / int(rate),
            poll_interval_s=float(parameters["PollIntervalSeconds"]),
            safety_margin_s=float(poller_env.get("SAFETY_MARGIN_SECONDS", poller_defaults.safety_margin)),
            plugin_memory_mb=int(plugin_defaults["memory"]),
            plugin_batch_size=int(plugin_defaults["batch_size"]),
            log_retention_days=int(parameters["LogRetentionDays"]),
            fixed_alarms=len(alarms) - len(plugin_alarms),
            alarms_per_plugin=len(plugin_alarms) / max(1, len(plugin_prefixes)),
            dashboards=sum(r["Type"] == "AWS::CloudWatch::Dashboard" for r in resources.values()),
            kms_keys=sum(r["Type"] == "AWS::KMS::Key" for r in resources.values()),
            # The poller's script user (ShotgunSecretName, made by hand) and the stack's own.
            secrets_fixed=1 + sum(r["Type"] == "AWS::SecretsManager::Secret" for r in resources.values()),
            tables_with_pitr=sum(
                r["Type"] == "AWS::DynamoDB::Table"
                and r["Properties"]
                .get("PointInTimeRecoverySpecification", {})
                .get("PointInTimeRecoveryEnabled")
                for r in resources.values()
            ),
        )


# -- what the code does, measured --------------------------------------------------------------------


@dataclass
class Measured:
    events_per_publish_request: float
    message_bytes: float
    poller_passes: int  # in the steady invocation
    poller_log_bytes_per_pass: float
    poller_writes_per_pass: float
    poller_reads_per_invocation: float
    poller_metrics: int  # custom metrics with data on every invocation
    poller_cold_metrics: int  # only on a cold start
    dispatch_log_bytes_per_invocation: float
    dispatch_log_bytes_per_delivery: float
    dispatch_cpu_per_invocation: float
    dispatch_cpu_per_delivery: float
    dispatch_reads_per_delivery: float
    dispatch_writes_per_delivery: float
    fpt_calls_per_delivery: float
    dispatch_metrics_per_plugin: float
    ledger_item_bytes: float

    def print(self) -> None:
        print("\nMeasured (the real handlers on moto's server and the FPT emulator):")
        print(
            f"  poller : {self.events_per_publish_request:.1f} events per PublishBatch, "
            f"{self.message_bytes:.0f} B per message; steady invocation of {self.poller_passes} passes: "
            f"{self.poller_log_bytes_per_pass:.0f} log B and {self.poller_writes_per_pass:.2f} state writes "
            f"per pass, {self.poller_reads_per_invocation:.0f} state read per invocation, "
            f"{self.poller_metrics} custom metrics (+{self.poller_cold_metrics} on cold starts)"
        )
        m = self
        print(
            f"  dispatch (mean of the plugins' warm batches): log B {m.dispatch_log_bytes_per_invocation:.0f}"
            f" per invocation + {m.dispatch_log_bytes_per_delivery:.0f} per delivery; CPU "
            f"{m.dispatch_cpu_per_invocation * 1000:.1f} ms + {m.dispatch_cpu_per_delivery * 1000:.1f} ms;"
            f" DynamoDB {m.dispatch_reads_per_delivery:.2f} reads + {m.dispatch_writes_per_delivery:.2f}"
            f" writes and {m.fpt_calls_per_delivery:.2f} FPT calls per delivery; "
            f"{m.dispatch_metrics_per_plugin:.1f} custom metrics per plugin; ledger item "
            f"{m.ledger_item_bytes:.0f} B"
        )


def _requests(invocation: Invocation, *operations: str) -> int:
    return sum(invocation.aws_calls.get(op, 0) for op in operations)


READS = ("dynamodb.GetItem", "dynamodb.Query", "dynamodb.BatchGetItem")
WRITES = ("dynamodb.PutItem", "dynamodb.UpdateItem", "dynamodb.DeleteItem")


def _line_fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """(per invocation, per record) of `value = a + b * records` through two warm batches."""
    (n1, v1), (n2, v2) = sorted(points)[0], sorted(points)[-1]
    if n1 == n2:
        return 0.0, v2 / max(1, n2)
    slope = (v2 - v1) / (n2 - n1)
    return max(0.0, v1 - slope * n1), max(0.0, slope)


def measure(quick: bool) -> Measured:
    preload = 1_000 if quick else 2_000
    with tempfile.TemporaryDirectory(prefix="cost-") as tmp_name:
        tmp = Path(tmp_name)
        runtime = runtime_dir(tmp / "runtime", ARTIFACT_PACKAGES)
        code = ROOT / "lambda"  # the CodeUri: what sam build copies, beside its requirements
        with BenchStack(tmp, preload=preload) as stack:
            stack.start_poller_at(0)
            catch_up = stack.invoke("PollerFunction", code, runtime, [{}], end_when_idle=True).invocations[0]
            batches = catch_up.publish_batch_bytes
            published = catch_up.answer["published"]

            stack.emulator.activity.start(1.0)  # about 5 events a second: every pass has some
            try:
                timeout = 20.0 if quick else None
                steady = stack.invoke("PollerFunction", code, runtime, [{}, {}], timeout=timeout).invocations[
                    -1
                ]
            finally:
                stack.emulator.activity.stop()
            passes = max(1, int(steady.answer["passes"]))
            poller_metrics = steady.metrics()

            per_plugin: list[dict[str, float]] = []
            for plugin in stack.plugins:
                events = [stack.receive(plugin, n) for n in (10, 10, 1)]
                events = [e for e in events if e["Records"]]
                if len(events) < 2:
                    continue
                fpt_before = stack.fpt_calls()
                process = stack.invoke(stack.function_of(plugin), code, runtime, events)
                fpt = stack.fpt_calls() - fpt_before
                warm = list(zip(events[1:], process.invocations[1:], strict=True))
                records = sum(len(e["Records"]) for e, _ in warm)
                log_a, log_b = _line_fit([(len(e["Records"]), i.log_bytes()) for e, i in warm])
                cpu_a, cpu_b = _line_fit([(len(e["Records"]), i.cpu_seconds) for e, i in warm])
                metrics: set[Any] = set()
                for _, invocation in warm:
                    metrics |= invocation.metrics()
                per_plugin.append(
                    {
                        "log_a": log_a,
                        "log_b": log_b,
                        "cpu_a": cpu_a,
                        "cpu_b": cpu_b,
                        "reads": sum(_requests(i, *READS) for _, i in warm) / records,
                        "writes": sum(_requests(i, *WRITES) for _, i in warm) / records,
                        "fpt": fpt / sum(len(e["Records"]) for e in events),
                        "metrics": len(metrics),
                    }
                )
            items = stack.stack.client("dynamodb").scan(TableName=stack.stack.outputs.idempotency_table)[
                "Items"
            ]
            item_bytes = statistics.mean(_item_size(i) for i in items) if items else 200.0

    def mean(key: str) -> float:
        return statistics.mean(p[key] for p in per_plugin)

    return Measured(
        events_per_publish_request=published / max(1, len(batches)),
        message_bytes=sum(batches) / max(1, published),
        poller_passes=passes,
        poller_log_bytes_per_pass=steady.log_bytes() / passes,
        poller_writes_per_pass=_requests(steady, *WRITES) / passes,
        poller_reads_per_invocation=_requests(steady, *READS),
        poller_metrics=len(poller_metrics),
        poller_cold_metrics=len(catch_up.metrics() - poller_metrics),
        dispatch_log_bytes_per_invocation=mean("log_a"),
        dispatch_log_bytes_per_delivery=mean("log_b"),
        dispatch_cpu_per_invocation=mean("cpu_a"),
        dispatch_cpu_per_delivery=mean("cpu_b"),
        dispatch_reads_per_delivery=mean("reads"),
        dispatch_writes_per_delivery=mean("writes"),
        fpt_calls_per_delivery=mean("fpt"),
        dispatch_metrics_per_plugin=mean("metrics"),
        ledger_item_bytes=item_bytes,
    )


def _item_size(item: dict[str, dict[str, str]]) -> int:
    """DynamoDB's size of an item: attribute names plus values (numbers counted as their digits)."""
    return sum(len(name) + sum(len(str(v)) for v in value.values()) for name, value in item.items())


# -- the bill ------------------------------------------------------------------------------------------

Line = tuple[str, str, float]  # (service, what, $ a month)


def batch_fill(deliveries_per_second: float, pass_period: float, batch_size: int) -> float:
    """Mean records per dispatch invocation: the poller publishes a pass's events at once, and the
    event source takes what a queue holds (FIFO queues have no batching window)."""
    arrivals = deliveries_per_second * pass_period
    if arrivals <= 0:
        return 1.0
    return min(float(batch_size), arrivals / (1 - math.exp(-arrivals)))


def bill(
    events_per_day: float, s: StackSettings, m: Measured, fpt_seconds: float
) -> tuple[list[Line], list[Line]]:
    """(fixed lines, per-event lines) of one month."""
    p = PRICE
    month_seconds = HOURS_PER_MONTH * 3600
    events = events_per_day * DAYS_PER_MONTH
    deliveries = events * MATCH_FRACTION * PLUGINS
    pass_period = s.poll_interval_s + PASS_SECONDS
    polling = s.poller_timeout_s - s.safety_margin_s
    passes = s.poller_runs_per_month * polling / pass_period
    events_per_pass = events / passes
    functions = 1 + PLUGINS
    cold_starts = functions * COLD_STARTS_PER_FUNCTION_PER_DAY * DAYS_PER_MONTH

    fixed: list[Line] = [
        (
            "Lambda",
            "poller, always on: GB-s",
            p["lambda_gb_second"] * s.poller_memory_mb / 1024 * polling * s.poller_runs_per_month,
        ),
        ("Lambda", "poller requests", p["lambda_request"] * s.poller_runs_per_month),
        ("EventBridge Scheduler", "poller schedule", p["scheduler_invocation"] * s.poller_runs_per_month),
        (
            "CloudWatch Logs",
            "poller per invocation (platform lines)",
            p["logs_ingest_gb"] * s.poller_runs_per_month * PLATFORM_LOG_BYTES / 1e9,
        ),
        (
            "DynamoDB",
            "poller state read per invocation",
            p["dynamodb_read_unit"] * s.poller_runs_per_month * m.poller_reads_per_invocation,
        ),
        (
            "SQS",
            "event source idle polling",
            p["sqs_fifo_request"] * PLUGINS * ESM_IDLE_RECEIVES_PER_MINUTE * 60 * HOURS_PER_MONTH,
        ),
        (
            "CloudWatch",
            "custom metrics",
            p["cloudwatch_metric_month"]
            * (
                m.poller_metrics
                + PLUGINS * m.dispatch_metrics_per_plugin
                + m.poller_cold_metrics * min(1.0, COLD_STARTS_PER_FUNCTION_PER_DAY / 24)
            ),
        ),
        (
            "CloudWatch",
            "alarms",
            p["cloudwatch_alarm_month"] * (s.fixed_alarms + PLUGINS * s.alarms_per_plugin),
        ),
        ("CloudWatch", "dashboard", p["cloudwatch_dashboard_month"] * s.dashboards),
        ("KMS", "topic key", p["kms_key_month"] * s.kms_keys),
        ("KMS", "SNS data keys", p["kms_request"] * 2 * month_seconds / SNS_DATA_KEY_SECONDS),
        (
            "Secrets Manager",
            f"{s.secrets_fixed + PLUGINS} secrets + reads on cold starts",
            p["secret_month"] * (s.secrets_fixed + PLUGINS) + p["secret_request"] * cold_starts,
        ),
    ]

    per_plugin_rate = events_per_day * MATCH_FRACTION / 86_400
    fill = batch_fill(per_plugin_rate, pass_period, s.plugin_batch_size)
    invocations = deliveries / fill
    share = min(1.0, s.plugin_memory_mb / LAMBDA_MB_PER_VCPU)
    seconds_per_invocation = (
        (m.dispatch_cpu_per_invocation + fill * m.dispatch_cpu_per_delivery) / share
        + fill * (m.dispatch_reads_per_delivery + m.dispatch_writes_per_delivery) * DYNAMODB_CALL_SECONDS
        + fill * m.fpt_calls_per_delivery * fpt_seconds
    )
    chunks = math.ceil(m.message_bytes / MESSAGE_CHUNK)
    publish_requests = passes * max(1.0, math.ceil(events_per_pass / min(10.0, m.events_per_publish_request)))
    publish_chunks = max(publish_requests, events * m.message_bytes / MESSAGE_CHUNK)
    ingest = (
        passes * m.poller_log_bytes_per_pass
        + invocations * (PLATFORM_LOG_BYTES + m.dispatch_log_bytes_per_invocation)
        + deliveries * m.dispatch_log_bytes_per_delivery
    ) / 1e9
    ledger_gb = deliveries / DAYS_PER_MONTH * 14 * (m.ledger_item_bytes + ITEM_OVERHEAD_BYTES) / 1e9
    per_event: list[Line] = [
        ("SNS", "FIFO publish requests", p["sns_fifo_publish_request"] * publish_chunks),
        ("SNS", "FIFO publish payload", p["sns_fifo_publish_gb"] * events * m.message_bytes / 1e9),
        (
            "SNS",
            "FIFO deliveries to queues",
            p["sns_fifo_delivery"] * deliveries
            + p["sns_fifo_delivery_gb"] * deliveries * m.message_bytes / 1e9,
        ),
        ("SQS", "FIFO sends (from SNS)", p["sqs_fifo_request"] * deliveries * chunks),
        ("SQS", f"FIFO receives + deletes ({fill:.1f} per batch)", p["sqs_fifo_request"] * 2 * invocations),
        ("Lambda", "dispatch requests", p["lambda_request"] * invocations),
        (
            "Lambda",
            f"dispatch GB-s ({seconds_per_invocation * 1000:.0f} ms per batch)",
            p["lambda_gb_second"] * s.plugin_memory_mb / 1024 * seconds_per_invocation * invocations,
        ),
        (
            "DynamoDB",
            "effect-once ledger reads",
            p["dynamodb_read_unit"] * deliveries * m.dispatch_reads_per_delivery,
        ),
        (
            "DynamoDB",
            "effect-once ledger writes",
            p["dynamodb_write_unit"] * deliveries * m.dispatch_writes_per_delivery,
        ),
        (
            "DynamoDB",
            "ledger storage + PITR",
            (p["dynamodb_storage_gb_month"] + p["dynamodb_pitr_gb_month"]) * ledger_gb,
        ),
        ("DynamoDB", "poller state writes", p["dynamodb_write_unit"] * passes * m.poller_writes_per_pass),
        ("CloudWatch Logs", "ingestion (poller passes, dispatch)", p["logs_ingest_gb"] * ingest),
        (
            "CloudWatch Logs",
            f"storage ({s.log_retention_days} days)",
            p["logs_storage_gb_month"] * ingest / DAYS_PER_MONTH * s.log_retention_days * LOG_COMPRESSION,
        ),
    ]
    return fixed, per_event


def total(lines: list[Line]) -> float:
    return sum(cost for _, _, cost in lines)


def print_bill(s: StackSettings, m: Measured, fpt_seconds: float) -> None:
    bills = {n: bill(n, s, m, fpt_seconds) for n in SCENARIOS}
    width = 52
    heads = "".join(f"{_label(n):>12}" for n in SCENARIOS)
    print(f"\nMonthly bill, USD (prices of {PRICES_DATE}, us-east-1, arm64, no free tier)")
    print(f"{'':<{width}}{heads}")
    for section, index in (("Fixed", 0), ("Per event", 1)):
        print(f"{section}:")
        for row, (service, what, _) in enumerate(bills[SCENARIOS[0]][index]):
            costs = "".join(f"{bills[n][index][row][2]:>12.2f}" for n in SCENARIOS)
            print(f"  {service + ': ' + _strip_counts(what):<{width - 2}}{costs}")
        sums = "".join(f"{total(bills[n][index]):>12.2f}" for n in SCENARIOS)
        print(f"  {'= ' + section.lower():<{width - 2}}{sums}")
    grand = {n: total(bills[n][0]) + total(bills[n][1]) for n in SCENARIOS}
    print(f"{'Total':<{width}}" + "".join(f"{grand[n]:>12.2f}" for n in SCENARIOS))
    targets = "".join(f"{TARGETS[n]:>12.2f}" if n in TARGETS else f"{'':>12}" for n in SCENARIOS)
    ratios = "".join(f"{grand[n] / TARGETS[n]:>12.2f}" if n in TARGETS else f"{'':>12}" for n in SCENARIOS)
    print(f"{'Target':<{width}}{targets}")
    print(f"{'Ratio (total / target)':<{width}}{ratios}")
    for n in SCENARIOS:
        details = [f"{svc} {w}" for svc, w, _ in bills[n][1] if "(" in w and any(c.isdigit() for c in w)]
        print(f"  at {_label(n)}: {'; '.join(details)}")
    marginal = _marginal(s, m, fpt_seconds)
    print(f"\nMarginal cost of 1M (plugin, event) deliveries, at 1M events/day: ${marginal:.2f}")
    ranked = sorted(bills[1_000_000][0] + bills[1_000_000][1], key=lambda line: -line[2])[:4]
    print("Largest at 1M/day: " + ", ".join(f"{svc} {_strip_counts(w)} ${c:.2f}" for svc, w, c in ranked))


def _marginal(s: StackSettings, m: Measured, fpt_seconds: float) -> float:
    """The per-event cost of a million more deliveries at the batch fill of 1M events a day."""
    per_day = 1_000_000
    _, lines = bill(per_day, s, m, fpt_seconds)
    deliveries = per_day * DAYS_PER_MONTH * MATCH_FRACTION * PLUGINS
    poller_side = {"FIFO publish requests", "FIFO publish payload", "poller state writes"}
    dispatch_side = sum(c for _, w, c in lines if _strip_counts(w) not in poller_side)
    return dispatch_side / deliveries * 1e6


def _strip_counts(what: str) -> str:
    return what.split(" (")[0]


def _label(events_per_day: int) -> str:
    return (
        f"{events_per_day // 1_000_000}M/day"
        if events_per_day >= 1_000_000
        else f"{events_per_day // 1000}k/day"
    )


def print_assumptions(s: StackSettings, fpt_seconds: float) -> None:
    print(
        f"\nStack (template.yaml, plugins/stack.toml): poller {s.poller_memory_mb} MB, runs every "
        f"{HOURS_PER_MONTH * 60 / s.poller_runs_per_month:.0f} min for {s.poller_timeout_s:.0f} s "
        f"(polls {s.poller_timeout_s - s.safety_margin_s:.0f} s, interval {s.poll_interval_s:g} s); "
        f"{PLUGINS} plugins at {s.plugin_memory_mb} MB, batch {s.plugin_batch_size}, each matching "
        f"{MATCH_FRACTION:.0%} of events; logs kept {s.log_retention_days} days; {s.fixed_alarms} + "
        f"{s.alarms_per_plugin:g} per plugin alarms, {s.dashboards} dashboard, {s.kms_keys} KMS key, "
        f"{s.secrets_fixed} + 1 per plugin secrets, {s.tables_with_pitr} tables with PITR"
    )
    print(
        f"Assumed: FPT call {fpt_seconds * 1000:.0f} ms, DynamoDB call {DYNAMODB_CALL_SECONDS * 1000:.0f} ms,"
        f" poller pass {PASS_SECONDS:g} s + interval; CPU share = memory / {LAMBDA_MB_PER_VCPU} MB (CPU"
        f" measured here); event source idle polling {ESM_IDLE_RECEIVES_PER_MINUTE} receives/min per queue;"
        f" {PLATFORM_LOG_BYTES} B of platform log lines per invocation; logs stored at"
        f" {LOG_COMPRESSION:.0%} of their size; {HOURS_PER_MONTH} h a month; prices: {PRICES_SOURCES}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter measurements (CI)")
    parser.add_argument(
        "--fpt-ms", type=float, default=150.0, help="latency of one FPT API call (default 150)"
    )
    args = parser.parse_args()
    started = time.monotonic()
    settings = StackSettings.read()
    measured = measure(args.quick)
    measured.print()
    print_assumptions(settings, args.fpt_ms / 1000)
    print_bill(settings, measured, args.fpt_ms / 1000)
    print(f"\n({time.monotonic() - started:.0f} s; {'quick' if args.quick else 'full'} run)")


if __name__ == "__main__":
    main()
