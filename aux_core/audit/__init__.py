"""The four papers audited by their own numbers: every reported p-value, SD, interval, effect size
and relative improvement recomputed from the paper's other numbers where they suffice, and marked
consistent, inconsistent or not checkable (the rounding rule is in `recompute`), with GRIM/GRIMMER
where granularity lets them fail and the power of each significance claim.

    frame = audit.checks()                   # every paper: paper, table, row, item, check, reported, ...
    audit.tally(frame)                       # statuses per paper
    audit.findings(frame, audit.power())     # the page's sentences, generated from the frames
    audit.flagged("lion_dg", "Table 8")      # the inconsistent items a claim citing Table 8 rests on
    audit.for_keys("lion_dg", [("Table 8", "LION-DG speedup")], frame)   # ... by the rows it reads
    audit.linked(ledger_table, "lion_dg")    # a chapter's ledger with its claims' flags (`audit`)

Nothing is trained: it reads aux_core.reference only, so it runs in seconds.
"""
from __future__ import annotations

import functools

import pandas as pd

from .. import reference
from . import asymmetric, dks, lion_dg, wamal
from .recompute import COLUMNS, STATUSES

PAPERS = {"asymmetric": "Asymmetric training", "lion_dg": "LION-DG", "wamal": "WAMAL", "dks": "DKS"}
MODULES = {"asymmetric": asymmetric, "lion_dg": lion_dg, "wamal": wamal, "dks": dks}
SHOWN = ["table", "item", "reported", "recomputed", "status", "reason", "source"]

__all__ = ["PAPERS", "COLUMNS", "STATUSES", "checks", "power", "tally", "inconsistent", "flagged", "for_keys", "linked",
           "findings", "shown"]


def _papers(paper: str | None) -> list[str]:
    if paper is not None and paper not in MODULES:
        raise ValueError(f"unknown paper {paper!r}; choose one of {', '.join(MODULES)}")
    return list(MODULES) if paper is None else [paper]


def checks(paper: str | None = None) -> pd.DataFrame:
    """The check rows of one paper, or of all four stacked (COLUMNS)."""
    return pd.concat([MODULES[p].checks() for p in _papers(paper)], ignore_index=True)


def power(paper: str | None = None) -> pd.DataFrame:
    """Each significance claim against the minimal detectable effect of its design."""
    return pd.concat([MODULES[p].power() for p in _papers(paper)], ignore_index=True)


def tally(frame: pd.DataFrame) -> pd.DataFrame:
    """Items per status for each paper (rows, by name) and in all."""
    t = pd.crosstab(frame["paper"], frame["status"]).reindex(columns=list(STATUSES), fill_value=0)
    t = t.reindex([p for p in PAPERS if p in set(frame["paper"])]).rename(index=PAPERS)
    t.loc["all"] = t.sum()
    t["items"] = t.sum(axis=1)
    t.index.name = "paper"
    return t


def inconsistent(frame: pd.DataFrame) -> pd.DataFrame:
    """The inconsistent items, indexed by paper name, in the columns a reader needs."""
    bad = frame[frame["status"] == "inconsistent"]
    return bad.assign(paper=bad["paper"].map(PAPERS))[["paper", *SHOWN]].set_index("paper")


def shown(frame: pd.DataFrame) -> pd.DataFrame:
    """One paper's rows for reading."""
    return frame[SHOWN].reset_index(drop=True)


