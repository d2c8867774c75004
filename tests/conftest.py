"""Shared test configuration.

Hypothesis profiles: "ci" (default under CI=true) keeps example counts moderate
so the whole suite fits CI's time; "dev" is the default elsewhere.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "dev", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(
    os.environ.get("ZKATTEST_HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
)

# Tests never touch the user's real key store: every run gets a fresh one.
import atexit  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

_KEY_DIR = tempfile.mkdtemp(prefix="zkattest-test-keys-")
os.environ["ZKATTEST_KEY_DIR"] = _KEY_DIR
atexit.register(shutil.rmtree, _KEY_DIR, True)
