"""Fast slice of the soundness suite (tests/soundness_cases.py; scripts/soundness.py runs it all).

No network with a known gap is certified optimal, every suboptimal verdict carries a witness
that re-evaluates strictly better, no lower bound exceeds the oracle's optimum, and networks
known to be optimal are certified: with the exact bound and in forced bounded mode.
"""

from soundness_cases import run


def test_no_false_certificate_and_optima_certified():
    stats, failures, _ = run(n_problems=12, seed=123, verbose=False)
    assert failures == []  # FALSE OPTIMAL, BAD WITNESS or LOWER BOUND ABOVE P_ref, in either mode
    for mode in ("exact", "bounded"):
        for kind, counts in stats[mode].items():
            assert sum(counts.values()) > 0, (mode, kind)  # every kind of network was exercised
            if not kind.startswith("known optimal"):
                assert counts["optimal"] == 0, (mode, kind, counts)
        # verify does not give up on known-gap networks: most get a witness
        gap = [c for k, c in stats[mode].items() if not k.startswith("known optimal")]
        assert sum(c["suboptimal"] for c in gap) >= 0.5 * sum(sum(c.values()) for c in gap), (mode, stats)
        opt = stats[mode]["known optimal (split, permuted)"]
        assert opt["optimal"] >= 0.9 * sum(opt.values()), (mode, opt)
