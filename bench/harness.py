"""The deployed shape for the footprint and cost benches: the real handlers in Lambda-like processes.

`BenchStack` starts the FPT emulator (with preloaded history) and moto's server on loopback, creates
`template.yaml`'s stack on it (the offline translation the demo uses: real filter policies, FIFO
groups, tables) with its secrets, then runs handlers with `invoke`: each invocation is a process
of its own (`bench/lambda_child.py`) whose sys.path holds only what Lambda's would, its code root
(a `sam build` artifact, or `lambda/`, the CodeUri) and a stand-in for the Powertools layer and
the runtime's boto3. What the handler prints is kept: it is what CloudWatch Logs would ingest.

Not a test, nothing here asserts: the benches print what it measures.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shotgun_events_tools.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
SAM = Path(os.environ.get("SAM_CLI", ROOT / ".venv-sam" / "bin" / "sam"))
CHILD = Path(__file__).with_name("lambda_child.py")
REGION = "us-east-1"
# What the Lambda Python runtime brings (boto3) and what Powertools' public layer holds.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3")
LAYER_PACKAGES = ("aws_lambda_powertools", "aws_xray_sdk", "wrapt", "typing_extensions.py")
# What `sam build` installs into each artifact (lambda/requirements.txt): needed beside `lambda/`.
ARTIFACT_PACKAGES = ("shotgun_api3",)
AWS_ENV = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "PYTHONDONTWRITEBYTECODE": "1",  # /var/task is read-only: Lambda compiles the artifact every cold start
}


def site_packages() -> Path:
    return Path(next(p for p in sys.path if p.endswith("site-packages")))


def runtime_dir(target: Path, extra: tuple[str, ...] = ()) -> Path:
    """A directory standing in for the Lambda runtime and the Powertools layer (symlinks)."""
    target.mkdir(parents=True, exist_ok=True)
    site = site_packages()
    for name in RUNTIME_PACKAGES + LAYER_PACKAGES + extra:
        link = target / name
        if not link.exists():
            link.symlink_to(site / name)
    return target


def sam_build(build_dir: Path) -> dict[str, Path]:
    """`sam build` of template.yaml into `build_dir`: logical id -> artifact directory."""
    result = subprocess.run(
        [str(SAM), "build", "--template", str(TEMPLATE), "--build-dir", str(build_dir)],
        cwd=ROOT,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": REGION},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"sam build failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return {p.name: p for p in sorted(build_dir.iterdir()) if p.is_dir()}


def zipped_size(directory: Path) -> int:
    """Bytes of the deployment zip of a directory (deflated, as SAM packages it)."""
    with tempfile.TemporaryFile() as buffer:
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(directory.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(directory))
        return buffer.tell()


@dataclass
class Invocation:
    """One handler invocation: its output lines (its part of the log stream) and what it measured."""

    lines: list[str]
    answer: Any
    cpu_seconds: float
    wall_seconds: float
    aws_calls: dict[str, int]
    publish_batch_bytes: list[int] = field(default_factory=list)

    def emf_lines(self) -> list[str]:
        return [line for line in self.lines if '"_aws"' in line and '"CloudWatchMetrics"' in line]

    def log_bytes(self) -> int:
        """Bytes CloudWatch Logs ingests for these lines (one log event per line)."""
        return sum(len(line.encode()) for line in self.lines)

    def metrics(self) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
        """(metric name, dimensions) of every EMF data point: each is one CloudWatch custom metric."""
        found = set()
        for line in self.emf_lines():
            document = json.loads(line)
            for directive in document["_aws"]["CloudWatchMetrics"]:
                for dimension_set in directive["Dimensions"]:
                    dims = tuple(sorted((d, str(document.get(d))) for d in dimension_set))
                    for metric in directive["Metrics"]:
                        found.add((metric["Name"], dims))
        return found


@dataclass
class Process:
    """A process that ran invocations one after the other (the first one cold) and its memory."""

    invocations: list[Invocation]
    peak_rss_kb: int
    rss_after_import_kb: int

    @property
    def peak_rss_mb(self) -> float:
        return self.peak_rss_kb / 1024


class BenchStack:
    """FPT emulator + moto server + the stack of template.yaml, for running the real handlers."""

    def __init__(self, workdir: Path, *, preload: int, seed: int = 1, stack_name: str = "bench"):
        self.workdir = workdir
        self.preload = preload
        self.seed = seed
        self.stack_name = stack_name
        self.endpoint_url = f"http://127.0.0.1:{free_port()}"
        self.emulator: Any = None
        self.stack: Any = None
        self._server: Any = None
        self._saved_env: dict[str, str | None] = {}

    def __enter__(self) -> BenchStack:
        from moto.server import ThreadedMotoServer

        from fpt_emulator import FptEmulator
        from shotgun_events_tools.demo.pipeline import create_secrets
        from shotgun_events_tools.stack.embedded import create_stack

        env = {**AWS_ENV, "AWS_ENDPOINT_URL": self.endpoint_url}
        self._saved_env = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        self.emulator = FptEmulator(seed=self.seed)
        if self.preload:
            self.emulator.preload_events(self.preload)
        self.emulator.start()
        port = int(self.endpoint_url.rsplit(":", 1)[1])
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self._server.start()
        self.stack = create_stack(
            TEMPLATE,
            self.stack_name,
            {"ShotgunUrl": self.emulator.url},
            region=REGION,
            endpoint_url=self.endpoint_url,
        )
        create_secrets(self.stack, self.emulator, ROOT / "plugins", self.workdir)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.stop()
        if self.emulator is not None:
            self.emulator.stop()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    # -- the stack's functions -------------------------------------------------------------------------

    @property
    def plugins(self) -> list[str]:
        return sorted(self.stack.outputs.plugins)

    def function_of(self, plugin: str) -> str:
        """The logical id of a plugin's dispatch function."""
        return str(self.stack.function_logical_id(self.stack.outputs.plugin(plugin).function_name))

    def properties(self, logical_id: str) -> dict[str, Any]:
        return dict(self.stack.properties(logical_id))

    def environment(self, logical_id: str) -> dict[str, str]:
        """The function's environment as the stack sets it, plus what Lambda adds (and moto's address)."""
        properties = self.properties(logical_id)
        return {
            **self.stack.environment(logical_id),
            **AWS_ENV,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_LAMBDA_FUNCTION_NAME": self.stack.physical[logical_id],
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(properties.get("MemorySize", 128)),
        }

    def start_poller_at(self, cursor: int) -> None:
        """Put the poller's cursor at `cursor` (an operator's `init-state --force`)."""
        from shotgun_events.poller import initialise
        from shotgun_events.poller.state_store import DynamoDBStateStore

        store = DynamoDBStateStore(
            self.stack.outputs.state_table, self.emulator.url, self.stack.client("dynamodb")
        )
        initialise(store, cursor, force=True)

    def receive(self, plugin: str, count: int = 10) -> dict[str, Any]:
        """Up to `count` messages of the plugin's queue as Lambda's SQS event (left in the queue)."""
        from shotgun_events_tools.local.event_source import lambda_record

        sqs, url = self.stack.client("sqs"), self.stack.outputs.plugin(plugin).queue_url
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        messages: list[dict[str, Any]] = []
        while len(messages) < count:
            got = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(10, count - len(messages)),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                VisibilityTimeout=600,
            ).get("Messages", [])
            if not got:
                break
            messages.extend(got)
        return {"Records": [lambda_record(m, arn, REGION) for m in messages]}

    def fpt_calls(self) -> int:
        return len(self.emulator.calls)

    # -- running a handler ---------------------------------------------------------------------------

    def invoke(
        self,
        logical_id: str,
        code: Path,
        runtime: Path,
        events: list[dict[str, Any]],
        *,
        env: dict[str, str] | None = None,
        end_when_idle: bool = False,
        timeout: float | None = None,
    ) -> Process:
        """Run the function's handler on each event in turn, in one new process, with the stack's
        settings (the first invocation is a cold start); `timeout` shortens the function's."""
        properties = self.properties(logical_id)
        spec = {
            "path": [str(code), str(runtime)],
            "cwd": str(code),
            "handler": properties["Handler"],
            "env": {**self.environment(logical_id), **(env or {})},
            "events": events,
            "timeout": timeout or float(properties.get("Timeout", 3)),
            "memory": int(properties.get("MemorySize", 128)),
            "end_when_idle": end_when_idle,
        }
        with tempfile.TemporaryDirectory(prefix="invoke-") as tmp:
            spec_path, result_path = Path(tmp) / "spec.json", Path(tmp) / "result.json"
            stdout_path = Path(tmp) / "stdout"
            spec_path.write_text(json.dumps(spec))
            with stdout_path.open("wb") as stdout:
                done = subprocess.run(
                    [sys.executable, "-S", str(CHILD), str(spec_path), str(result_path)],
                    stdout=stdout,
                    stderr=subprocess.PIPE,
                    text=True,
                    timeout=900,
                    env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONDONTWRITEBYTECODE": "1"},
                )
            if done.returncode != 0 or not result_path.exists():
                raise RuntimeError(f"{logical_id} invocation failed:\n{done.stderr[-4000:]}")
            result = json.loads(result_path.read_text())
            output = stdout_path.read_bytes()
        invocations, start = [], 0
        for item in result["invocations"]:
            end = item.pop("stdout_end")
            invocations.append(Invocation(lines=output[start:end].decode().splitlines(), **item))
            start = end
        return Process(invocations, result["peak_rss_kb"], result["rss_after_import_kb"])