def flagged(paper: str, table: str, row: str | None = None, frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """The inconsistent items of (paper, table[, row]): what a claim citing that number rests on."""
    frame = checks(paper) if frame is None else frame
    hit = frame[(frame["paper"] == paper) & (frame["table"] == table) & (frame["status"] == "inconsistent")]
    return hit if row is None else hit[hit["row"] == row]


@functools.cache
def _rows(paper: str) -> frozenset:
    """Every (table, row) of the paper's printed numbers and of the audit's checks."""
    ref, audited = reference.load(paper), checks(paper)
    return frozenset(zip(ref["table"], ref["row"])) | frozenset(zip(audited["table"], audited["row"]))


def for_keys(paper: str, keys, frame: pd.DataFrame) -> str:
    """The flagged items behind a claim's `rests_on` keys ((table, row), or (table, row, words
    the item contains)), as text; empty where none is flagged. A key that names no row of the
    paper is refused: it would never flag anything."""
    items = []
    for key in keys:
        table, row = key[0], key[1]
        if (table, row) not in _rows(paper):
            tables = sorted({t for t, _ in _rows(paper)})
            raise ValueError(f"no row {row!r} in {table} of {paper}'s numbers; its tables: {', '.join(tables)}")
        hit = flagged(paper, table, row, frame)
        if len(key) > 2:
            hit = hit[hit["item"].str.contains(key[2], regex=False)]
        named = [i if i.lower().startswith(table.lower()) else f"{table}: {i}" for i in hit["item"]]
        items += [i for i in named if i not in items]
    return "; ".join(items)


def linked(ledger_table: pd.DataFrame, paper: str, frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """A chapter's claims ledger (aux_core.ledger's schema) with an `audit` column: the flagged
    items among the paper's numbers each claim rests on, empty where none."""
    frame = checks(paper) if frame is None else frame
    return ledger_table.assign(audit=[for_keys(paper, keys, frame) for keys in ledger_table["rests_on"]])


def _counts(statuses: pd.Series) -> str:
    counts = statuses.value_counts()
    return ", ".join(f"{counts[s]} {s}" for s in STATUSES if s in counts) or "none"


def findings(frame: pd.DataFrame, power_frame: pd.DataFrame, paper: str | None = None) -> list[str]:
    """The page's paragraphs from the check rows and the power rows: the count of each status in
    all and per paper, the inconsistent items by name, what GRIM/GRIMMER could decide and how
    many significance claims their designs could detect. `paper`: one paper's page."""
    if paper is not None:
        frame, power_frame = frame[frame["paper"] == paper], power_frame[power_frame["paper"] == paper]
    if not len(frame):
        return ["The audit has no items to report."]
    scope = PAPERS[paper] if paper is not None else f"the {frame['paper'].nunique()} papers"
    lines = [f"The audit recomputed {len(frame)} reported numbers of {scope} from their own tables: "
             f"{_counts(frame['status'])}."]
    for p, g in frame.groupby("paper", sort=False):
        line = f"**{PAPERS[p]}**: {_counts(g['status'])} of {len(g)}."
        bad = g[g["status"] == "inconsistent"]
        if len(bad):
            line += " Inconsistent: " + "; ".join(f"{i} ({t})" for i, t in zip(bad["item"], bad["table"])) + "."
        lines.append(line)
    grim = frame[frame["check"].isin(["GRIM", "GRIMMER"])]
    if len(grim):
        decided = grim[grim["status"] != "not checkable"]
        lines.append(f"GRIM and GRIMMER could decide {len(decided)} of the {len(grim)} groups of means and SDs they "
                     f"were applied to; in {'the others' if len(decided) else 'all of them'} the granularity of n runs "
                     "over the test set is finer than the printed precision, so the test cannot fail"
                     + (f" ({(decided['status'] == 'inconsistent').sum()} impossible)." if len(decided) else "."))
    if len(power_frame):
        low = power_frame[~power_frame["detectable"]]
        line = (f"{len(power_frame) - len(low)} of the {len(power_frame)} significance claims rest on effects at least "
                "the minimal detectable effect of their design (80% power)")
        if len(low):
            line += "; below it: " + "; ".join(f"{i} (d = {d:.2f} against {m:.2f}, power {w:.2f})" for i, d, m, w in
                                              zip(low["item"], low["effect_d"], low["mde_d"], low["power"]))
        lines.append(line + ".")
    return lines
