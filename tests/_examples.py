"""How many examples hypothesis draws: every one in CI, a share of them while a developer works.

Hypothesis's settings profiles, chosen by the environment: "ci" where CI is set
(.ci/run sets CI=true), "dev" elsewhere; HYPOTHESIS_PROFILE=ci (or dev) chooses one
anywhere. A test that names its count does so through :func:`examples`, since its
own ``@settings(max_examples=...)`` would override the profile:

    @settings(max_examples=examples(200), deadline=None)

The ``@example`` cases a test lists run in both profiles.
"""

from __future__ import annotations

import math
import os

from hypothesis import settings

# The share of a test's examples the developer's profile draws, and the fewest it draws.
DEV_SHARE = 0.25
DEV_LEAST = 3

settings.register_profile("ci")          # hypothesis's defaults: 100 examples where a test names none
settings.register_profile("dev", max_examples=math.ceil(100 * DEV_SHARE))

PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
settings.load_profile(PROFILE)


def examples(n: int) -> int:
    """The examples a test that asks for ``n`` draws under the loaded profile."""
    if PROFILE != "dev":
        return n
    return min(n, max(DEV_LEAST, math.ceil(n * DEV_SHARE)))
