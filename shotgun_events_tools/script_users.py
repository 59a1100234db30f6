"""The script users a plugin reads from its environment, found in its source (the daemon's convention
`SGDAEMON_<X>_NAME` / `_KEY`), and stand-in values for them: for the authors' kit, the demo and
`validate-plugins`, none of which may ask a studio for its real keys."""

from __future__ import annotations

import re

_SCRIPT_ENV = re.compile(r"""["']([A-Z][A-Z0-9_]*_(?:NAME|KEY))["']""")


def script_env_names(source: str) -> list[str]:
    """Environment variable names ending in `_NAME` / `_KEY` quoted in a plugin's source."""
    return sorted(set(_SCRIPT_ENV.findall(source)))


def default_script_env(names: list[str]) -> dict[str, str]:
    """A script name / key for each variable: `SGDAEMON_X_NAME` -> `sgdaemon_x`, `_KEY` -> a test key."""
    env: dict[str, str] = {}
    for name in names:
        stem = name.rsplit("_", 1)[0].lower()
        env[name] = stem if name.endswith("_NAME") else f"test-key-{stem}"
    return env
