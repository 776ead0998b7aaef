"""Statistics against scipy and hand computations on known inputs."""
import numpy as np
import pytest
from scipy import stats as st

from aux_core import stats

A = [0.453, 0.461, 0.440, 0.449, 0.458]
B = [0.361, 0.370, 0.355, 0.349, 0.366]


def test_mean_std_uses_the_sample_std():
    m, s = stats.mean_std([1.0, 2.0, 3.0, 4.0])
    assert m == 2.5 and s == pytest.approx(np.std([1, 2, 3, 4], ddof=1))
    assert np.isnan(stats.mean_std([1.0])[1])
    assert stats.fmt_mean_std([0.1, 0.2], digits=2, scale=100) == "15.00 ± 7.07"


def test_paired_and_welch_match_scipy():
    p = stats.paired_ttest(A, B)
    ref = st.ttest_rel(A, B)
    assert (p.t, p.p, p.df) == (pytest.approx(ref.statistic), pytest.approx(ref.pvalue), 4)
    w = stats.welch_ttest(A, B)
    ref = st.ttest_ind(A, B, equal_var=False)
    assert (w.t, w.p) == (pytest.approx(ref.statistic), pytest.approx(ref.pvalue))
    # Welch-Satterthwaite df by hand for equal n: (va+vb)^2 / ((va^2+vb^2)/(n-1))
    va, vb = np.var(A, ddof=1) / 5, np.var(B, ddof=1) / 5
    assert w.df == pytest.approx((va + vb) ** 2 / ((va ** 2 + vb ** 2) / 4))
    with pytest.raises(ValueError, match="equal lengths"):
        stats.paired_ttest([1, 2, 3], [1, 2])


def test_lion_dg_table6_he_vs_hybrid():
    """LION-DG Table 6 per-seed accuracies: the effect size of eq. 11 by hand."""
    he, hybrid = [79.71, 82.17, 81.45], [81.01, 82.16, 82.58]
    d = stats.cohens_d(hybrid, he)
    assert d == pytest.approx((np.mean(hybrid) - np.mean(he)) /
                              np.sqrt((np.var(hybrid, ddof=1) + np.var(he, ddof=1)) / 2))
    assert stats.effect_size_label(d) == "medium"
    assert stats.welch_ttest(hybrid, he).p > 0.05


def test_ci95_and_sem():
    lo, hi = stats.ci95(A)
    m, se = np.mean(A), st.sem(A)
    t = st.t.ppf(0.975, 4)
    assert (lo, hi) == (pytest.approx(m - t * se), pytest.approx(m + t * se))
    assert stats.sem(A) == pytest.approx(se)


def test_bonferroni_and_relative_improvement():
    np.testing.assert_allclose(stats.bonferroni([0.01, 0.02, 0.5]), [0.03, 0.06, 1.0])
    assert stats.relative_improvement([0.453], [0.361]) == pytest.approx(25.48, abs=0.01)


def test_bad_input():
    with pytest.raises(ValueError):
        stats.mean_std([])


def test_welch_interval_excludes_zero_exactly_when_the_welch_test_is_significant():
    from aux_core.stats import welch_interval, welch_ttest
    for a, b in [([1.0, 2.0, 3.0], [1.5, 2.5, 3.5]), ([10.0, 11.0, 12.0], [1.0, 2.0, 2.5])]:
        lo, hi = welch_interval(a, b)
        assert lo < sum(a) / 3 - sum(b) / 3 < hi
        assert (lo > 0 or hi < 0) == (welch_ttest(a, b).p < 0.05)


def test_one_sample_ttest_matches_scipy():
    a = [0.2, 0.25, 0.1, 0.3]
    r = stats.one_sample_ttest(a)
    assert r.p == pytest.approx(st.ttest_1samp(a, 0.0).pvalue) and r.df == 3


def test_comparison_is_one_schema_for_paired_welch_and_relative():
    a, b = [1.0, 2.0, 3.0], [0.0, 1.0, 1.5]
    paired = stats.comparison(a, b, paired=True)
    assert tuple(paired) == stats.COMPARISON
    diffs = np.subtract(a, b)
    assert paired["estimate"] == pytest.approx(diffs.mean()) and paired["n"] == 3
    assert (paired["lo"], paired["hi"]) == pytest.approx(stats.ci95(diffs))
    assert paired["p"] == pytest.approx(stats.paired_ttest(a, b).p)
    welch = stats.comparison(a, b, paired=False)
    assert (welch["lo"], welch["hi"]) == pytest.approx(stats.welch_interval(a, b)) and welch["n"] == 6
    assert welch["p"] == pytest.approx(stats.welch_ttest(a, b).p) and welch["d"] == pytest.approx(stats.cohens_d(a, b))
    rel = stats.comparison(a, b, paired=True, relative=True)
    scale = 100 / np.mean(b)
    assert rel["estimate"] == pytest.approx(stats.relative_improvement(a, b))
    assert (rel["lo"], rel["hi"]) == pytest.approx((scale * paired["lo"], scale * paired["hi"]))


def test_comparison_says_what_the_data_cannot_give():
    same = stats.comparison([1.0, 1.0], [1.0, 1.0], paired=True)
    assert (same["estimate"], same["lo"], same["hi"]) == (0.0, 0.0, 0.0)   # no spread: a zero-width interval
    assert np.isnan(same["p"]) and np.isnan(same["d"])                       # and no test
    one = stats.comparison([2.0], [1.0], paired=False)
    assert one["estimate"] == 1.0 and np.isnan(one["lo"]) and np.isnan(one["p"])
    assert np.isnan(stats.comparison([], [1.0], paired=False)["estimate"])
    with pytest.raises(ValueError, match="equal lengths"):
        stats.comparison([1.0, 2.0], [1.0], paired=True)
