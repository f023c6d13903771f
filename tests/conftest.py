"""Shared fixtures and the Hypothesis profiles.

Profiles: ``ci`` (the default: the whole suite in well under 3 minutes on two
cores) and ``long`` (many more examples and longer stateful runs), chosen with
the environment variable ``HYPOTHESIS_PROFILE``::

    HYPOTHESIS_PROFILE=long python -m pytest
"""

from __future__ import annotations

import os

import pytest
from helpers import STRESS_SEED
from hypothesis import settings

import rangealloc

settings.register_profile("ci", max_examples=100, stateful_step_count=50, deadline=None, print_blob=True)
settings.register_profile("long", max_examples=2000, stateful_step_count=120, deadline=None, print_blob=True)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)


def pytest_report_header() -> str:
    """Shown without ``-q``: the profile in use and the stress runs' seed (to replay them)."""
    return f"hypothesis profile {PROFILE!r}; RANGEALLOC_SEED={STRESS_SEED}"


@pytest.fixture(scope="session", params=list(rangealloc.POLICIES))
def policy(request: pytest.FixtureRequest) -> str:
    """Every registered policy name, in registry order (new policies are picked up on their own)."""
    name: str = request.param
    return name
