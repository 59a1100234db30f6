"""`shotgun-events demo`, short: the deployed shape on moto's server and the emulator, checked."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def demo(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "shotgun_events_tools", "demo", "--no-live", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=240)


def test_a_short_demo_loses_and_doubles_nothing_and_parks_only_the_poisoned_event(tmp_path: Path) -> None:
    summary_path = tmp_path / "summary.json"
    result = demo("--duration", "8", "--rate", "4", "--concurrency", "3", "--workdir", str(tmp_path),
                  "--summary-json", str(summary_path))  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "nothing lost, nothing doubled" in result.stdout
    summary = json.loads(summary_path.read_text())
    assert summary["problems"] == [] and summary["events"] > 20
    poisoned = summary["poisoned"]["create_shot_directories"]
    plugins = {p["name"]: p for p in summary["plugins"]}
    assert set(plugins) == {
        "clientApproval",
        "create_shot_directories",
        "datestamp",
        "field_to_field",
        "init_entity",
        "layout_final_animation_ready",
        "notify_on_hold",
    }
    for name, plugin in plugins.items():
        assert plugin["expected"] > 0, name  # every example plugin fired
        assert not plugin["lost"] and not plugin["duplicated"] and not plugin["unexpected"], name
        parked = [poisoned] if name == "create_shot_directories" else []
        assert plugin["dead_letters"] == parked, name
        assert plugin["delivered"] == plugin["expected"] - len(parked), name
    # Effects on the site (the plugins' own writes) and on disk (the Shot directories).
    for name in (
        "datestamp",
        "field_to_field",
        "init_entity",
        "layout_final_animation_ready",
        "notify_on_hold",
    ):
        assert summary["writes"][name] > 0, name
    shots = [p for p in (tmp_path / "shots" / "demo" / "no_sequence").iterdir() if p.is_dir()]
    assert shots and all((s / "work" / "animation").is_dir() for s in shots)


def test_a_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = demo("--duration", "1", "--aws-port", str(port), "--workdir", str(tmp_path))
    assert result.returncode == 2
    assert (
        result.stderr.strip() == f"shotgun-events demo: AWS (moto) port {port} on 127.0.0.1 is already in use"
    )
