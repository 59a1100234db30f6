"""shotgun-events: Flow Production Tracking event triggers as serverless AWS fan-out."""

__version__ = "0.1.0"
