"""Emulator start-up numbers: how long a new emulator takes and how much memory it holds.

Run: ``.venv/bin/python bench/emulator_start.py [--rounds 20]``.
Prints, in a fresh process: the import time of ``fpt_emulator``, the first emulator's build and
start (which loads the schema), the median of later ones (the schema is then cached), the memory
one emulator holds (tracemalloc, after a garbage collection) and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import time
import tracemalloc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20, help="later emulators to time (default 20)")
    args = parser.parse_args()

    start = time.perf_counter()
    from fpt_emulator import FptEmulator

    imported = time.perf_counter() - start

    start = time.perf_counter()
    emu = FptEmulator(seed=1).start()
    first = time.perf_counter() - start
    emu.stop()

    times = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        emu = FptEmulator(seed=1).start()
        times.append(time.perf_counter() - start)
        emu.stop()

    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    emu = FptEmulator(seed=1)
    gc.collect()
    after = tracemalloc.take_snapshot()
    held = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    tracemalloc.stop()
    schema = emu.site.schema
    fields = sum(len(e.fields) for e in schema.entities.values())
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"schema: {len(schema.entities)} entity types, {fields} fields")
    print(f"import fpt_emulator: {imported * 1000:.0f} ms")
    print(f"first emulator (build + start, schema loaded): {first * 1000:.1f} ms")
    if times:
        print(f"later emulators (median of {len(times)}): {statistics.median(times) * 1000:.1f} ms")
    print(f"memory held by one emulator: {held / 1024:.0f} KiB")
    print(f"process peak RSS: {peak_rss:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
