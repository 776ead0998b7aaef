"""One claims-ledger kit for the four chapters: a claim, a judgement of it from per-seed data,
one vocabulary of verdicts and one table schema.

    j = judge("difference", asym_acc, plain_acc, paper=+2.1, paired=True)
    j.verdict, j.estimate, j.lo, j.hi, j.p, j.n, j.reason

Kinds of claim:
  difference     mean(a) - mean(b) (or mean(a) alone, b None) with its 95% interval: reproduced
                 when the interval excludes zero on the paper's side and holds the paper's value;
                 direction only when the sign holds but the paper's value lies outside; contradicted
                 when the interval excludes zero on the other side; else inconclusive
  no_effect      two one-sided tests against +-margin: reproduced only when the 90% interval lies
                 inside the margin (p: the TOST's); contradicted when the 95% interval lies wholly
                 outside it (p: against the nearer margin, so that Holm's correction covers it too)
  rank           `a` maps arm -> samples and `paper` is the claimed order, best first (a prefix:
                 ["Hybrid"] claims Hybrid is best): the estimate is the probability that the order
                 holds when each arm's mean is drawn from its t sampling distribution (a parametric
                 bootstrap over seeds), judged against `threshold` (no p-value); at least
                 RANK_MIN_SEEDS seeds an arm
  proportion     `a` and `b` are 0/1 outcomes per run (e.g. collapsed or not): the difference of the
                 shares with Newcombe's hybrid-score 95% interval (from Wilson intervals) and
                 Fisher's exact p; reproduced when significant on the paper's side (the sign of
                 `paper`); contradicted when significant on the other; not decidable when the
                 arms are too small for any outcome to reach significance (3 runs against 3: p = 0.1
                 at all against none)
  time_to_event  `a` and `b` are times to an event, inf where a run never reached it (censored at
                 `budget`): a log-rank test, and the speed-up in percent, 1 - mean(a) / mean(b) with a
                 parametric bootstrap interval where every run reached the event (the paper's
                 summary), else 1 - median(a) / median(b) of the Kaplan-Meier medians, resampled

Too few seeds or zero variance is "not decidable" with the reason, never NaN. `correct()` applies
Holm's correction across a chapter's judgements; a verdict that rests on significance falls to
"inconclusive" when the corrected p does not hold it.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as st

from . import stats

VERDICTS = ("reproduced", "direction only", "contradicted", "inconclusive", "not decidable")
KINDS = ("difference", "no_effect", "rank", "time_to_event", "proportion")
COLUMNS = ("claim", "source", "kind", "paper", "estimate", "lo", "hi", "n", "p", "p_holm", "verdict", "reason",
           "profile", "data", "rests_on")
BOOTSTRAP = 4000      # resamples for rank and time-to-event intervals
RANK_MIN_SEEDS = 3    # fewer seeds an arm and the bootstrap of ranks is degenerate (always "certain")
SEED = 0              # the bootstrap's generator: a verdict must not change between two readings


@dataclass(frozen=True)
class Claim:
    """A paper's claim as data: what it says, where, its number, and how it is judged."""
    id: str
    text: str
    source: str                 # the paper's table, section or line
    kind: str
    paper: float | Sequence[str] | None = None
    runs: str = ""              # the runs it needs, in words
    margin: float | None = None  # no_effect: the equivalence margin
    profile: str = ""
    data: str = ""
    # The paper's printed numbers the claim is built from, as (table, row) or (table, row, words
    # of the item) keys of the statistics audit (aux_core.audit), which links a claim to the
    # flags on exactly those numbers rather than on everything its table prints.
    rests_on: tuple = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown claim kind {self.kind!r}; kinds: {', '.join(KINDS)}")
        for key in self.rests_on:
            if not (isinstance(key, tuple) and len(key) in (2, 3) and all(isinstance(k, str) for k in key)):
                raise ValueError(f"claim {self.id!r}: rests_on holds (table, row) or (table, row, item words) "
                                 f"tuples of strings, not {key!r}")


@dataclass(frozen=True)
class Judgement:
    kind: str
    verdict: str
    estimate: float
    lo: float
    hi: float
    p: float
    n: int
    reason: str
    p_holm: float = float("nan")
    significance: bool = field(default=False, repr=False)   # does the verdict rest on p < alpha?


def undecidable(kind: str, n: int, reason: str, estimate: float = float("nan")) -> Judgement:
    """A claim the data cannot decide (too few seeds, no runs at this profile, a paper number
    that cannot be right as printed), with the reason."""
    nan = float("nan")
    return Judgement(kind, "not decidable", estimate, nan, nan, nan, n, reason)


