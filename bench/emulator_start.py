"""Emulator start-up numbers: how long a new emulator takes and how much memory it holds.

Run: ``.venv/bin/python bench/emulator_start.py [--rounds 20]``.
Prints, in a fresh process: the import time of ``fpt_emulator``; the time and memory (tracemalloc)
of loading the stock schema, which happens once per process and is shared; the first emulator's
build and start, the median of later ones, the memory one more emulator holds (after a garbage
collection) and the process's peak RSS.
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
    from fpt_emulator import FptEmulator, default_schema

    imported = time.perf_counter() - start

    from fpt_emulator.stock import stock_schema, stock_wire

    start = time.perf_counter()
    default_schema()  # loads and caches the stock schema (what every emulator of the process shares)
    schema_seconds = time.perf_counter() - start
    stock_schema.cache_clear()  # once more, traced, for its memory
    stock_wire.cache_clear()
    gc.collect()
    tracemalloc.start()
    stock_schema()
    schema_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()

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
    print(f"schema load (once per process): {schema_seconds * 1000:.1f} ms, {schema_bytes / 1024:.0f} KiB")
    print(f"first emulator (build + start): {first * 1000:.1f} ms")
    if times:
        print(f"later emulators (median of {len(times)}): {statistics.median(times) * 1000:.1f} ms")
    print(f"memory held by one more emulator: {held / 1024:.0f} KiB")
    print(f"process peak RSS: {peak_rss:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
