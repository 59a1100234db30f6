"""Lambda invocations in a process of their own, the way the Lambda runtime runs them (for `bench/`).

    python -S bench/lambda_child.py SPEC.json RESULT.json

SPEC: `path` (what Lambda puts on sys.path: the artifact, then the layer and runtime stand-ins),
`handler` (`functions.poller.app.lambda_handler`), `env`, `events` (one invocation each, in this
one process: the first is the cold start, the others warm), `timeout` (seconds, each context's
deadline), `memory` (MB, as the context reports it), `cwd` (Lambda's is the artifact). Only the
standard library is imported before `path` is set, so nothing else of this machine leaks in (`-S`:
no site-packages).

What the handler prints goes to stdout untouched (a file): that is what CloudWatch Logs would
receive. The RESULT file gets, per invocation, the handler's answer, where its output ends in
stdout, its CPU and wall time and the AWS requests it made (counted in botocore,
`service.Operation` -> count, and for SNS `PublishBatch` the payload bytes of each request); and
the process's peak RSS, after the imports and at the end.

`end_when_idle`: the poller sleeps only after a page that was not full, that is once it has
caught up; the first sleep then ends the invocation (the context reports no time left), so a
catch-up is measured without the idle minute that would follow it.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import time
import uuid
from collections import Counter
from typing import Any


class Context:
    """What the handlers and Powertools read from a Lambda context."""

    function_version = "$LATEST"
    log_stream_name = "bench"

    def __init__(self, function_name: str, timeout: float, memory_mb: int):
        self.function_name = function_name
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def peak_rss_kb() -> int:
    """This process's peak resident set: VmHWM, which starts afresh at exec (ru_maxrss would carry
    the forking parent's); ru_maxrss where /proc is missing."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def count_aws_requests(calls: Counter[str], publish_bytes: list[int]) -> None:
    import botocore.client

    make_api_call = botocore.client.BaseClient._make_api_call  # type: ignore[attr-defined]

    def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
        service = client.meta.service_model.service_name
        calls[f"{service}.{operation}"] += 1
        if service == "sns" and operation == "PublishBatch":
            publish_bytes.append(
                sum(
                    len(e.get("Message", "").encode())
                    + sum(
                        len(k) + len(v.get("StringValue", ""))
                        for k, v in e.get("MessageAttributes", {}).items()
                    )
                    for e in params.get("PublishBatchRequestEntries", [])
                )
            )
        return make_api_call(client, operation, params)

    botocore.client.BaseClient._make_api_call = counted  # type: ignore[attr-defined]


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as spec_file:
        spec = json.load(spec_file)
    sys.path[:0] = spec["path"]
    os.environ.update(spec["env"])
    os.chdir(spec.get("cwd", spec["path"][0]))
    name = spec["env"].get("AWS_LAMBDA_FUNCTION_NAME", "bench")
    contexts: list[Context] = []
    if spec.get("end_when_idle"):

        def end_invocation(seconds: float) -> None:
            contexts[-1].deadline = time.monotonic()

        time.sleep = end_invocation  # type: ignore[assignment]
    calls: Counter[str] = Counter()
    publish_bytes: list[int] = []
    count_aws_requests(calls, publish_bytes)
    module_name, _, attribute = spec["handler"].rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute)
    result: dict[str, Any] = {"rss_after_import_kb": peak_rss_kb(), "invocations": []}
    for event in spec["events"]:  # one after the other in this process: the first is the cold start
        calls.clear()
        publish_bytes.clear()
        contexts.append(Context(name, spec["timeout"], spec["memory"]))
        cpu, wall = time.process_time(), time.perf_counter()
        answer = handler(event, contexts[-1])
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        sys.stdout.flush()
        result["invocations"].append(
            {
                "answer": answer,
                "cpu_seconds": cpu,
                "wall_seconds": wall,
                "aws_calls": dict(calls),
                "publish_batch_bytes": list(publish_bytes),
                "stdout_end": os.lseek(sys.stdout.fileno(), 0, os.SEEK_CUR),  # stdout is a file
            }
        )
    result["peak_rss_kb"] = peak_rss_kb()
    with open(sys.argv[2], "w", encoding="utf-8") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main()