def _samples(x, name: str) -> np.ndarray:
    v = np.asarray(x, dtype=float).ravel()
    if np.isnan(v).any():
        raise ValueError(f"{name} holds NaN: drop failed runs before judging (a diverged run is data, say how)")
    return v


def judge(kind: str, a, b=None, *, paper=None, paired: bool = False, margin: float | None = None,
          alpha: float = 0.05, threshold: float = 0.95, budget: float | None = None,
          magnitude: bool = True) -> Judgement:
    """Judge one claim from per-seed samples (see the module docstring for each kind).
    `magnitude=False`: the paper states only a direction (the sign of `paper`), so the sign
    alone reproduces it."""
    if kind not in KINDS:
        raise ValueError(f"unknown claim kind {kind!r}; kinds: {', '.join(KINDS)}")
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5), got {alpha}")
    if kind == "rank":
        return _rank(a, paper, threshold)
    if kind == "time_to_event":
        return _time_to_event(a, b, paper, alpha, budget)
    if kind == "proportion":
        return _proportion(_samples(a, "a"), _samples(b, "b"), paper, alpha)
    a = _samples(a, "a")
    b = None if b is None else _samples(b, "b")
    if kind == "no_effect":
        if margin is None or not margin > 0:
            raise ValueError(f"a no_effect claim needs margin > 0 (the largest effect that counts as none), "
                             f"got {margin}")
        return _no_effect(a, b, paired, margin, alpha)
    if paper is None or not np.isfinite(paper):
        raise ValueError("a difference claim needs the paper's value (paper=...), whose sign it tests")
    return _difference(a, b, float(paper), paired, alpha, magnitude)


def _interval(a, b, paired: bool, level: float):
    """(estimate, lo, hi, p, n, reason): the t interval of mean(a) (b None), of the paired
    differences, or Welch's of mean(a) - mean(b); a reason where it cannot be computed."""
    if b is not None and paired:
        if len(a) != len(b):
            raise ValueError(f"a paired claim needs as many samples in a as in b, got {len(a)} and {len(b)}")
        a, b = a - b, None
    if b is None:
        n, est = len(a), float(a.mean()) if len(a) else float("nan")
        if n < 2:
            return est, None, None, None, n, f"{n} seed: an interval needs at least 2"
        if a.std() == 0:
            return est, None, None, None, n, f"zero variance: all {n} seeds gave {est:.4g}"
        lo, hi = st.t.interval(level, n - 1, loc=est, scale=st.sem(a))
        return est, float(lo), float(hi), float(st.ttest_1samp(a, 0.0).pvalue), n, ""
    n = min(len(a), len(b))
    est = float(a.mean() - b.mean()) if len(a) and len(b) else float("nan")
    if n < 2:
        return est, None, None, None, n, f"{n} seed in an arm: an interval needs at least 2 in each"
    if a.std() == 0 and b.std() == 0:
        return est, None, None, None, n, "zero variance: every seed of each arm gave the same value"
    lo, hi = stats.welch_interval(a, b, level)
    return est, lo, hi, stats.welch_ttest(a, b).p, n, ""


def _difference(a, b, paper: float, paired: bool, alpha: float, magnitude: bool = True) -> Judgement:
    est, lo, hi, p, n, why = _interval(a, b, paired, 1 - alpha)
    if why:
        return undecidable("difference", n, why, est)
    side = np.sign(paper)
    if side == 0:
        raise ValueError("a difference claim of paper value 0 is a no_effect claim: give a margin")
    if (lo > 0 and side > 0) or (hi < 0 and side < 0):
        if not magnitude:
            return Judgement("difference", "reproduced", est, lo, hi, p, n,
                             "the interval excludes 0 on the paper's side (it states no size)", significance=True)
        if lo <= paper <= hi:
            return Judgement("difference", "reproduced", est, lo, hi, p, n,
                             f"the interval excludes 0 and holds the paper's {paper:+.4g}", significance=True)
        return Judgement("difference", "direction only", est, lo, hi, p, n,
                         f"the sign holds; the paper's {paper:+.4g} is outside the interval", significance=True)
    if lo > 0 or hi < 0:
        return Judgement("difference", "contradicted", est, lo, hi, p, n,
                         "the interval excludes 0 on the side opposite the paper's", significance=True)
    # an interval that straddles 0 may still rule out the paper's size: say so (the verdict stays)
    beyond = magnitude and side != 0 and not lo <= paper <= hi
    return Judgement("difference", "inconclusive", est, lo, hi, p, n, "the interval straddles 0"
                     + (f"; it excludes the paper's {paper:+.4g}" if beyond else ""))


