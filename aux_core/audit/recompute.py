"""The audit's primitives: a printed number with its precision, the rounding rule, statistics
recomputed from printed summaries (scipy), GRIM and GRIMMER, and the minimal detectable effect.

The rounding rule, used by every check: a recomputed value agrees with a printed one when it
lies within half a unit of the printed last digit (it rounds to the printed value, whichever way
ties go); where the recomputation starts from rounded inputs, it also agrees when some inputs
inside their own half-unit intervals give the printed value (the corners of the rounding box);
"p < x" agrees when the recomputed p is below x, "p > x" when it is above.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Sequence

import numpy as np
from scipy import optimize
from scipy import stats as st

from .. import stats

STATUSES = ("consistent", "inconsistent", "not checkable")
COLUMNS = ("paper", "table", "row", "item", "check", "reported", "recomputed", "status", "reason", "source")
ALPHA = 0.05          # the conventional level where a paper does not state its own
POWER = 0.80          # the power the minimal detectable effect is defined at
TOL = 1e-9            # float slack on the half-unit comparisons


@dataclass(frozen=True)
class Printed:
    """A number as printed: its value, one unit of its last digit, and whether it is a bound
    ("<" an upper bound, ">" a lower bound, "" a value)."""
    value: float
    unit: float
    text: str = ""
    bound: str = ""

    @property
    def half(self) -> float:
        return self.unit / 2

    @property
    def lo(self) -> float:
        return self.value - self.half

    @property
    def hi(self) -> float:
        return self.value + self.half

    def __str__(self) -> str:
        return f"{self.bound} {self.text}".strip() if self.bound else self.text


def printed(text: str, note: str = "") -> Printed:
    """Parse a number as the CSV stores it; the note says where the paper printed it otherwise
    ("printed as 0.0000": four decimals; "upper bound" / "lower bound": a bound)."""
    text = str(text).strip()
    exponent = Decimal(text).as_tuple().exponent
    unit = 10.0 ** exponent if isinstance(exponent, int) else float("nan")
    if "printed as 0.0000" in note:
        unit, text = 1e-4, "0.0000"
    bound = "<" if "upper bound" in note else ">" if "lower bound" in note else ""
    return Printed(float(text), unit, text, bound)


def number(x: float, digits: int = 4) -> str:
    """A recomputed number for the table: `digits` significant digits."""
    return "" if x is None or not np.isfinite(x) else f"{x:.{digits}g}"


def rounds_to(x: float, p: Printed) -> bool:
    """The rounding rule for one value (bounds: strictly on the printed side)."""
    if p.bound == "<":
        return x < p.value
    if p.bound == ">":
        return x > p.value
    return abs(x - p.value) <= p.half * (1 + TOL) + TOL * abs(p.value)


def reachable(lo: float, hi: float, p: Printed) -> bool:
    """Does the interval [lo, hi] of values recomputable from rounded inputs meet the printed one?"""
    if p.bound == "<":
        return lo < p.value
    if p.bound == ">":
        return hi > p.value
    slack = p.half * TOL + TOL * abs(p.value)
    return lo <= p.hi + slack and hi >= p.lo - slack


def box(f: Callable[..., float], *inputs: Printed) -> tuple[float, float, float]:
    """(f at the printed values, min and max of f over the corners of the inputs' rounding box):
    how far rounding alone can move a statistic recomputed from printed numbers."""
    face = float(f(*(p.value for p in inputs)))
    corners = [float(f(*c)) for c in itertools.product(*((p.lo, p.hi) for p in inputs))]
    values = [v for v in [face, *corners] if np.isfinite(v)]
    return face, min(values, default=face), max(values, default=face)


def verdict(face: float, lo: float, hi: float, reported: Printed) -> tuple[str, str]:
    """(status, why) by the rounding rule, for a value recomputed at face value and over the box."""
    if rounds_to(face, reported):
        why = (f"the recomputed {number(face)} is {'below' if reported.bound == '<' else 'above'} {reported.value:g}"
               if reported.bound else f"the recomputed {number(face)} rounds to the printed {reported.text}")
        return "consistent", why
    if reachable(lo, hi, reported):
        return "consistent", (f"the recomputed {number(face)} differs at face value, but rounded inputs give "
                              f"[{number(lo)}, {number(hi)}], which holds the printed {reported}")
    return "inconsistent", (f"the recomputed {number(face)} (from [{number(lo)}, {number(hi)}] with the inputs' "
                            f"rounding) does not give the printed {reported}")


# ----------------------------------------------------------------------------- from summaries

def summary_sample(mean: float, sd: float, n: int) -> np.ndarray:
    """n numbers with exactly this mean and sample SD (ddof 1), so that scipy's tests on samples
    give what the summaries imply."""
    z = np.linspace(-1.0, 1.0, n)
    z = (z - z.mean()) / z.std(ddof=1)
    return mean + sd * z


def welch(m1: float, s1: float, m2: float, s2: float, n1: int, n2: int, level: float = 0.95):
    """Welch's test of mean 1 - mean 2 from summaries: (p, df, (ci_low, ci_high))."""
    r = st.ttest_ind(summary_sample(m1, s1, n1), summary_sample(m2, s2, n2), equal_var=False)
    ci = r.confidence_interval(level)
    return float(r.pvalue), float(r.df), (float(ci.low), float(ci.high))


def welch_p(m1, s1, m2, s2, n1, n2) -> float:
    """Two-sided Welch p from means, SDs and n (scipy's ttest_ind_from_stats)."""
    return float(st.ttest_ind_from_stats(m1, s1, n1, m2, s2, n2, equal_var=False).pvalue)


def cohens_d(m1: float, s1: float, m2: float, s2: float, n: int = 3) -> float:
    """Cohen's d of two summaries, d = (m1 - m2) / sqrt((s1^2 + s2^2) / 2) (aux_core.stats)."""
    return stats.cohens_d(summary_sample(m1, s1, n), summary_sample(m2, s2, n))


def paired_p_range(ma: Printed, sa: Printed, mb: Printed, sb: Printed, n: int) -> tuple[float, float]:
    """The two-sided paired-t p-values the printed summaries allow: the SD of the differences is
    unknown but lies in [|s_a - s_b|, s_a + s_b] (correlation between -1 and 1), and every input
    lies in its rounding interval. Returns (smallest p, largest p)."""
    diffs = [ma.lo - mb.hi, ma.hi - mb.lo]
    big = max(abs(d) for d in diffs)
    small = 0.0 if diffs[0] <= 0 <= diffs[1] else min(abs(d) for d in diffs)
    sd_min = max(0.0, abs(sa.value - sb.value) - sa.half - sb.half)
    sd_max = sa.hi + sb.hi

    def p(diff, sd):
        if sd == 0:
            return 0.0 if diff else 1.0
        return float(2 * st.t.sf(abs(diff) / (sd / np.sqrt(n)), n - 1))
    return p(big, sd_min), p(small, sd_max)


def sds(values: Sequence[float]) -> tuple[float, float]:
    """(population SD, ddof 0; sample SD, ddof 1) of per-seed values."""
    a = np.asarray(values, dtype=float)
    return float(a.std(ddof=0)), float(stats.mean_std(a)[1])


# ----------------------------------------------------------------------------- GRIM, GRIMMER

@dataclass(frozen=True)
class Granularity:
    """Whether a possibility test can fail, and the test's answer where it can."""
    possible: bool
    informative: bool
    why: str


def grim(mean: Printed, n: int, step: float) -> Granularity:
    """GRIM (Brown & Heathers 2017): a mean of n values that are each a multiple of `step` (one
    test image: 1/N as a fraction, 100/N in percent; 1 for integers) is a multiple of step/n;
    is there one within the printed mean's rounding? The test can only fail where step/n is
    coarser than the printed unit."""
    spacing = step / n
    k = np.arange(np.floor(mean.lo / spacing) - 1, np.ceil(mean.hi / spacing) + 2)
    possible = bool(any(rounds_to(v, mean) for v in k * spacing))
    informative = spacing > mean.unit * (1 + TOL)
    why = (f"a mean of {n} values in steps of {step:g} moves in steps of {spacing:.3g}, "
           f"{'coarser' if informative else 'no coarser'} than the printed unit {mean.unit:g}")
    return Granularity(possible, informative, why)


def grimmer(mean: Printed, sd: Printed, n: int, step: float) -> Granularity:
    """GRIMMER (Anaya 2016), the parity form: in units of `step` the values are integers, so
    the sum T is an integer whose mean rounds to the printed one, and the sum of squares
    Q = (n - 1) SD^2 + T^2 / n is an integer of the same parity as T. Is there such a (T, Q)
    with the SD inside its rounding?"""
    sums = [t for t in range(int(np.floor(n * mean.lo / step)) - 1, int(np.ceil(n * mean.hi / step)) + 2)
            if rounds_to(t * step / n, mean)]
    widest = (n - 1) * (sd.hi ** 2 - max(sd.lo, 0.0) ** 2) / step ** 2
    possible = False
    for t in sums:
        q_lo = (n - 1) * (max(sd.lo, 0.0) / step) ** 2 + t * t / n
        q_hi = (n - 1) * (sd.hi / step) ** 2 + t * t / n
        q = np.arange(np.ceil(q_lo - TOL), np.floor(q_hi + TOL) + 1)
        if np.any(q % 2 == t % 2):
            possible = True
            break
    informative = widest < 2 or grim(mean, n, step).informative
    why = (f"the SD's rounding spans {widest:.3g} in the sum of squares (in steps of {step:g}); "
           f"{'under' if widest < 2 else 'at least'} 2, so parity {'can' if informative else 'cannot'} decide")
    return Granularity(possible, informative, why)


# ----------------------------------------------------------------------------- power

def power(d: float, n_a: int, n_b: int | None = None, alpha: float = ALPHA) -> float:
    """Power of the two-sided t-test at standardized effect d: two samples of n_a and n_b
    (Student df), or one sample / paired differences of n_a when n_b is None (noncentral t)."""
    if n_b is None:
        df, nc = n_a - 1, abs(d) * np.sqrt(n_a)
    else:
        df, nc = n_a + n_b - 2, abs(d) * np.sqrt(n_a * n_b / (n_a + n_b))
    crit = st.t.ppf(1 - alpha / 2, df)
    p = float(st.nct.sf(crit, df, nc) + st.nct.cdf(-crit, df, nc))
    return p if np.isfinite(p) else float(nc > crit)   # nct is NaN far in the tail, where power is 0 or 1


def mde(n_a: int, n_b: int | None = None, alpha: float = ALPHA, target: float = POWER) -> float:
    """The minimal detectable effect: the smallest standardized effect the design detects with
    probability `target` at two-sided `alpha` (see `power`)."""
    hi = 1.0
    while power(hi, n_a, n_b, alpha) < target:   # bracket the root (nct is NaN far out in the tail)
        hi *= 2
    return float(optimize.brentq(lambda d: power(d, n_a, n_b, alpha) - target, 1e-6, hi, xtol=1e-10))
