"""shotgun-events tools that never ship to Lambda: the CLI, the local runtime, the plugin authors' kit."""
