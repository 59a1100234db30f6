"""`python -m shotgun_events_tools`: the `shotgun-events` command."""

from shotgun_events_tools.cli import main

raise SystemExit(main())
