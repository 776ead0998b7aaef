"""The ledger kit on constructed samples whose answers are known."""
import numpy as np
import pytest

from aux_core import ledger as L
from aux_core import stats
from scipy import stats as st


def draws(seed, n, loc=0.0, scale=1.0):
    return np.random.default_rng(seed).normal(loc, scale, n)


def test_a_true_null_is_reproduced_at_most_at_the_tests_nominal_rate():
    # no effect at all, a paper claiming +1: "reproduced" needs an interval excluding 0 on the
    # paper's side, which a true null gives in about alpha / 2 of the draws
    verdicts = [L.judge("difference", draws(2 * i, 5), draws(2 * i + 1, 5), paper=1.0).verdict for i in range(400)]
    assert verdicts.count("reproduced") / len(verdicts) <= 0.05
    assert verdicts.count("inconclusive") / len(verdicts) >= 0.9


def test_a_clear_effect_of_the_papers_size_is_reproduced_and_one_far_from_it_direction_only():
    a, b = draws(1, 5, 1.0, 0.05), draws(2, 5, 0.0, 0.05)
    hit = L.judge("difference", a, b, paper=1.0)
    assert hit.verdict == "reproduced" and hit.lo < 1.0 < hit.hi and hit.p < 1e-6 and hit.n == 5
    far = L.judge("difference", a, b, paper=5.0)
    assert far.verdict == "direction only" and "outside" in far.reason
    assert L.judge("difference", a, b, paper=5.0, magnitude=False).verdict == "reproduced"   # "higher", no size
    assert L.judge("difference", b, a, paper=1.0).verdict == "contradicted"
    paired = L.judge("difference", a, a - 0.3 + draws(3, 5, 0, 0.01), paper=0.3, paired=True)
    assert paired.verdict == "reproduced" and paired.estimate == pytest.approx(0.3, abs=0.02)
    single = L.judge("difference", draws(4, 6, -0.5, 0.05), paper=-0.5)   # one sample against 0
    assert single.verdict == "reproduced"


def test_an_interval_straddling_zero_says_when_it_rules_out_the_papers_size():
    small = draws(5, 10, 0.0, 0.5)                       # about 0 +- 0.35: straddles 0
    j = L.judge("difference", small, paper=2.3)
    assert j.verdict == "inconclusive" and j.reason == "the interval straddles 0; it excludes the paper's +2.3"
    near = L.judge("difference", small, paper=0.1)         # the paper's size inside the interval
    assert near.verdict == "inconclusive" and near.reason == "the interval straddles 0"
    assert L.judge("difference", small, paper=2.3, magnitude=False).reason == "the interval straddles 0"


def test_no_effect_needs_an_interval_inside_the_margin():
    wide = L.judge("no_effect", draws(5, 2), draws(6, 2), margin=0.5)
    assert wide.verdict != "reproduced"      # n = 2: far too wide to show equivalence
    tight = L.judge("no_effect", draws(7, 20, 0, 0.05), draws(8, 20, 0, 0.05), margin=0.1)
    assert tight.verdict == "reproduced" and tight.p < 0.05
    effect = L.judge("no_effect", draws(9, 10, 1.0, 0.05), draws(10, 10, 0, 0.05), margin=0.1)
    assert effect.verdict == "contradicted"
    with pytest.raises(ValueError, match="margin > 0"):
        L.judge("no_effect", [1, 2], [1, 2])


def test_zero_variance_and_too_few_seeds_are_not_decidable_with_a_reason():
    same = L.judge("difference", [0.5, 0.5, 0.5], [0.5, 0.5, 0.5], paper=1.0)
    assert same.verdict == "not decidable" and "zero variance" in same.reason
    one = L.judge("difference", [0.6], [0.5], paper=1.0)
    assert one.verdict == "not decidable" and "at least 2" in one.reason
    assert L.judge("no_effect", [0.1, 0.1], [0.1, 0.1], margin=0.1).verdict == "not decidable"
    assert L.judge("rank", {"a": [1.0], "b": [2.0]}, paper=["a"]).verdict == "not decidable"
    # two seeds an arm that do not overlap: the bootstrap would call it certain (every resample keeps
    # the order), though a t interval of the difference straddles 0 widely
    two = {"a": [33.6, 37.5], "b": [30.1, 33.2]}
    assert L.judge("difference", two["a"], two["b"], paper=1.0, paired=True).verdict == "inconclusive"
    j = L.judge("rank", two, paper=["a"])
    assert j.verdict == "not decidable" and "at least 3" in j.reason


