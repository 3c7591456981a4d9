"""Test-suite-wide settings: hypothesis profiles.

``make test`` runs every property test with at least 200 generated cases (the default
profile here); ``make test-nightly`` sets ``HYPOTHESIS_PROFILE=nightly`` for ten times
more. A test that sets its own ``max_examples`` keeps it.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("default", max_examples=200, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("nightly", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