def _no_effect(a, b, paired: bool, margin: float, alpha: float) -> Judgement:
    est, lo, hi, _, n, why = _interval(a, b, paired, 1 - 2 * alpha)   # TOST at alpha: the 1 - 2 alpha interval
    if why:
        return undecidable("no_effect", n, why, est)
    _, lo95, hi95, _, _, _ = _interval(a, b, paired, 1 - alpha)
    # the TOST p: the larger of the two one-sided p-values, from the same t distribution as the interval
    df = _df(a, b, paired)
    se = (hi - lo) / 2 / st.t.ppf(1 - alpha, df)
    p = float(max(st.t.sf((est + margin) / se, df), st.t.sf((margin - est) / se, df)))
    if -margin < lo and hi < margin:
        return Judgement("no_effect", "reproduced", est, lo, hi, p, n,
                         f"the {100 * (1 - 2 * alpha):.0f}% interval lies inside +-{margin:.4g}", significance=True)
    if lo95 > margin or hi95 < -margin:
        # an effect beyond the margin is a finding like any other contradiction: its own p (against
        # the nearer margin, two-sided, so p < alpha exactly where the 95% interval clears it) goes
        # through Holm's correction with the chapter's other claims
        p_effect = float(min(1.0, 2 * st.t.sf((abs(est) - margin) / se, df)))
        return Judgement("no_effect", "contradicted", est, lo95, hi95, p_effect, n,
                         f"the 95% interval lies beyond the margin {margin:.4g}: an effect (p against the margin)",
                         significance=True)
    return Judgement("no_effect", "inconclusive", est, lo, hi, p, n,
                     f"the {100 * (1 - 2 * alpha):.0f}% interval reaches past +-{margin:.4g}")


def _proportion(a, b, paper, alpha: float) -> Judgement:
    """Shares of 0/1 outcomes: a t interval is wrong here (and undefined when every run agrees)."""
    if not (np.isin(a, (0, 1)).all() and np.isin(b, (0, 1)).all()):
        raise ValueError("a proportion claim takes 0/1 outcomes per run in a and b")
    if paper is None or not np.isfinite(paper) or paper == 0:
        raise ValueError("a proportion claim needs the paper's direction (paper=+1 or -1, or its difference)")
    n = min(len(a), len(b))
    if n < 1:
        return undecidable("proportion", n, "no runs in an arm")
    ka, kb = int(a.sum()), int(b.sum())
    pa, pb = ka / len(a), kb / len(b)
    (la, ua), (lb, ub) = (tuple(st.binomtest(k, len(x)).proportion_ci(1 - alpha, method="wilson"))
                          for k, x in ((ka, a), (kb, b)))
    est = pa - pb
    lo = est - np.sqrt((pa - la) ** 2 + (ub - pb) ** 2)
    hi = est + np.sqrt((ua - pa) ** 2 + (pb - lb) ** 2)
    p = float(st.fisher_exact([[ka, len(a) - ka], [kb, len(b) - kb]]).pvalue)
    shares = f"{ka}/{len(a)} against {kb}/{len(b)}"
    best = float(st.fisher_exact([[len(a), 0], [0, len(b)]]).pvalue)   # the most extreme shares possible
    if best >= alpha:
        return undecidable("proportion", n, f"{shares}: with {len(a)} and {len(b)} runs Fisher's exact test cannot "
                           f"reach p < {alpha} even at all against none (p = {best:.3g}); more runs are needed", est)
    if p < alpha and np.sign(est) == np.sign(paper):
        return Judgement("proportion", "reproduced", est, lo, hi, p, n, f"{shares}: Fisher's exact p < {alpha} on the "
                         "paper's side", significance=True)
    if p < alpha:
        return Judgement("proportion", "contradicted", est, lo, hi, p, n, f"{shares}: Fisher's exact p < {alpha} on "
                         "the side opposite the paper's", significance=True)
    return Judgement("proportion", "inconclusive", est, lo, hi, p, n, f"{shares}: Fisher's exact p = {p:.3g}")


def _df(a, b, paired: bool) -> float:
    if b is None or paired:
        return len(a) - 1
    return stats.welch_ttest(a, b).df