def test_rank_reports_the_bootstrap_probability_of_the_claimed_order():
    arms = {"Hybrid": draws(11, 3, 0.9, 0.01), "He": draws(12, 3, 0.5, 0.01), "LSUV": draws(13, 3, 0.6, 0.01)}
    best = L.judge("rank", arms, paper=["Hybrid"])
    assert best.verdict == "reproduced" and best.estimate > 0.99
    assert L.judge("rank", arms, paper=["He"]).verdict == "contradicted"
    close = {"a": draws(14, 3, 0.5, 0.1), "b": draws(15, 3, 0.5, 0.1)}
    assert L.judge("rank", close, paper=["a"]).verdict == "inconclusive"   # chance, not a ranking
    with pytest.raises(ValueError, match="no samples"):
        L.judge("rank", arms, paper=["Fixup"])
    assert L.judge("rank", {"a": [1.0, 1.0, 1.0], "b": [0.5] * 3}, paper=["a"]).verdict == "not decidable"


def test_three_seeds_that_do_not_overlap_are_not_a_certain_ranking():
    """The bench's CNN at cpu, in shape: resampling the seeds kept the best arm first in every
    resample (100%) while its paired t interval against the next spanned -2.5 to +13.8 points."""
    arms = {"a": [33.5, 38.0, 39.5], "b": [31.5, 29.7, 32.8], "c": [29.0, 31.0, 32.9]}
    resampled = np.random.default_rng(0).choice(arms["a"], (4000, 3)).mean(1) > max(max(v) for k, v in arms.items()
                                                                                     if k != "a")
    assert resampled.all()                         # what a nonparametric bootstrap would report
    j = L.judge("rank", arms, paper=["a"])
    assert L.judge("difference", arms["a"], arms["b"], paper=1.0, paired=True).verdict == "inconclusive"
    assert j.verdict == "inconclusive" and 0.8 < j.estimate < 0.95
    more_seeds = {k: np.tile(v, 4) for k, v in arms.items()}   # the same spread over 12 seeds: more certain
    assert L.judge("rank", more_seeds, paper=["a"]).verdict == "reproduced"


def test_time_to_event_is_censoring_aware():
    fast, slow = [100.0, 120.0, 110.0, 105.0], [np.inf, np.inf, 300.0, np.inf]   # inf: never reached
    j = L.judge("time_to_event", fast, slow, paper=50.0, budget=3000)
    assert j.verdict in ("reproduced", "direction only") and j.estimate == 100.0   # b's median is never reached
    assert "3 of 4 runs censored" in j.reason and j.p < 0.05
    same = L.judge("time_to_event", [100.0, 200.0, 150.0], [110.0, 190.0, 160.0], paper=20.0, budget=3000)
    assert same.verdict == "inconclusive"
    never = L.judge("time_to_event", [np.inf, np.inf], [np.inf, np.inf], paper=20.0, budget=3000)
    assert never.verdict == "not decidable" and "no run reached" in never.reason
    # Kaplan-Meier by hand: S(10) = 3/4, S(20) = 1/2 -> median 20; one event in four never halves S
    assert stats.km_median([10, 20, 30, 40], [True, True, False, False]) == 20
    assert stats.km_median([10, 20, 30, 40], [True, False, False, False]) == float("inf")


def test_an_effect_beyond_a_no_effect_margin_is_tested_and_corrected_like_any_contradiction():
    rng = np.random.default_rng(3)
    a, b = 10 + rng.normal(0, 1, 3), 20 + rng.normal(0, 1, 3)     # 10 points apart, margin 1
    j = L.judge("no_effect", a, b, margin=1.0)
    assert j.verdict == "contradicted" and j.hi < -1.0 and j.p < 0.05 and j.significance
    # by hand: Welch's t of the distance to the nearer margin, two-sided
    w = stats.welch_ttest(a, b)
    se = (a.mean() - b.mean()) / w.t
    assert j.p == pytest.approx(2 * st.t.sf((abs(a.mean() - b.mean()) - 1.0) / abs(se), w.df), rel=1e-6)
    # an interval that only just clears the margin is significant alone, not among many claims
    near = L.judge("no_effect", [0.0, 2.0, 4.0], [5.5, 7.5, 9.5], margin=0.5)
    assert near.verdict == "contradicted" and 0.01 < near.p < 0.05
    fellow = L.Judgement("difference", "reproduced", 1.0, 0.5, 1.5, 0.02, 3, "ok", significance=True)
    corrected = L.correct([near, fellow, fellow])
    assert corrected[0].verdict == "inconclusive" and "Holm" in corrected[0].reason


