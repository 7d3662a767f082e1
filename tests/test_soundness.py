"""Fast slice of scripts/soundness.py: no known-gap network is certified optimal."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from soundness import run  # noqa: E402


def test_no_false_certificate_and_optima_certified():
    stats, failures, _ = run(n_problems=12, seed=123, verbose=False)
    assert failures == []
    for mode in ("exact", "bounded"):
        gap = sum(sum(c.values()) for k, c in stats[mode].items() if not k.startswith("known optimal"))
        assert gap >= 60
        opt = stats[mode]["known optimal (split, permuted)"]
        assert opt["optimal"] >= 0.9 * sum(opt.values()), (mode, opt)
