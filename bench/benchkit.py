"""What the benchmark scripts share: a quiet AWS environment, the emulator in its own process, and
percentiles and tables. Imported first by each script (it sets the environment boto3 reads)."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
for _name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
    os.environ.setdefault(_name, "bench")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"  # not a Lambda: nobody flushes them, no EMF flood

from shotgun_events.fpt import ScriptCredentials  # noqa: E402
from shotgun_events_tools.ports import free_port  # noqa: E402


@contextmanager
def emulator_process(
    preload: int = 0, latency: float = 0.0, scripts: Sequence[tuple[str, str]] = ()
) -> Iterator[tuple[str, ScriptCredentials]]:
    """The FPT emulator in a process of its own, as FPT is remote: its CPU is not ours.

    Yields its URL and the default script's credentials.
    """
    command = [sys.executable, "-m", "fpt_emulator", "--port", str(free_port()), "--latency", str(latency)]
    command += ["--preload", str(preload)]
    for name, key in scripts:
        command += ["--script", f"{name}:{key}"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url, credentials = None, None
        for line in process.stdout:
            if match := re.match(r"FPT emulator listening on (\S+)", line):
                url = match.group(1)
            if match := re.match(r"\s+(\S+) (\S+)\s+\(default\)", line):
                credentials = ScriptCredentials(match.group(1), match.group(2))
            if line.startswith("Ctrl-C"):
                break
        assert url and credentials, "the emulator did not print its URL and credentials"
        yield url, credentials
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def moto_process() -> Iterator[str]:
    """moto's server in a process of its own, as AWS is remote; boto3 clients made inside reach it
    (`AWS_ENDPOINT_URL`). Yields its URL."""
    url = f"http://127.0.0.1:{free_port()}"
    port = url.rsplit(":", 1)[1]
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", port]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    previous = os.environ.get("AWS_ENDPOINT_URL")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto's server did not start") from None
                time.sleep(0.1)
        os.environ["AWS_ENDPOINT_URL"] = url
        yield url
    finally:
        if previous is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = previous
        process.terminate()
        process.wait(timeout=10)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (NaN for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A Markdown table, ready for README."""
    print(f"\n{title}\n")
    print("| " + " | ".join(headers) + " |")
    print("|" + "---|" * len(headers))
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
    sys.stdout.flush()


def machine() -> str:
    """One line naming what the numbers were measured on."""
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} cores (nproc {len(os.sched_getaffinity(0))}), Python {sys.version.split()[0]}, "
        f"load average {load:.1f} at the start"
    )