def test_a_speed_up_from_complete_times_is_judged_on_an_interval_that_allows_for_three_runs():
    a, b = [1100.0, 1150.0, 1120.0], [1300.0, 1350.0, 1280.0]     # every run reached the event
    j = L.judge("time_to_event", a, b, paper=8.3, budget=3000)
    assert j.estimate == pytest.approx(100 * (1 - np.mean(a) / np.mean(b)))   # the paper's summary: means
    assert j.p < 0.05 and j.lo < 8.3 < j.hi and j.verdict == "reproduced"
    # resampling the runs keeps every draw inside their range, which would exclude the paper's 8.3
    rng = np.random.default_rng(0)
    resampled = 100 * (1 - rng.choice(a, (500, 3)).mean(1) / rng.choice(b, (500, 3)).mean(1))
    assert resampled.min() > 8.3
    far = L.judge("time_to_event", [600.0, 620.0, 610.0], b, paper=8.3, budget=3000)
    assert far.verdict == "direction only" and far.lo > 8.3 and "means" in far.reason


def test_holm_matches_a_hand_computation_and_decides_the_verdicts():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> 0.06 (monotone)
    assert stats.holm(p).tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert np.isnan(stats.holm([0.01, np.nan])[1]) and stats.holm([0.01, np.nan])[0] == pytest.approx(0.01)
    js = [L.Judgement("difference", "reproduced", 1.0, 0.5, 1.5, q, 3, "ok", significance=True) for q in p]
    out = L.correct(js)
    assert [j.verdict for j in out] == ["reproduced", "inconclusive", "inconclusive", "reproduced"]
    assert "Holm" in out[1].reason and out[3].p_holm == pytest.approx(0.02)


def test_one_table_schema():
    claims = [L.Claim("c1", "X beats Y", "Table 1", "difference", paper=1.0, profile="cpu", data="cifar10")]
    t = L.table(claims, [L.judge("difference", draws(16, 4, 1, 0.05), draws(17, 4, 0, 0.05), paper=1.0)])
    assert tuple(t.columns) == L.COLUMNS and t.loc[0, "verdict"] in L.VERDICTS
    with pytest.raises(ValueError, match="unknown claim kind"):
        L.Claim("c2", "?", "?", "sign")


def test_a_papers_p_can_be_checked_against_its_own_d_and_n():
    # LION-DG's Table 8 prints p = 0.0076 beside d = 1.42 at 3 seeds an arm: t = 1.42 sqrt(3/2) = 1.74
    # on 4 degrees of freedom, p = 0.16, so the printed p is not attainable from those numbers
    assert stats.p_from_cohens_d(1.42, 3, 3) == pytest.approx(0.157, abs=0.002)
    assert stats.p_from_cohens_d(0.0, 5, 5) == pytest.approx(1.0)


def test_proportions_use_fishers_exact_test_and_newcombes_interval():
    from scipy import stats as st
    # every run collapsed against none: decided by Fisher's exact test, where a t interval has zero variance
    j = L.judge("proportion", [1] * 6, [0] * 6, paper=1.0)
    assert j.verdict == "reproduced" and j.p == pytest.approx(st.fisher_exact([[6, 0], [0, 6]]).pvalue)
    assert j.estimate == 1.0 and 0 < j.lo < 1 and j.hi == pytest.approx(1.0)
    # 3 runs an arm cannot decide even at all against none (p = 0.1): not decidable, not inconclusive
    small = L.judge("proportion", [1, 1, 1], [0, 0, 0], paper=1.0)
    assert small.verdict == "not decidable" and "cannot reach" in small.reason and small.estimate == 1.0
    assert L.judge("proportion", [1, 1, 1, 1], [1, 0, 0, 0], paper=1.0).verdict == "inconclusive"   # 4 can
    assert L.judge("proportion", [1] * 4, [0] * 4, paper=1.0).verdict == "reproduced"           # p = 0.029
    assert L.judge("proportion", [0] * 6, [1] * 6, paper=1.0).verdict == "contradicted"
    # Newcombe's hybrid score interval for 3/5 against 1/5, by hand from the Wilson limits
    def w(k, n):
        return st.binomtest(k, n).proportion_ci(0.95, method="wilson")
    (la, ua), (lb, ub) = w(3, 5), w(1, 5)
    j = L.judge("proportion", [1, 1, 1, 0, 0], [1, 0, 0, 0, 0], paper=1.0)
    assert (j.lo == pytest.approx(0.4 - np.hypot(0.6 - la, ub - 0.2))
            and j.hi == pytest.approx(0.4 + np.hypot(ua - 0.6, 0.2 - lb)))
    with pytest.raises(ValueError, match="0/1 outcomes"):
        L.judge("proportion", [0.5, 1], [0, 0], paper=1.0)
