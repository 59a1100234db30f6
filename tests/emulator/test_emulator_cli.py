"""The standalone emulator: ``python -m fpt_emulator`` and ``cli.main``."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import shotgun_api3

from fpt_emulator.cli import build_parser, main


def ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# A shell starts a background job (`cmd &` in a script) with SIGINT ignored, and Python then keeps
# it ignored: the emulator must stop on Ctrl-C all the same.
@pytest.mark.parametrize("started_with", [None, ignore_sigint], ids=["sigint-default", "sigint-ignored"])
def test_module_runs_until_interrupted(tmp_path: Path, started_with: Callable[[], None] | None) -> None:
    snapshot = tmp_path / "site.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fpt_emulator",
            "--port",
            "0",
            "--seed",
            "3",
            "--script",
            "tool:tool-key",
            "--preload",
            "50",
            "--activity",
            "20",
            "--snapshot",
            str(snapshot),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=started_with,
    )
    try:
        assert proc.stdout is not None
        lines = []
        url = None
        for line in proc.stdout:
            lines.append(line)
            if "listening on" in line:
                url = line.split()[-1]
            if line.startswith("Ctrl-C"):
                break
        assert url, "".join(lines)
        output = "".join(lines)
        assert "preloaded events 1..50" in output
        assert "shotgun_events emulator-demo-key-0123456789" in output
        assert "tool tool-key" in output
        sg = shotgun_api3.Shotgun(url, "tool", "tool-key")
        sg.config.timeout_secs = 5
        assert len(sg.find("EventLogEntry", [["id", "less_than", 51]])) == 50
        proc.send_signal(signal.SIGINT)
        # communicate, not wait: it drains the pipes, so a chatty emulator cannot block on a full one.
        try:
            _, stderr = proc.communicate(timeout=60)  # a bound on a hang, not a speed target
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGUSR1)  # every thread's stack, to stderr
            time.sleep(1)
            proc.kill()
            _, stderr = proc.communicate()
            pytest.fail(f"the emulator did not stop on Ctrl-C; its threads:\n{stderr[-6000:]}")
        assert proc.returncode == 0, stderr[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    saved = json.loads(snapshot.read_text())
    assert saved["next_event_id"] > 50


@pytest.mark.parametrize("argv", [["--script", "no-key"], ["--activity", "-1"], ["--activity", "nan"]])
def test_bad_arguments(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    args = build_parser().parse_args(["--script", "a:b", "--script", "c:d:e"])
    assert args.script == [("a", "b"), ("c", "d:e")]
    assert args.port == 8765 and args.seed == 1


def test_port_in_use_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["--port", str(port)]) == 1
    assert "cannot listen" in capsys.readouterr().err
