"""Where the project is: plugin paths in tests and commands are taken from its root, not the CWD."""

from __future__ import annotations

from pathlib import Path

#: Files that mark a project's root (the first directory up from the working one holding one).
ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "pytest.ini", "tox.ini", ".git")


def find_project_root(start: Path | None = None) -> Path:
    """The project root: the nearest directory from ``start`` (default: the working one) up that
    holds one of ``ROOT_MARKERS``; ``start`` itself if none does."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if any((folder / marker).exists() for marker in ROOT_MARKERS):
            return folder
    return here
