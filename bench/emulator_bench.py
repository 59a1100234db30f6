"""Emulator numbers: preload speed and `find` throughput over HTTP with the real client.

Run: ``.venv/bin/python bench/emulator_bench.py [--events 100000] [--rounds 3] [--page-size 500]``.
Prints the time to preload N historical events, then rows/s for reading the whole event log
with ``sg.find`` (``--page-size``-row pages, ``id > cursor`` ascending, as an event poller reads
it), plus the server-side share of that time. Every section uses ``--page-size``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

from fpt_emulator import FptEmulator
from fpt_emulator.store import MAX_PAGE
from shotgun_events.events import EVENT_FIELDS as DAEMON_FIELDS

EVENT_FIELDS = [*DAEMON_FIELDS, "description"]


def _bounded(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {value}")
        return value

    return parse


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--events", type=_bounded(1, 10**8), default=100_000, help="events to preload (default 100000)"
    )
    parser.add_argument(
        "--rounds", type=_bounded(0, 1000), default=3, help="timed full reads (default 3; 0 skips them)"
    )
    parser.add_argument(
        "--page-size",
        type=_bounded(1, MAX_PAGE),
        default=MAX_PAGE,
        help=f"rows per page in every section (default and most {MAX_PAGE})",
    )
    args = parser.parse_args()
    page_size = args.page_size

    with FptEmulator(seed=1) as emu:
        start = time.perf_counter()
        first, last = emu.preload_events(args.events)
        preload = time.perf_counter() - start
        print(
            f"preload: {args.events:,} events (ids {first}..{last}) in {preload:.2f} s "
            f"= {args.events / preload:,.0f} events/s"
        )

        sg = emu.connect(timeout=30)
        sg.config._records_per_page = page_size  # the page size the client asks for in a find
        rates = []
        pages = 0
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
        if rates:
            print(
                f"find over HTTP (real shotgun_api3, {page_size}-row pages, {pages} calls/read): "
                f"median {statistics.median(rates):,.0f} rows/s (best {max(rates):,.0f}) "
                f"over {args.rounds} reads"
            )
        else:
            print("find over HTTP: skipped (--rounds 0)")

        # Cursor-style paging as a poller does it: one request per page, id > last seen.
        start = time.perf_counter()
        cursor, seen, calls = 0, 0, 0
        while True:
            page = sg.find(
                "EventLogEntry",
                [["id", "greater_than", cursor]],
                EVENT_FIELDS,
                order=[{"field_name": "id", "direction": "asc"}],
                limit=page_size,
            )
            calls += 1
            if not page:
                break
            seen += len(page)
            cursor = page[-1]["id"]
        elapsed = time.perf_counter() - start
        print(
            f"cursor reads (id > last, limit {page_size}): {seen:,} rows in {calls} calls, "
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
                "EventLogEntry",
                filters=filters,
                fields=EVENT_FIELDS,
                sorts=sorts,
                page=page_no,
                per_page=page_size,
            )
            json.dumps({"results": {"entities": result.rows}}, ensure_ascii=False)
            total += len(result.rows)
            if not result.has_next_page:
                break
            page_no += 1
        elapsed = time.perf_counter() - start
        print(f"server side only (read + JSON encode, {page_size}-row pages): {total / elapsed:,.0f} rows/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
