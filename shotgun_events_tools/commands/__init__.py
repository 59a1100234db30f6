"""One module per `shotgun-events` command, each with `add_to(commands)` (see `shotgun_events_tools.cli`)."""
