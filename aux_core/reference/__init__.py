"""The papers' reported numbers as data, one long-format CSV per paper.

Every number carries its table, dataset, row and column keys, its unit, the ± part where printed,
and the line of the source extraction it was read from. Notebooks load paper numbers from here and
never type them by hand. See README.md in this folder for the key scheme of every table and for the
numbers that were left out as unreadable.

    >>> from aux_core import reference as ref
    >>> ref.value("asymmetric", "Table 1", "N=20|ViT-6L", "asymmetric")
    0.453
    >>> ref.wide("lion_dg", "Table 1", dataset="CIFAR-10")      # doctest: +SKIP
"""
from __future__ import annotations

import functools
import io
from importlib import resources

import pandas as pd

PAPERS = ("asymmetric", "lion_dg", "wamal", "dks")
COLUMNS = ("table", "dataset", "row", "column", "value", "std", "unit", "source", "note")
KEY = ("paper", "table", "dataset", "row", "column")

__all__ = ["PAPERS", "COLUMNS", "load", "printed", "tables", "table", "value", "wide"]


def _check_paper(paper: str) -> None:
    if paper not in PAPERS:
        raise ValueError(f"unknown paper {paper!r}; choose one of {', '.join(PAPERS)}")


@functools.lru_cache(maxsize=None)
def _read(paper: str) -> pd.DataFrame:
    text = resources.files(__name__).joinpath(f"{paper}.csv").read_text(encoding="utf-8")
    df = pd.read_csv(
        io.StringIO(text),
        dtype={c: str for c in COLUMNS if c not in ("value", "std")},
        keep_default_na=False,
        na_values={"value": [""], "std": [""]},
    )
    if tuple(df.columns) != COLUMNS:
        raise ValueError(f"{paper}.csv has columns {list(df.columns)}, expected {list(COLUMNS)}")
    df["value"] = df["value"].astype(float)
    df["std"] = df["std"].astype(float)
    df.insert(0, "paper", paper)
    return df


def load(paper: str) -> pd.DataFrame:
    """The paper's CSV as a DataFrame (a fresh copy), with a ``paper`` column added in front.

    ``value`` and ``std`` are floats (``std`` is NaN where the paper prints no ± part);
    the other columns are strings, empty where not applicable.
    """
    _check_paper(paper)
    return _read(paper).copy()


@functools.lru_cache(maxsize=None)
def _read_text(paper: str) -> pd.DataFrame:
    text = resources.files(__name__).joinpath(f"{paper}.csv").read_text(encoding="utf-8")
    df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    df.insert(0, "paper", paper)
    return df


def printed(paper: str) -> pd.DataFrame:
    """The paper's CSV with every column as text, ``value`` and ``std`` as printed (trailing zeros
    kept): the printed precision, which the statistics audit (aux_core.audit) needs."""
    _check_paper(paper)
    return _read_text(paper).copy()


def tables(paper: str) -> list[str]:
    """The table labels of a paper, in file order (e.g. ``['Table 1', 'Table 2', ...]``)."""
    return list(dict.fromkeys(load(paper)["table"]))


def _datasets(df: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(df["dataset"]))


def _select(paper: str, name: str, dataset: str | None) -> pd.DataFrame:
    _check_paper(paper)
    df = _read(paper)  # the boolean filters below return new frames, so the cache is not exposed
    names = list(dict.fromkeys(df["table"]))
    if name not in names:
        raise ValueError(f"{paper} has no table {name!r}; its tables are: {', '.join(names)}")
    sub = df[df["table"] == name]
    if dataset is not None:
        have = _datasets(sub)
        if dataset not in have:
            shown = ", ".join(repr(d) for d in have)
            raise ValueError(f"{paper} {name} has no dataset {dataset!r}; its datasets are: {shown}")
        sub = sub[sub["dataset"] == dataset]
    return sub.reset_index(drop=True)


def table(paper: str, table: str, dataset: str | None = None) -> pd.DataFrame:
    """The rows of one table (optionally of one dataset), in file order.

    Unknown paper, table or dataset -> ValueError naming the allowed ones.
    """
    return _select(paper, table, dataset)


def value(paper: str, table: str, row: str, column: str, dataset: str | None = None) -> float:
    """The one number at (table, row, column[, dataset]).

    Raises KeyError when nothing matches (the message lists the table's rows and columns) and
    ValueError when several datasets match (pass ``dataset=``).
    """
    sub = _select(paper, table, dataset)
    hit = sub[(sub["row"] == row) & (sub["column"] == column)]
    if len(hit) == 0:
        rows = list(dict.fromkeys(sub["row"]))
        cols = list(dict.fromkeys(sub["column"]))
        where = f"{paper} {table}" + (f" ({dataset})" if dataset is not None else "")
        msg = f"no value for row={row!r}, column={column!r} in {where}; rows: {rows}; columns: {cols}"
        if row in rows and column in cols:
            msg += " (this row/column pair is not reported; see the README for omitted numbers)"
        raise KeyError(msg)
    if len(hit) > 1:
        raise ValueError(
            f"{len(hit)} values for row={row!r}, column={column!r} in {paper} {table}; "
            f"pass dataset= one of {_datasets(hit)}"
        )
    return float(hit["value"].iloc[0])


def _column_order(sub: pd.DataFrame, index: list[str]) -> list[str]:
    """Merge the per-row column sequences, so a column missing from the first row still lands
    where the paper prints it (e.g. 'plain' before 'asymmetric')."""
    seqs: dict[tuple, list[str]] = {}
    for key, c in zip(zip(*(sub[i] for i in index)), sub["column"]):
        seqs.setdefault(key, []).append(c)
    order: list[str] = []
    for seq in seqs.values():
        for i, c in enumerate(seq):
            if c in order:
                continue
            if i > 0:  # right after its predecessor in this row
                order.insert(order.index(seq[i - 1]) + 1, c)
            else:  # before the first later column already placed, else at the end
                later = [order.index(x) for x in seq[i + 1:] if x in order]
                order.insert(min(later) if later else len(order), c)
    return order


def wide(paper: str, table: str, dataset: str | None = None) -> pd.DataFrame:
    """The table pivoted back to its printed shape: index = row, columns = column, cells = value.

    Where a column has printed ± parts, a ``'<column>_std'`` column follows it. Rows and columns keep
    the paper's order; cells the paper leaves empty are NaN. If ``dataset`` is None and the table
    spans several datasets, the index is a (dataset, row) MultiIndex.
    """
    sub = _select(paper, table, dataset)
    index = ["row"] if sub["dataset"].nunique() <= 1 else ["dataset", "row"]
    keys = list(zip(*(sub[i] for i in index)))
    rows = list(dict.fromkeys(keys))
    pos = {k: n for n, k in enumerate(rows)}
    cols = _column_order(sub, index)
    nan = float("nan")
    data: dict[str, list[float]] = {}
    has_std = set(sub.loc[sub["std"].notna(), "column"])
    for c in cols:
        data[c] = [nan] * len(rows)
        if c in has_std:
            data[f"{c}_std"] = [nan] * len(rows)
    for k, c, v, sd in zip(keys, sub["column"], sub["value"], sub["std"]):
        data[c][pos[k]] = v
        if c in has_std:
            data[f"{c}_std"][pos[k]] = sd
    if len(index) == 1:
        idx = pd.Index([k[0] for k in rows], name="row")
    else:
        idx = pd.MultiIndex.from_tuples(rows, names=index)
    return pd.DataFrame(data, index=idx)
