"""The soak with faults (`bench/soak.py`): the embedded pipeline under load, FPT and AWS faults,
poller kills and a flaky plugin, then a verdict from real effects against the site's own log."""

from shotgun_events_tools.soak.run import Soak, SoakOptions, SoakResult, run_soak

__all__ = ["Soak", "SoakOptions", "SoakResult", "run_soak"]