def _rank(arms: Mapping[str, Sequence[float]], order, threshold: float) -> Judgement:
    if not isinstance(arms, Mapping) or not order or isinstance(order, str):
        raise ValueError("a rank claim takes a = {arm: samples} and paper = the claimed order, best first")
    missing = [o for o in order if o not in arms]
    if missing:
        raise ValueError(f"the claimed order names arms with no samples: {missing}; arms: {', '.join(arms)}")
    data = {k: _samples(v, k) for k, v in arms.items()}
    n = min(len(v) for v in data.values())
    if n < RANK_MIN_SEEDS:
        return undecidable("rank", n, f"{n} seed(s) in an arm: a bootstrap over seeds needs at least "
                                      f"{RANK_MIN_SEEDS} (2 seeds give an arm 3 resampled means, all within "
                                      f"their range: a certainty they cannot support)")
    if all(v.std() == 0 for v in data.values()):
        return undecidable("rank", n, "zero variance: every seed of each arm gave the same value")
    rng = np.random.default_rng(SEED)
    names = list(data)
    # A parametric bootstrap: each arm's mean drawn from its sampling distribution, mean + s/sqrt(n) t_(n-1).
    # Resampling 3 seeds would keep every draw inside their range, and call two arms whose seeds do not
    # overlap certain however few and spread the seeds are; the t draws allow for the spread they did not show.
    means = np.stack([_mean_draws(data[k], rng) for k in names], axis=1)
    top = np.argsort(-means, axis=1, kind="stable")[:, : len(order)]
    want = np.array([names.index(o) for o in order])
    prob = float((top == want).all(axis=1).mean())
    claim = " > ".join(order) + (" > the rest" if len(order) < len(names) else "")
    if prob >= threshold:
        verdict = "reproduced"
    elif prob <= 1 - threshold:
        verdict = "contradicted"
    else:
        verdict = "inconclusive"
    nan = float("nan")   # no p-value: the verdict is the probability against the threshold, outside Holm's family
    return Judgement("rank", verdict, prob, nan, nan, nan, n,
                     f"{claim} in {100 * prob:.0f}% of {BOOTSTRAP} parametric bootstrap draws of the arms' means "
                     f"(threshold {100 * threshold:.0f}%)")


