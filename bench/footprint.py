"""Benchmark 3, footprint: what each Lambda function costs to start and to hold, beside its limits.

From a `sam build` of template.yaml, with each handler imported the way Lambda would (only the
artifact, a stand-in for the Powertools layer and the runtime's boto3 on sys.path; `-S`; no
bytecode caches for the artifact, whose directory is read-only in Lambda):

- cold import time of each handler (`python -X importtime`, median of `--runs`), target 300 ms,
  beside `import boto3` alone measured the same way (the floor of any handler that calls AWS:
  this machine is shared and noisy, so read the ratio);
- each artifact's deployment zip, target 5 MB;
- peak RSS of a poller catch-up over `--events` preloaded events and of dispatch batches of 10
  (cold, then warm) for every deployed plugin, each a process of its own, against the FPT emulator
  and moto's server; target: fits 128 MB. The function's configured memory is shown beside it.

Not a test: it prints a table.

    .venv/bin/python bench/footprint.py [--quick] [--events 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import compileall
import py_compile
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    BenchStack,
    import_time_ms,
    runtime_dir,
    sam_build,
    zipped_size,
)

IMPORT_TARGET_MS = 300.0
ARTIFACT_TARGET_MB = 5.0
MEMORY_TARGET_MB = 128.0


def row(what: str, value: float, unit: str, target: float, note: str = "") -> str:
    ratio = value / target
    verdict = "ok" if ratio <= 1 else "OVER"
    return f"{what:<54} {value:>9.1f} {unit:<3} {target:>7.0f} {unit:<3} {ratio:>6.2f}  {verdict:<4}  {note}"


def header(title: str) -> None:
    print(f"\n{title}")
    print(f"{'':<54} {'measured':>13} {'target':>11} {'ratio':>6}")


def handler_modules(build: Path) -> dict[str, str]:
    """Handler module -> the logical id of a function built with it (every function of the
    template, whether or not a default stack turns it on)."""
    from shotgun_events_tools.stack.translate import load_template

    modules: dict[str, str] = {}
    for logical_id, resource in load_template(build / "template.yaml")["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            modules.setdefault(resource["Properties"]["Handler"].rpartition(".")[0], logical_id)
    return modules


def compiled_copy(artifact: Path, target: Path) -> Path:
    """A copy of the artifact with bytecode that needs no source check (what a read-only /var/task
    would need to skip compiling at each cold start)."""
    shutil.copytree(artifact, target)
    compileall.compile_dir(
        target, quiet=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH, workers=1
    )
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 events, 3 import runs (CI)")
    parser.add_argument("--events", type=int, help="events the poller catches up on (default 10,000)")
    parser.add_argument("--runs", type=int, help="import runs per handler, the median is shown (default 5)")
    args = parser.parse_args()
    events = args.events or (2_000 if args.quick else 10_000)
    runs = args.runs or (3 if args.quick else 5)
    started = time.monotonic()

    with tempfile.TemporaryDirectory(prefix="footprint-") as tmp_name:
        tmp = Path(tmp_name)
        artifacts = sam_build(tmp / "build")
        runtime = runtime_dir(tmp / "runtime")
        with BenchStack(tmp, preload=events) as stack:
            modules = handler_modules(tmp / "build")
            import_env = stack.environment("PollerFunction")  # imports read no configuration

            header(f"Cold import (python -X importtime -S from the artifact, median of {runs})")
            floor = statistics.median(
                import_time_ms(artifacts["PollerFunction"], runtime, "boto3", {})[0] for _ in range(runs)
            )
            for module, logical_id in modules.items():
                env = {**import_env, "AWS_LAMBDA_FUNCTION_NAME": logical_id}
                timings = [import_time_ms(artifacts[logical_id], runtime, module, env) for _ in range(runs)]
                median = statistics.median(t[0] for t in timings)
                heaviest = ", ".join(timings[0][1][:4])
                print(
                    row(module, median, "ms", IMPORT_TARGET_MS, f"{median / floor:.1f}x boto3 | {heaviest}")
                )
                compiled = compiled_copy(artifacts[logical_id], tmp / "compiled" / logical_id)
                median_compiled = statistics.median(
                    import_time_ms(compiled, runtime, module, env)[0] for _ in range(runs)
                )
                saved = f"{median - median_compiled:.0f} ms of each cold start compiles the artifact"
                print(
                    row(
                        "  the same, artifact shipped with .pyc",
                        median_compiled,
                        "ms",
                        IMPORT_TARGET_MS,
                        saved,
                    )
                )
            print(row("reference: import boto3 alone", floor, "ms", IMPORT_TARGET_MS, "the floor"))

            header("Artifact (deployment zip, deflated)")
            sizes: dict[int, list[str]] = {}
            for logical_id, artifact in artifacts.items():
                sizes.setdefault(zipped_size(artifact), []).append(logical_id)
            for size, names in sorted(sizes.items()):
                label = names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more"
                print(row(label, size / 2**20, "MB", ARTIFACT_TARGET_MB))

            header("Peak RSS (VmHWM of the function's process: interpreter, imports, invocations)")
            stack.start_poller_at(0)
            poller_peak, passes, published, invocations = 0.0, 0, 0, 0
            while published < events and invocations < 10:
                # Lambda's longest timeout: moto publishes far slower than SNS, and on AWS the whole
                # catch-up fits one invocation; it ends once caught up (`end_when_idle`).
                process = stack.invoke(
                    "PollerFunction",
                    artifacts["PollerFunction"],
                    runtime,
                    [{}],
                    end_when_idle=True,
                    timeout=900,
                )
                answer = process.invocations[0].answer
                poller_peak = max(poller_peak, process.peak_rss_mb)
                passes += answer["passes"]
                published += answer["published"]
                invocations += 1
            memory = stack.properties("PollerFunction").get("MemorySize")
            print(
                row(
                    f"poller: catch-up over {published:,} events",
                    poller_peak,
                    "MB",
                    MEMORY_TARGET_MB,
                    f"{passes} passes in {invocations} invocation(s); configured {memory} MB",
                )
            )
            for plugin in stack.plugins:
                logical_id = stack.function_of(plugin)
                batches = [stack.receive(plugin, 10), stack.receive(plugin, 10)]
                batches = [b for b in batches if b["Records"]]
                if not batches:
                    print(f"dispatch {plugin}: no events of the preloaded history match it")
                    continue
                process = stack.invoke(logical_id, artifacts[logical_id], runtime, batches)
                failed = sum(len(i.answer["batchItemFailures"]) for i in process.invocations)
                memory = stack.properties(logical_id).get("MemorySize")
                sizes_text = "+".join(str(len(b["Records"])) for b in batches)
                print(
                    row(
                        f"dispatch {plugin}: batches of {sizes_text}",
                        process.peak_rss_mb,
                        "MB",
                        MEMORY_TARGET_MB,
                        f"{process.rss_after_import_kb / 1024:.0f} MB after imports; configured {memory} MB"
                        + (f"; {failed} records failed" if failed else ""),
                    )
                )
    print(f"\n({time.monotonic() - started:.0f} s; {'quick' if args.quick else 'full'} run, {sys.platform})")


if __name__ == "__main__":
    main()
