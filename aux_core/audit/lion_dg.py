"""LION-DG audited by its own numbers: Table 1's means and SDs against Table 6's seeds, Table 7's
summaries against its seeds, Table 8's p against its d at 3 seeds, the repeated tables and the
abstract, GRIM/GRIMMER, and the power of its one significance claim."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as st

from .. import stats
from . import recompute as ck
from .reading import TEST_IMAGES, Paper, frame, power_frame

PAPER = "lion_dg"
METHODS = ("He-init", "LION-DG", "LSUV", "Hybrid")
SEEDS = ("seed=42", "seed=123", "seed=456")


def _seeds(P: Paper, table: str, column: str) -> list[float]:
    return [P.number(table, s, column) for s in SEEDS]


def checks() -> pd.DataFrame:
    P, out = Paper(PAPER), []
    n = int(P.number("Section 5", "all results", "runs"))
    for m in METHODS:   # Table 1's CIFAR-10 DenseNet-DS cells are Table 6's seeds summarised
        t1, seeds = P.cell("Table 1", f"DenseNet-DS|{m}", "val_acc", "CIFAR-10"), _seeds(P, "Table 6", m)
        mean = float(np.mean(seeds))
        status, why = ck.verdict(mean, mean, mean, t1.value)
        out.append(P.row("Table 1", f"DenseNet-DS|{m}", f"{m} mean (CIFAR-10 DenseNet-DS)", "mean from seeds",
                         t1.value, ck.number(mean), status, f"{why} (Table 6's {n} seeds)", t1.source))
        sd0, sd1 = ck.sds(seeds)
        if ck.rounds_to(sd1, t1.std):
            status, why = "consistent", f"the sample SD (ddof 1) of Table 6's seeds is {sd1:.2f}"
        elif ck.rounds_to(sd0, t1.std):
            status, why = "inconsistent", (f"equals the population SD (ddof 0) {sd0:.2f} of Table 6's seeds, not the "
                                           f"sample SD (ddof 1) {sd1:.2f} that mean ± std over seeds and the Welch "
                                           f"tests use: the spread is understated by sqrt({n - 1}/{n}) at {n} seeds")
        else:
            status, why = "inconsistent", f"neither the sample SD {sd1:.2f} nor the population SD {sd0:.2f}"
        out.append(P.row("Table 1", f"DenseNet-DS|{m}", f"{m} SD (CIFAR-10 DenseNet-DS)", "SD from seeds",
                         t1.std, f"ddof 0: {sd0:.3f}; ddof 1: {sd1:.3f}", status, why, t1.source))
        t6 = P.cell("Table 6", "mean", m)
        status, why = ck.verdict(mean, mean, mean, t6.value)
        out.append(P.row("Table 6", "mean", f"{m} mean row", "mean from seeds", t6.value, ck.number(mean), status,
                         why, t6.source))
    for m in ("Fixup", "ReZero"):   # Table 7's mean and std rows against its own seeds
        seeds = _seeds(P, "Table 7", m)
        mean, (sd0, sd1) = float(np.mean(seeds)), ck.sds(seeds)
        c = P.cell("Table 7", "mean", m)
        status, why = ck.verdict(mean, mean, mean, c.value)
        out.append(P.row("Table 7", "mean", f"{m} mean steps", "mean from seeds", c.value, ck.number(mean), status,
                         why, c.source))
        c = P.cell("Table 7", "std", m)
        hit = [k for k, v in (("ddof 1", sd1), ("ddof 0", sd0)) if ck.rounds_to(v, c.value)]
        out.append(P.row("Table 7", "std", f"{m} std of steps", "SD from seeds", c.value,
                         f"ddof 0: {sd0:.1f}; ddof 1: {sd1:.1f}", "consistent" if hit else "inconsistent",
                         f"equals the {hit[0]} SD" if hit else f"neither the sample SD {sd1:.1f} nor the population "
                         f"SD {sd0:.1f} of the three seeds", c.source))
    out += _table8(P, n)
    for d, arch in (("CIFAR-10", "DenseNet-DS"), ("CIFAR-10", "ResNet-DS"), ("CIFAR-100", "DenseNet-DS"),
                    ("CIFAR-100", "ResNet-DS")):
        pairs = [(P.cell("Table 2", arch, f"{m}_acc", d), P.cell("Table 1", f"{arch}|{m}", "val_acc", d))
                 for m in ("He-init", "LION-DG")]
        speed = (P.cell("Table 2", arch, "speedup_pct", d), P.cell("Table 1", f"{arch}|LION-DG", "speedup_pct", d))
        pairs += [speed] if speed[0] and speed[1] else []
        out.append(P.same("Table 2", arch, f"Table 2 repeats Table 1 ({d} {arch})", pairs, "Table 1"))
    for d, row, col, item in (("CIFAR-10", "DenseNet-DS|LION-DG", "speedup_pct", "abstract: +8.3% faster"),
                              ("CIFAR-10", "DenseNet-DS|Hybrid", "val_acc", "abstract: Hybrid best, 81.92%"),
                              ("CIFAR-100", "ResNet-DS|LION-DG", "speedup_pct", "abstract: +11.3% speed-up")):
        out.append(P.same("Abstract", row, item, [(P.cell("Abstract", row, col, d), P.cell("Table 1", row, col, d))],
                          "Table 1"))
    best = max(METHODS, key=lambda m: P.number("Table 1", f"DenseNet-DS|{m}", "val_acc", "CIFAR-10"))
    c = P.cell("Abstract", "DenseNet-DS|Hybrid", "val_acc", "CIFAR-10")
    out.append(P.row("Abstract", "DenseNet-DS|Hybrid", "abstract: Hybrid has the best CIFAR-10 accuracy", "claim",
                     "Hybrid", best, "consistent" if best == "Hybrid" else "inconsistent",
                     f"{best} has the highest CIFAR-10 DenseNet-DS accuracy in Table 1 (DenseNet-DS is the one "
                     "architecture where it is)", c.source))
    for m in ("Fixup", "ReZero"):
        c = P.cell("Section B.3", f"{m} vs He-init", "p_bound", "CIFAR-10")
        out.append(P.row("Section B.3", f"{m} vs He-init", f"{m} vs He-init: p > 0.5", "Welch p", c.value, "",
                         "not checkable", "no He-init steps to 70% are printed to test against", c.source))
    for d in ("CIFAR-10", "CIFAR-100"):
        for r in P.rows("Table 1", d):
            c = P.cell("Table 1", r, "speedup_pct", d)
            if c is not None:
                out.append(P.row("Table 1", r, f"{r} speed-up ({d})", "relative improvement", c.value, "",
                                 "not checkable", "the steps to 70% behind the speed-up are not printed", c.source))
    step = 100 / TEST_IMAGES["CIFAR-10"]
    what = "percent over 10,000 test images"
    cells = [(r, P.cell("Table 1", r, "val_acc", d)) for d in ("CIFAR-10", "CIFAR-100") for r in P.rows("Table 1", d)]
    out += P.grim("Table 1", cells, n, step, what) + P.grimmer("Table 1", cells, n, step, what)
    steps = [(m, P.cell("Table 7", "mean", m)) for m in ("Fixup", "ReZero")]
    out += P.grim("Table 7", steps, n, 1.0, "integer steps")
    return frame(out)


def _table8(P: Paper, n: int) -> list[dict]:
    """Table 8: p = 0.0076 with d = 1.42. A t-test at n seeds an arm gives from d alone
    t = d / sqrt(2 / n), with Welch's df between n - 1 and 2n - 2 (equal SDs give 2n - 2)."""
    cp, cd = P.cell("Table 8", "LION-DG speedup", "p"), P.cell("Table 8", "LION-DG speedup", "cohens_d")
    d = cd.value
    p_student = stats.p_from_cohens_d(d.value, n, n)
    ps = [float(2 * st.t.sf(abs(x) / np.sqrt(2 / n), df)) for x in (d.lo, d.hi) for df in (n - 1, 2 * n - 2)]
    status, why = ck.verdict(p_student, min(ps), max(ps), cp.value)
    rows = [P.row("Table 8", "LION-DG speedup", f"p = {cp.value} with d = {d} at {n} seeds an arm", "p from d",
                  cp.value, f"{p_student:.3f} (Welch df {n - 1} to {2 * n - 2}: {min(ps):.3f} to {max(ps):.3f})",
                  status, f"{why}; a p this small at {n} seeds needs d near "
                  f"{_d_for_p(cp.value.value, n):.1f}", cp.source)]
    rows.append(P.row("Table 8", "LION-DG speedup", f"Cohen's d = {d}", "Cohen's d", d, "", "not checkable",
                      "the per-seed steps to 70% it comes from are not printed", cd.source))
    c = P.cell("Table 8", "Hybrid best consistency", "sigma")
    same = P.cell("Table 1", "DenseNet-DS|Hybrid", "val_acc", "CIFAR-10")
    rows.append(P.same("Table 8", "Hybrid best consistency", "Hybrid sigma = 0.66 is Table 1's",
                       [(c, ck_cell(same.std, same))], "Table 1 (CIFAR-10 DenseNet-DS Hybrid)"))
    stds = [(r, dset, P.cell("Table 1", r, "val_acc", dset).std) for dset in ("CIFAR-10", "CIFAR-100")
            for r in P.rows("Table 1", dset)]
    low = min(stds, key=lambda x: x[2].value)
    status = "consistent" if low[2].value >= c.value.value else "inconsistent"
    rows.append(P.row("Table 8", "Hybrid best consistency", "Hybrid sigma = 0.66 is the lowest", "claim", c.value,
                      f"lowest: {low[2]} ({low[1]} {low[0]})", status,
                      f"Table 1's lowest SD is {low[2]} ({low[1]} {low[0]})", c.source))
    return rows


def ck_cell(value: ck.Printed, like) -> object:
    """A cell that holds `value` with the source of `like` (to compare a printed SD as a number)."""
    return type(like)(value, None, like.source, like.note)


def _d_for_p(p: float, n: int) -> float:
    """The Cohen's d whose equal-variance t-test at n seeds an arm gives p."""
    return float(st.t.isf(p / 2, 2 * n - 2) * np.sqrt(2 / n))


def power() -> pd.DataFrame:
    P = Paper(PAPER)
    n = int(P.number("Section 5", "all results", "runs"))
    cp, cd = P.cell("Table 8", "LION-DG speedup", "p"), P.cell("Table 8", "LION-DG speedup", "cohens_d")
    return power_frame([P.power("Table 8", "LION-DG speedup", f"LION-DG speed-up, p = {cp.value}, d = {cd.value}",
                                f"Welch, {n} seeds an arm (Student df for the power)", n, n, ck.ALPHA, cd.value.value,
                                float("nan"), cd.source)])
