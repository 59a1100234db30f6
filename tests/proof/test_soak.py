"""The soak with faults, reduced to a thousand changes (`bench/soak.py` runs the full 50,000).

Held transactions, rollbacks and oversize events; FPT 503s, dropped connections and hangs; SNS and
SQS calls failing; the poller killed at random points; a plugin failing transiently and always on
one event until its fix and a redrive. The verdict is counted from each plugin's own effects
against the emulator's record of what committed. Timeouts are scaled down; nothing is timed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REDUCED = ["--events", "1000", "--rate", "50", "--kills", "3", "--backlog-timeout", "4",
           "--visibility-timeout", "5", "--schedule-seconds", "5", "--oversize-rate", "0.005"]  # fmt: skip


def test_the_reduced_soak_loses_doubles_and_reorders_nothing(tmp_path: Path) -> None:
    summary_path = tmp_path / "summary.json"
    command = [
        sys.executable,
        "bench/soak.py",
        *REDUCED,
        "--workdir",
        str(tmp_path),
        "--summary-json",
        str(summary_path),
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    summary = json.loads(summary_path.read_text())
    assert summary["problems"] == []

    plugins = {p["plugin"]: p for p in summary["plugins"]}
    assert set(plugins) == {"soak_steady", "soak_flaky"}
    for name, plugin in plugins.items():
        assert plugin["expected"] > 0 and plugin["delivered"] == plugin["expected"], name
        for broken in ("duplicated", "lost", "unexpected", "out_of_order", "in_dlq"):
            assert plugin[broken] == [], (name, broken)
    assert plugins["soak_steady"]["expected"] == summary["events"]  # every committed change, none other
    assert 0 < plugins["soak_flaky"]["expected"] < summary["events"]  # its filter: status changes only
    assert plugins["soak_flaky"]["failed_attempts"] > 0

    # The poisoned event was parked, alone, then ran once after the fix and the redrive.
    assert summary["parked_before_fix"] == [summary["poisoned_event"]]
    assert summary["redriven"] == 1 and summary["poison_effects_after_redrive"] == 1

    # Every fault was really there.
    assert len(summary["kills"]) == 3
    assert summary["rolled_back"] > 0 and summary["delayed"] > 0 and summary["oversize"] > 0
    assert sum(summary["aws_faults"].values()) > 0 and sum(summary["fpt_faults"].values()) > 0
