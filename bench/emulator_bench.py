"""Emulator numbers: preload speed and `find` throughput over HTTP with the real client.

Run: ``.venv/bin/python bench/emulator_bench.py [--events 100000] [--rounds 3]``.
Prints the time to preload N historical events, then rows/s for reading the whole event log
with ``sg.find`` (500-row pages, ``id > cursor`` ascending, as an event poller reads it), plus
the server-side share of that time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from shotgun_events.emulator import FptEmulator
from shotgun_events.events import EVENT_FIELDS as DAEMON_FIELDS

EVENT_FIELDS = [*DAEMON_FIELDS, "description"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000, help="events to preload (default 100000)")
    parser.add_argument("--rounds", type=int, default=3, help="timed full reads (default 3)")
    parser.add_argument("--page-size", type=int, default=500)
    args = parser.parse_args()

    with FptEmulator(seed=1) as emu:
        start = time.perf_counter()
        first, last = emu.preload_events(args.events)
        preload = time.perf_counter() - start
        print(
            f"preload: {args.events:,} events (ids {first}..{last}) in {preload:.2f} s "
            f"= {args.events / preload:,.0f} events/s"
        )

        sg = emu.connect(timeout=30)
        rates = []
        for _ in range(args.rounds):
            emu.clear_writes()
            start = time.perf_counter()
            rows = sg.find(
                "EventLogEntry",
                [["id", "greater_than", 0]],
                EVENT_FIELDS,
                order=[{"field_name": "id", "direction": "asc"}],
            )
            elapsed = time.perf_counter() - start
            assert len(rows) == args.events, len(rows)
            rates.append(len(rows) / elapsed)
            pages = len(emu.calls)
        print(
            f"find over HTTP (real shotgun_api3, 500-row pages, {pages} calls/read): "
            f"median {statistics.median(rates):,.0f} rows/s (best {max(rates):,.0f}) over {args.rounds} reads"
        )

        # Cursor-style paging as a poller does it: one request per page, id > last seen.
        start = time.perf_counter()
        cursor, seen, calls = 0, 0, 0
        while True:
            page = sg.find(
                "EventLogEntry",
                [["id", "greater_than", cursor]],
                EVENT_FIELDS,
                order=[{"field_name": "id", "direction": "asc"}],
                limit=args.page_size,
            )
            calls += 1
            if not page:
                break
            seen += len(page)
            cursor = page[-1]["id"]
        elapsed = time.perf_counter() - start
        print(
            f"cursor reads (id > last, limit {args.page_size}): {seen:,} rows in {calls} calls, "
            f"{seen / elapsed:,.0f} rows/s"
        )

        # Server side alone: the same pages without HTTP or the client's decoding.
        filters = {
            "logical_operator": "and",
            "conditions": [{"path": "id", "relation": "greater_than", "values": [0]}],
        }
        sorts = [{"field_name": "id", "direction": "asc"}]
        start = time.perf_counter()
        total, page_no = 0, 1
        while True:
            result = emu.site.read(
                "EventLogEntry", filters=filters, fields=EVENT_FIELDS, sorts=sorts, page=page_no, per_page=500
            )
            json.dumps({"results": {"entities": result.rows}}, ensure_ascii=False)
            total += len(result.rows)
            if not result.has_next_page:
                break
            page_no += 1
        elapsed = time.perf_counter() - start
        print(f"server side only (read + JSON encode): {total / elapsed:,.0f} rows/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
