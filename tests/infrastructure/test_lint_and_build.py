"""The offline checks a deploy would otherwise find first: cfn-lint (on the SAM template and on its
translation), `sam validate --lint`, and `sam build` with the artifact holding runtime code only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.infrastructure.conftest import ROOT, TEMPLATE

SAM = Path(os.environ.get("SAM_CLI", ROOT / ".venv-sam" / "bin" / "sam"))
ENV = {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1"}
# What a function's code may hold: our runtime, the plugins, and the packages lambda/requirements.txt
# installs (shotgun_api3 and the plugins' own).
ALLOWED_TOP_LEVEL = {"functions", "shotgun_events", "plugins", "requirements.txt", "shotgun_api3"}
# The Lambda runtime's boto3 and Powertools' layer, for importing a handler the way Lambda does.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3")
LAYER_PACKAGES = ("aws_lambda_powertools", "aws_xray_sdk", "wrapt", "typing_extensions.py")


def sam() -> Path:
    if not SAM.exists():
        pytest.fail(f"SAM CLI not found at {SAM}: `make test` installs it (or set SAM_CLI)")
    return SAM


def run(*command: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in command], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=300
    )


def test_cfn_lint_is_clean_on_the_template_and_on_its_translation(
    translated: dict[str, Any], tmp_path: Path
) -> None:
    # cfn-lint >= 1.54 no longer expands SAM itself: the translation is linted as plain CloudFormation.
    plain = tmp_path / "translated.json"
    plain.write_text(json.dumps(translated))
    for path in (TEMPLATE, plain):
        result = run(Path(sys.executable).parent / "cfn-lint", "--", str(path))
        assert result.returncode == 0, f"{path.name}:\n{result.stdout}{result.stderr}"


def test_sam_validate_lint() -> None:
    result = run(sam(), "validate", "--lint", "--template", TEMPLATE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_build_makes_runtime_only_artifacts_whose_handlers_import(tmp_path: Path) -> None:
    build = tmp_path / "build"
    result = run(sam(), "build", "--template", TEMPLATE, "--build-dir", build)
    assert result.returncode == 0, result.stdout + result.stderr
    functions = sorted(p for p in build.iterdir() if p.is_dir())
    assert [p.name for p in functions][:1] and (build / "PollerFunction").is_dir()
    for artifact in functions:
        top = {p.name for p in artifact.iterdir() if not p.name.endswith(".dist-info")}
        assert top <= ALLOWED_TOP_LEVEL, f"{artifact.name} ships {sorted(top - ALLOWED_TOP_LEVEL)}"
        leaked = [
            p
            for p in artifact.rglob("*")
            if p.name in {"__pycache__", "tests", ".venv"} or p.suffix == ".pyc"
        ]
        assert not leaked, leaked[:5]
    site = Path(next(p for p in sys.path if p.endswith("site-packages")))
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for name in RUNTIME_PACKAGES + LAYER_PACKAGES:
        (runtime / name).symlink_to(site / name)
    for artifact, handler in (
        (build / "PollerFunction", "functions.poller.app"),
        (functions[0], "functions.dispatch.app"),
    ):
        # -S: no site-packages, only what Lambda would have (artifact, layer, runtime).
        code = (
            f"import sys; sys.path[:0] = [{str(artifact)!r}, {str(runtime)!r}]; import {handler} as h; "
            "assert callable(h.lambda_handler); "
            "assert not [m for m in sys.modules "
            "if m.startswith(('fpt_emulator', 'shotgun_events_tools', 'tests'))]"
        )
        result = run(sys.executable, "-S", "-c", code, cwd=tmp_path)
        assert result.returncode == 0, f"{artifact.name}: {result.stderr[-2000:]}"
