"""Statistics the papers report, on scipy: mean ± std, t-tests, confidence intervals,
Cohen's d, Bonferroni and Holm corrections, relative improvement, and for censored times to an
event, Kaplan-Meier medians and the log-rank test.

Standard deviations are sample standard deviations (ddof=1), as the papers' "mean ± std
over seeds". Every function takes plain sequences of per-seed numbers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats as st


def _arr(x: Sequence[float]) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim != 1 or len(a) == 0:
        raise ValueError(f"expected a non-empty 1-D sequence of numbers, got shape {a.shape}")
    return a


def mean_std(x: Sequence[float]) -> tuple[float, float]:
    a = _arr(x)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else float("nan")


def fmt_mean_std(x: Sequence[float], digits: int = 3, scale: float = 1.0) -> str:
    """'0.453 ± 0.013' (scale=100 to print fractions as percentages)."""
    m, s = mean_std(np.asarray(x, dtype=float) * scale)
    return f"{m:.{digits}f} ± {s:.{digits}f}"


def sem(x: Sequence[float]) -> float:
    """Standard error of the mean (the paper-1 dose-response error bars)."""
    a = _arr(x)
    return float(a.std(ddof=1) / np.sqrt(len(a))) if len(a) > 1 else float("nan")


def ci95(x: Sequence[float]) -> tuple[float, float]:
    """Two-sided 95% confidence interval of the mean (Student t)."""
    a = _arr(x)
    if len(a) < 2:
        return float("nan"), float("nan")
    lo, hi = st.t.interval(0.95, len(a) - 1, loc=a.mean(), scale=st.sem(a))
    return float(lo), float(hi)


@dataclass(frozen=True)
class TTest:
    t: float
    p: float
    df: float


def paired_ttest(a: Sequence[float], b: Sequence[float]) -> TTest:
    """Two-tailed paired t-test (paper 1: the same seeds with and without the method)."""
    a, b = _arr(a), _arr(b)
    if len(a) != len(b):
        raise ValueError(f"a paired test needs equal lengths, got {len(a)} and {len(b)}")
    r = st.ttest_rel(a, b)
    return TTest(float(r.statistic), float(r.pvalue), float(len(a) - 1))


def one_sample_ttest(a: Sequence[float], mu: float = 0.0) -> TTest:
    """Two-tailed one-sample t-test of mean(a) = mu (e.g. a per-seed cosine against zero)."""
    a = _arr(a)
    r = st.ttest_1samp(a, mu)
    return TTest(float(r.statistic), float(r.pvalue), float(len(a) - 1))


def welch_ttest(a: Sequence[float], b: Sequence[float]) -> TTest:
    """Two-tailed Welch t-test (unequal variances; papers 2 and 3)."""
    a, b = _arr(a), _arr(b)
    r = st.ttest_ind(a, b, equal_var=False)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return TTest(float(r.statistic), float(r.pvalue), float(df))


def welch_interval(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """Welch confidence interval of mean(a) - mean(b) (unequal variances)."""
    a, b = _arr(a), _arr(b)
    if len(a) < 2 or len(b) < 2:
        return float("nan"), float("nan")
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    diff = float(a.mean() - b.mean())
    if va + vb == 0:
        return diff, diff
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = float(st.t.ppf(0.5 + level / 2, df) * np.sqrt(va + vb))
    return diff - half, diff + half


def cohens_d(a: Sequence[float], b: Sequence[float]) -> float:
    """(mean(a) - mean(b)) / sqrt((s_a^2 + s_b^2) / 2), the LION-DG paper's eq. 11."""
    a, b = _arr(a), _arr(b)
    return float((a.mean() - b.mean()) / np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2))


def effect_size_label(d: float) -> str:
    """Cohen's conventional thresholds, as the LION-DG paper quotes them."""
    d = abs(d)
    return "negligible" if d < 0.2 else "small" if d < 0.5 else "medium" if d < 0.8 else "large"


def bonferroni(pvalues: Sequence[float]) -> np.ndarray:
    """Bonferroni-adjusted p-values, capped at 1."""
    p = _arr(pvalues)
    return np.minimum(p * len(p), 1.0)


