"""How every chapter shows a table beside the paper's: numbers as text ("mean ± std", "estimate
[lo, hi]", p-values), and one `side_by_side(ours, paper, ...)` builder, so that a notebook's table
is one call and its columns read the same in every chapter."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

Spec = str | tuple[str, str] | tuple[str, str, str] | None


def _finite(v) -> bool:
    try:
        return bool(np.isfinite(float(v)))
    except (TypeError, ValueError):
        return False


def number_text(v, digits: int = 2, signed: bool = False) -> str:
    """A number at `digits` decimals ("+" on positives when `signed`; "—" for no value)."""
    return f"{float(v):{'+' if signed else ''}.{digits}f}" if _finite(v) else "—"


def mean_std_text(mean, std, digits: int = 2) -> str:
    """"mean ± std" ("—" for no value; the mean alone without a spread)."""
    if not _finite(mean):
        return "—"
    return f"{float(mean):.{digits}f} ± {float(std):.{digits}f}" if _finite(std) else f"{float(mean):.{digits}f}"


def interval_text(estimate, lo, hi, digits: int = 2, signed: bool = True) -> str:
    """"estimate [lo, hi]" ("—" for no value; the estimate alone without an interval)."""
    if not _finite(estimate):
        return "—"
    text = number_text(estimate, digits, signed)
    return f"{text} [{number_text(lo, digits, signed)}, {number_text(hi, digits, signed)}]" if _finite(lo) else text


def p_text(p) -> str:
    """A p-value as the papers print it: four decimals, "< 0.0001" below that ("—": no test)."""
    if not _finite(p):
        return "—"
    return "< 0.0001" if p < 1e-4 else f"{float(p):.4f}"


@dataclass(frozen=True)
class Shown:
    """One quantity of a side-by-side table: where it is in our frame and in the paper's. A spec
    is a column (a number), (mean, std) columns or (estimate, lo, hi) columns, or None where that
    side has no such number; `scale` multiplies the numbers (100: fractions as percent); `p=True`
    prints the column as a p-value."""
    label: str
    ours: Spec
    paper: Spec = None
    digits: int = 2
    signed: bool = False
    p: bool = False
    scale: float = 1.0

    def text(self, row, spec: Spec) -> str:
        def get(col):
            v = row.get(col, np.nan) if row is not None else np.nan
            return self.scale * v if _finite(v) and not self.p else v
        if isinstance(spec, str):
            return p_text(get(spec)) if self.p else number_text(get(spec), self.digits, self.signed)
        if len(spec) == 2:
            return mean_std_text(get(spec[0]), get(spec[1]), self.digits)
        return interval_text(*(get(c) for c in spec), digits=self.digits, signed=self.signed)


def side_by_side(ours: pd.DataFrame, paper: pd.DataFrame | None, index: list[str], shown: list[Shown],
                 paper_key=None, keep: tuple[str, ...] = ()) -> pd.DataFrame:
    """Our table beside the paper's, as text: for each `Shown` quantity a "paper <label>" and an
    "ours <label>" column (one of them where the other side has no such number), then the `keep`
    columns of ours as they are. `ours` has one row per table row, named by its `index` columns;
    `paper` is indexed by the paper's row key (a `reference.wide` frame), which `paper_key(row)`
    gives for each of our rows (default: the index values); None: the paper's numbers are columns
    of `ours` already (joined by the chapter's table). A row the paper lacks shows "—"."""
    if paper_key is None:
        def paper_key(row):
            values = tuple(row[i] for i in index)
            return values[0] if len(values) == 1 else values
    rows = []
    for _, r in ours.iterrows():
        key = paper_key(r)
        theirs = r if paper is None else paper.loc[key] if key in paper.index else None
        if isinstance(theirs, pd.DataFrame):   # a duplicated key: the first printed row
            theirs = theirs.iloc[0]
        row = {i: r[i] for i in index}
        for q in shown:
            if q.paper is not None:
                row[f"paper {q.label}"] = q.text(theirs, q.paper)
            if q.ours is not None:
                row[f"ours {q.label}"] = q.text(r, q.ours)
        row.update({k: r[k] for k in keep})
        rows.append(row)
    sides = [(f"{side} {q.label}", spec) for q in shown for side, spec in (("paper", q.paper), ("ours", q.ours))]
    columns = list(index) + [c for c, spec in sides if spec is not None] + list(keep)
    return pd.DataFrame(rows, columns=columns).set_index(index)