def _time_to_event(a, b, paper, alpha: float, budget: float | None) -> Judgement:
    a, b = _samples(a, "a"), _samples(b, "b")
    if budget is None or not budget > 0:
        raise ValueError("a time_to_event claim needs budget > 0: "
                         "the time at which runs that never reach the event stop")
    reach_a, reach_b = np.isfinite(a) & (a <= budget), np.isfinite(b) & (b <= budget)
    ta, tb = np.where(reach_a, a, budget), np.where(reach_b, b, budget)
    n = min(len(a), len(b))
    if n < 2:
        return undecidable("time_to_event", n, f"{n} run in an arm: a test needs at least 2 in each")
    if not reach_a.any() and not reach_b.any():
        return undecidable("time_to_event", n, f"no run reached the event within {budget:g}")
    rng = np.random.default_rng(SEED)
    if reach_a.all() and reach_b.all():
        # complete data: the paper's own summary, 1 - mean(a) / mean(b), with each arm's mean drawn
        # from its t sampling distribution (resampling 3 runs would keep every draw inside their
        # range: an interval too narrow to say that the paper's size is excluded)
        est = float(100 * (1 - ta.mean() / tb.mean()))
        draws = [_mean_draws(t, rng, floor=1e-9) for t in (ta, tb)]
        boots, summary = 100 * (1 - draws[0] / draws[1]), "means"
    else:   # censored runs: Kaplan-Meier medians, resampled
        est = _speedup(ta, reach_a, tb, reach_b)
        boots = []
        for _ in range(BOOTSTRAP // 4):
            i, j = rng.integers(len(ta), size=len(ta)), rng.integers(len(tb), size=len(tb))
            boots.append(_speedup(ta[i], reach_a[i], tb[j], reach_b[j]))
        boots, summary = np.asarray(boots), "Kaplan-Meier medians"
    lo, hi = (float(np.nanquantile(boots, q)) for q in (alpha / 2, 1 - alpha / 2)) if np.isfinite(boots).any() \
        else (float("nan"), float("nan"))
    p = stats.logrank_p(ta, reach_a, tb, reach_b)
    censored = (f"{int((~reach_a).sum())} of {len(a)} and {int((~reach_b).sum())} of {len(b)} "
                f"runs censored at {budget:g}; speed-up of the {summary}")
    if p >= alpha or paper is None:
        why = f"log-rank p = {p:.3g}" + ("" if paper is not None else " (no paper value)")
        return Judgement("time_to_event", "inconclusive", est, lo, hi, p, n, f"{why}; {censored}")
    side = np.sign(paper)
    if np.sign(est) == side:
        inside = np.isfinite(lo) and lo <= paper <= hi
        return Judgement("time_to_event", "reproduced" if inside else "direction only", est, lo, hi, p, n,
                         f"log-rank p = {p:.3g}; the paper's {paper:+.4g}% is {'inside' if inside else 'outside'} the "
                         f"interval; {censored}", significance=True)
    return Judgement("time_to_event", "contradicted", est, lo, hi, p, n,
                     f"log-rank p = {p:.3g} on the side opposite the paper's {paper:+.4g}%; {censored}",
                     significance=True)


def _mean_draws(x: np.ndarray, rng, floor: float = -np.inf) -> np.ndarray:
    """BOOTSTRAP draws of x's mean from its t sampling distribution, mean + s/sqrt(n) t_(n-1), kept
    above `floor` (a parametric bootstrap over seeds); the mean itself where x has no spread."""
    if x.std() == 0:
        return np.full(BOOTSTRAP, x.mean())
    return np.maximum(x.mean() + st.sem(x) * rng.standard_t(len(x) - 1, BOOTSTRAP), floor)


def _speedup(ta, ea, tb, eb) -> float:
    """1 - median(a) / median(b) in percent (Kaplan-Meier medians); -inf where a never reaches
    half, +100 where b never does and a does, NaN where neither."""
    ma, mb = stats.km_median(ta, ea), stats.km_median(tb, eb)
    if np.isinf(ma) and np.isinf(mb):
        return float("nan")
    if np.isinf(mb):
        return 100.0
    if np.isinf(ma):
        return float("-inf")
    return float(100 * (1 - ma / mb))


def correct(judgements: Sequence[Judgement], alpha: float = 0.05) -> list[Judgement]:
    """Holm's correction across a chapter's judgements: each gets p_holm, and a verdict that
    rests on significance becomes inconclusive where p_holm >= alpha."""
    adjusted = stats.holm([j.p for j in judgements])
    out = []
    for j, ph in zip(judgements, adjusted):
        if j.significance and not ph < alpha:
            j = replace(j, verdict="inconclusive", reason=f"{j.reason}; not significant after Holm's correction "
                                                            f"(p = {ph:.3g})")
        out.append(replace(j, p_holm=float(ph)))
    return out


def table(claims: Sequence[Claim], judgements: Sequence[Judgement]) -> pd.DataFrame:
    """The one ledger schema (COLUMNS), a row per claim."""
    if len(claims) != len(judgements):
        raise ValueError(f"{len(claims)} claims but {len(judgements)} judgements")
    rows = []
    for c, j in zip(claims, judgements):
        paper = ", ".join(c.paper) if isinstance(c.paper, (list, tuple)) else c.paper
        rows.append({"claim": c.text, "source": c.source, "kind": c.kind, "paper": paper, "estimate": j.estimate,
                     "lo": j.lo, "hi": j.hi, "n": j.n, "p": j.p, "p_holm": j.p_holm, "verdict": j.verdict,
                     "reason": j.reason, "profile": c.profile, "data": c.data,
                     "rests_on": tuple(tuple(k) for k in c.rests_on)})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def shown(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """A ledger table for reading: the estimate with its interval in one column, p-values and
    the rest as text, indexed by claim; with the `audit` column where the table has one."""
    def num(v):
        return "" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.{digits}g}"

    out = pd.DataFrame({
        "claim": table["claim"], "source": table["source"], "paper": [num(v) if isinstance(v, float) else v
                                                                     for v in table["paper"]],
        "ours [interval]": [f"{num(e)} [{num(lo)}, {num(hi)}]" if np.isfinite(lo) else num(e)
                            for e, lo, hi in zip(table["estimate"], table["lo"], table["hi"])],
        "n": table["n"], "p": table["p"].map(num), "p (Holm)": table["p_holm"].map(num),
        "verdict": table["verdict"], "why": table["reason"], "ran on": table["data"]})
    if "audit" in table:   # the statistics audit's flags (aux_core.audit.linked)
        out["audit"] = table["audit"].to_numpy()
    return out.set_index("claim")
