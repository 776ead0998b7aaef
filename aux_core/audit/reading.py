"""Reading a paper's printed numbers for the audit, and the check rows every paper shares
(GRIM and GRIMMER over a table, a duplicate reported twice, the power of a significance claim).

    P = Paper("lion_dg")
    c = P.cell("Table 1", "DenseNet-DS|He-init", "val_acc", dataset="CIFAR-10")
    c.value, c.std, c.source                 # Printed numbers (aux_core.audit.recompute) and file:line
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .. import reference
from . import recompute as ck

# Test-set sizes (dataset facts, not paper numbers): an accuracy is a count over these images.
TEST_IMAGES = {"CIFAR-10": 10_000, "CIFAR-100": 10_000, "CIFAR-100-20": 10_000, "SVHN": 26_032}
POWER_COLUMNS = ("paper", "table", "row", "item", "test", "n", "alpha", "mde_d", "mde_raw", "effect_d", "power",
                 "detectable", "source")


@dataclass(frozen=True)
class Cell:
    value: ck.Printed
    std: ck.Printed | None
    source: str
    note: str


class Paper:
    """One paper's printed numbers (aux_core.reference.printed) and the rows of its audit."""

    def __init__(self, paper: str):
        self.paper = paper
        self.df = reference.printed(paper)

    def cell(self, table: str, row: str, column: str, dataset: str | None = None) -> Cell | None:
        """The printed cell, or None where the paper prints nothing there."""
        d = self.df
        hit = d[(d["table"] == table) & (d["row"] == row) & (d["column"] == column)]
        if dataset is not None:
            hit = hit[hit["dataset"] == dataset]
        if len(hit) != 1:
            return None
        r = hit.iloc[0]
        std = ck.printed(r["std"]) if r["std"] else None
        return Cell(ck.printed(r["value"], r["note"]), std, r["source"], r["note"])

    def number(self, table: str, row: str, column: str, dataset: str | None = None) -> float:
        return self.cell(table, row, column, dataset).value.value

    def rows(self, table: str, dataset: str | None = None) -> list[str]:
        d = self.df[self.df["table"] == table]
        if dataset is not None:
            d = d[d["dataset"] == dataset]
        return list(dict.fromkeys(d["row"]))

    def row(self, table: str, row: str, item: str, check: str, reported, recomputed, status: str, reason: str,
            source: str) -> dict:
        if status not in ck.STATUSES:
            raise ValueError(f"unknown status {status!r}; statuses: {', '.join(ck.STATUSES)}")
        return {"paper": self.paper, "table": table, "row": row, "item": item, "check": check,
                "reported": str(reported), "recomputed": str(recomputed), "status": status, "reason": reason,
                "source": source}

    # ------------------------------------------------------------------ shared checks

    def grim(self, table: str, cells: list[tuple[str, Cell]], n: int, step: float, what: str,
             scope: str = "") -> list[dict]:
        """GRIM over a table's means: a row per mean the test can decide, else one row that says
        why the test cannot fail at this granularity. `scope` names the part of the table."""
        scope = scope or table
        results = [(r, c, ck.grim(c.value, n, step)) for r, c in cells]
        decided = [(r, c, g) for r, c, g in results if g.informative]
        if not decided:
            if not results:
                return []
            _, c, g = results[0]
            return [self.row(table, "", f"GRIM: the {len(results)} means of {scope}", "GRIM", f"{len(results)} means",
                             "", "not checkable", f"uninformative: {g.why} ({what}), so every printed mean is "
                             "possible", c.source)]
        return [self.row(table, r, f"GRIM: {r}", "GRIM", c.value, "possible" if g.possible else "impossible",
                         "consistent" if g.possible else "inconsistent", g.why, c.source) for r, c, g in decided]

    def grimmer(self, table: str, cells: list[tuple[str, Cell]], n: int, step: float, what: str,
                scope: str = "") -> list[dict]:
        """GRIMMER over a table's mean ± SD cells, as `grim`."""
        scope = scope or table
        cells = [(r, c) for r, c in cells if c.std is not None]
        results = [(r, c, ck.grimmer(c.value, c.std, n, step)) for r, c in cells]
        decided = [(r, c, g) for r, c, g in results if g.informative]
        if not decided:
            if not results:
                return []
            _, c, g = results[0]
            return [self.row(table, "", f"GRIMMER: the {len(results)} SDs of {scope}", "GRIMMER",
                             f"{len(results)} SDs", "", "not checkable",
                             f"uninformative: {g.why} ({what})", c.source)]
        return [self.row(table, r, f"GRIMMER: {r}", "GRIMMER", f"{c.value} ± {c.std}",
                         "possible" if g.possible else "impossible", "consistent" if g.possible else "inconsistent",
                         g.why, c.source) for r, c, g in decided]

    def same(self, table: str, row: str, item: str, pairs: list[tuple[Cell, Cell]], where: str) -> dict:
        """One quantity printed twice (a repeated table, a figure's quote): equal within the
        rounding of the coarser print?"""
        bad = [(a, b) for a, b in pairs if not ck.reachable(b.value.lo, b.value.hi, a.value)]
        shown = ", ".join(f"{a.value} / {b.value}" for a, b in pairs)
        if bad:
            return self.row(table, row, item, "repeated", shown, "", "inconsistent",
                            f"printed differently in {where}: " + ", ".join(f"{a.value} vs {b.value}" for a, b in bad),
                            pairs[0][0].source)
        return self.row(table, row, item, "repeated", shown, "", "consistent",
                        f"the {len(pairs)} numbers agree with {where} within rounding", pairs[0][0].source)

    def power(self, table: str, row: str, item: str, test: str, n_a: int, n_b: int | None, alpha: float,
              effect_d: float, raw_sd: float, source: str) -> dict:
        """A significance claim against the smallest effect its design detects with 80% power."""
        m = ck.mde(n_a, n_b, alpha)
        return {"paper": self.paper, "table": table, "row": row, "item": item, "test": test,
                "n": n_a if n_b is None else f"{n_a} + {n_b}", "alpha": alpha, "mde_d": m, "mde_raw": m * raw_sd,
                "effect_d": abs(effect_d), "power": ck.power(effect_d, n_a, n_b, alpha),
                "detectable": bool(abs(effect_d) >= m), "source": source}


def frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(ck.COLUMNS))


def power_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(POWER_COLUMNS))