def import_time_ms(code: Path, runtime: Path, module: str, env: dict[str, str]) -> tuple[float, list[str]]:
    """Cold import of `module` with `python -X importtime -S` from `code` (what Lambda's init does).

    Returns the milliseconds the import took (the sum of the self times `-X importtime` reports
    for it) and the five distributions that took most of it (self times summed per top-level
    package, e.g. `botocore 210`).
    """
    marker = "shotgun-events-bench-import"
    script = (
        "import sys; "
        f"sys.path[:0] = [{str(code)!r}, {str(runtime)!r}]; "
        f"sys.stderr.write({marker!r} + '\\n'); sys.stderr.flush(); "
        f"import {module}"
    )
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-S", "-c", script],
        cwd=code,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **AWS_ENV, **env},
    )
    if done.returncode != 0:
        raise RuntimeError(f"import {module} failed:\n{done.stderr[-3000:]}")
    lines = done.stderr.splitlines()
    lines = lines[lines.index(marker) + 1 :]
    pattern = re.compile(r"import time:\s+(\d+) \|\s+\d+ \| *(\S+)")
    per_package: dict[str, int] = {}
    for line in lines:
        match = pattern.match(line)
        if match:
            package = match.group(2).split(".")[0]
            per_package[package] = per_package.get(package, 0) + int(match.group(1))
    heaviest = sorted(per_package.items(), key=lambda kv: -kv[1])[:5]
    return sum(per_package.values()) / 1000, [f"{name} {us / 1000:.0f}" for name, us in heaviest]
