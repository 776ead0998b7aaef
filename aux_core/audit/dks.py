"""DKS audited by its own numbers. The book holds only its published CIFAR-100 errors (Main
Table 1, from the notes): WRN-28-10 as mean ± std of 5 runs, the ResNets as single numbers from a
secondary source. It prints no test, p-value or effect size, so little is checkable: GRIM/GRIMMER
on the WRN means, and the power of 5 runs an arm for the improvement it reports."""
from __future__ import annotations

import pandas as pd

from . import recompute as ck
from .reading import TEST_IMAGES, Paper, frame, power_frame

PAPER = "dks"
TABLE = "Main Table 1"


def _runs(P: Paper) -> int:
    return int(P.number("Notes", "WRN-28-10", "runs"))


def checks() -> pd.DataFrame:
    P = Paper(PAPER)
    out, cells, n = [], [], _runs(P)
    for row in P.rows(TABLE):
        for arm in ("baseline", "DS", "DKS"):
            c = P.cell(TABLE, row, arm)
            if c is None:
                continue
            if c.std is None:
                out.append(P.row(TABLE, row, f"{row} {arm} error", "mean", c.value, "", "not checkable",
                                 "a single number with no spread or run count", c.source))
            else:
                cells.append((f"{row}|{arm}", c))
                out.append(P.row(TABLE, row, f"{row} {arm} SD", "SD", c.std, "", "not checkable",
                                 f"the {n} runs behind it are not printed", c.source))
    for row in P.rows(TABLE):
        base, dks = P.cell(TABLE, row, "baseline"), P.cell(TABLE, row, "DKS")
        if base is None or dks is None or base.std is None:
            continue
        p = ck.welch_p(dks.value.value, dks.std.value, base.value.value, base.std.value, n, n)
        out.append(P.row(TABLE, row, f"{row}: DKS lowers the error", "claim", "no test printed",
                         f"Welch p = {ck.number(p, 2)}", "not checkable",
                         f"the paper prints no test to check; from the summaries a Welch test at {n} runs an arm "
                         f"gives p = {ck.number(p, 2)}", dks.source))
    step = 100 / TEST_IMAGES["CIFAR-100"]
    what = "percent error over 10,000 test images"
    out += P.grim(TABLE, cells, n, step, what) + P.grimmer(TABLE, cells, n, step, what)
    return frame(out)


def power() -> pd.DataFrame:
    P = Paper(PAPER)
    out, n = [], _runs(P)
    for row in P.rows(TABLE):
        base, dks = P.cell(TABLE, row, "baseline"), P.cell(TABLE, row, "DKS")
        if base is None or dks is None or base.std is None or dks.std is None:
            continue
        d = ck.cohens_d(dks.value.value, dks.std.value, base.value.value, base.std.value)
        sd = ((dks.std.value ** 2 + base.std.value ** 2) / 2) ** 0.5
        out.append(P.power(TABLE, row, f"{row}: DKS lowers the error (no test printed)",
                           f"Welch, {n} runs an arm (Student df for the power)", n, n, ck.ALPHA, d, sd, dks.source))
    return power_frame(out)
