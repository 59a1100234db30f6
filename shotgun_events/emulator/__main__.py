"""``python -m shotgun_events.emulator``."""

from .cli import main

raise SystemExit(main())