def relative_improvement(method: Sequence[float], baseline: Sequence[float]) -> float:
    """(mean(method) - mean(baseline)) / mean(baseline) in percent (paper 1's 'Improvement')."""
    m, b = _arr(method).mean(), _arr(baseline).mean()
    return float(100 * (m - b) / b)


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1); NaN stays NaN."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if len(ok) == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    adjusted = np.maximum.accumulate([(m - i) * p[j] for i, j in enumerate(order)])
    out[order] = np.minimum(adjusted, 1.0)
    return out


def km_median(times: Sequence[float], reached: Sequence[bool]) -> float:
    """Kaplan-Meier median time to the event, with runs that never reached it right-censored at
    their time; inf where the survival curve never falls to one half."""
    t, e = _arr(times), np.asarray(reached, dtype=bool)
    data = st.CensoredData(uncensored=t[e], right=t[~e])
    sf = st.ecdf(data).sf
    below = np.flatnonzero(sf.probabilities <= 0.5)
    return float(sf.quantiles[below[0]]) if len(below) else float("inf")


def logrank_p(times_a, reached_a, times_b, reached_b) -> float:
    """Two-sided log-rank test of equal time-to-event distributions, censoring-aware."""
    def data(t, e):
        t, e = _arr(t), np.asarray(e, dtype=bool)
        return st.CensoredData(uncensored=t[e], right=t[~e])
    return float(st.logrank(data(times_a, reached_a), data(times_b, reached_b)).pvalue)


def p_from_cohens_d(d: float, n_a: int, n_b: int) -> float:
    """The two-sided t-test p that Cohen's d implies at n_a and n_b seeds (equal variances:
    t = d / sqrt(1/n_a + 1/n_b), n_a + n_b - 2 degrees of freedom); checks a paper's p against
    its own d and n."""
    t = abs(d) / np.sqrt(1 / n_a + 1 / n_b)
    return float(2 * st.t.sf(t, n_a + n_b - 2))


def mean_ci95(x: Sequence[float]) -> tuple[float, float, float]:
    """(mean, lo, hi) of the finite values of `x` with their 95% t interval (NaN where there are
    none; the interval NaN below two values)."""
    a = np.asarray(x, dtype=float)
    a = a[np.isfinite(a)]
    if len(a) == 0:
        return float("nan"), float("nan"), float("nan")
    lo, hi = ci95(a)
    return float(a.mean()), lo, hi


COMPARISON = ("estimate", "lo", "hi", "p", "d", "n")   # the one schema of every chapter's comparison tables


def comparison(a: Sequence[float], b: Sequence[float], *, paired: bool, relative: bool = False) -> dict:
    """`a` against `b` in the one schema (COMPARISON) every chapter's tables use: `estimate` is
    mean(a) - mean(b) (relative: in percent of mean(b)); `lo`, `hi` its 95% interval (paired: the t
    interval of the differences seed by seed; else Welch's); `p` the two-sided paired or Welch
    t-test; `d` Cohen's d (eq. 11's pooled std); `n` the pairs, or the runs of both arms. What the
    data cannot give is NaN: an interval or a test from fewer than two per arm, a test or d from
    data without spread (a zero-width interval is kept: the data say no spread)."""
    a, b = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    nan = float("nan")
    out = dict(estimate=nan, lo=nan, hi=nan, p=nan, d=nan, n=len(a) if paired else len(a) + len(b))
    if paired and len(a) != len(b):
        raise ValueError(f"a paired comparison needs equal lengths, got {len(a)} and {len(b)}")
    if not len(a) or not len(b):
        return out
    a, b = _arr(a), _arr(b)
    scale = 100 / b.mean() if relative else 1.0
    if relative and b.mean() == 0:
        return out
    out["estimate"] = float(scale * (a.mean() - b.mean()))
    if len(a) < 2 or len(b) < 2:
        return out
    diff = a - b if paired else None
    if paired:
        spread = diff.std() > 0
        lo, hi = ci95(diff) if spread else (float(diff.mean()), float(diff.mean()))
    else:
        spread = a.std() > 0 or b.std() > 0
        lo, hi = welch_interval(a, b)
    out["lo"], out["hi"] = float(scale * lo), float(scale * hi)
    if spread:
        out["p"] = paired_ttest(a, b).p if paired else welch_ttest(a, b).p
    if a.std() + b.std() > 0:
        out["d"] = cohens_d(a, b)
    return out
