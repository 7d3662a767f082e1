"""Hypothesis profiles: ``ci`` (the default) derandomizes, so that `make test` runs the same
examples every time and a red CI always means a change broke something; ``explore``
(HYPOTHESIS_PROFILE=explore) draws new random examples, to look for bugs (what it finds becomes
an explicit example or a fix)."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
