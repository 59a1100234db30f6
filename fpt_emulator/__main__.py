"""``python -m fpt_emulator``."""

from .cli import main

raise SystemExit(main())
