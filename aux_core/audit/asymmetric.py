"""The asymmetric-training paper audited by its own numbers: each improvement from its two
accuracies, each paired-t p against the range its summaries allow, Appendix E's "all main results
p < 0.001 with large effect sizes" against Table 1, the plain model printed differently across N,
Table 10 against Table 17, the abstract against Table 2, GRIM/GRIMMER and the power of its tests."""
from __future__ import annotations

import pandas as pd

from .. import stats
from . import recompute as ck
from .reading import TEST_IMAGES, Paper, frame, power_frame

PAPER = "asymmetric"
# the tables printing plain and asymmetric mean ± std with an improvement and a paired p
RESULT_TABLES = ("Table 1", "Table 7", "Table 8", "Table 9", "Table 10", "Table 11", "Table 12", "Table 16",
                 "Table 17")
ARCHS = ("MLP", "CNN", "ViT-6L")


def _pair(P: Paper, table: str, row: str):
    return P.cell(table, row, "plain"), P.cell(table, row, "asymmetric")


def checks() -> pd.DataFrame:
    P, out = Paper(PAPER), []
    n = int(P.number("Section 4.1", "all results", "runs"))
    for table in RESULT_TABLES:
        for row in P.rows(table):
            plain, asym = _pair(P, table, row)
            imp, p = P.cell(table, row, "improvement_pct"), P.cell(table, row, "p_value")
            if plain is None or asym is None:
                for c, what in ((imp, "improvement"), (p, "paired p")):
                    if c is not None:
                        out.append(P.row(table, row, f"{row} {what}", what, c.value, "", "not checkable",
                                         "the plain accuracy is not printed legibly", c.source))
                continue
            if imp is not None:
                face, lo, hi = ck.box(lambda a, b: stats.relative_improvement([a], [b]), asym.value, plain.value)
                status, why = ck.verdict(face, lo, hi, imp.value)
                out.append(P.row(table, row, f"{row} improvement", "relative improvement", imp.value,
                                 ck.number(face, 3), status, why, imp.source))
            if p is not None and plain.std is not None and asym.std is not None:
                p_lo, p_hi = ck.paired_p_range(asym.value, asym.std, plain.value, plain.std, n)
                ok = ck.reachable(p_lo, p_hi, p.value)
                out.append(P.row(table, row, f"{row} paired p", "paired p", p.value,
                                 f"[{ck.number(p_lo, 3)}, {ck.number(p_hi, 3)}]",
                                 "consistent" if ok else "inconsistent",
                                 f"a paired t-test at n = {n} with any correlation between the runs and the inputs' "
                                 f"rounding gives p in [{ck.number(p_lo, 3)}, {ck.number(p_hi, 3)}], which "
                                 f"{'holds' if ok else 'excludes'} the printed {p.value}", p.source))
    out += _appendix_e(P)
    out += _plain_across_n(P)
    for arch in ARCHS:   # Table 17 reprints Table 10 (CIFAR-10, N = 1)
        pairs = [(P.cell("Table 17", arch, col), P.cell("Table 10", f"N=1|{arch}", col))
                 for col in ("plain", "asymmetric", "improvement_pct", "p_value")]
        pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
        pairs += [(ck_std(a), ck_std(b)) for a, b in pairs[:2] if a.std and b.std]
        out.append(P.same("Table 17", arch, f"Table 17 repeats Table 10 ({arch})", pairs, "Table 10"))
    out.append(P.same("Table 1", "", "Table 1's alphas are Table 13's",
                      [(P.cell("Table 1", r, "alpha"), P.cell("Table 13", r, "alpha")) for r in P.rows("Table 1")],
                      "Table 13"))
    for arch in ("ViT-6L", "CNN"):
        out.append(P.same("Abstract", arch, f"abstract: {arch} cosine similarity",
                          [(P.cell("Abstract", arch, "avg_sim"), P.cell("Table 2", arch, "avg_sim"))],
                          "Table 2's average similarity"))
    out.append(P.same("Abstract", "N=20|ViT-6L", "abstract: up to 25% gains (ViT-6L, 20 branches)",
                      [(P.cell("Abstract", "N=20|ViT-6L", "improvement_pct"),
                        P.cell("Table 1", "N=20|ViT-6L", "improvement_pct"))], "Table 1"))
    for table in RESULT_TABLES:
        cells = [(f"{r}|{arm}", c) for r in P.rows(table) for arm, c in zip(("plain", "asymmetric"), _pair(P, table, r))
                 if c is not None]
        what = "fractions over 10,000 test images"
        out += P.grim(table, cells, n, 1 / TEST_IMAGES["CIFAR-10"], what)
        out += P.grimmer(table, cells, n, 1 / TEST_IMAGES["CIFAR-10"], what)
    return frame(out)


def ck_std(c):
    """The SD of a cell as a cell of its own (to compare two printed SDs)."""
    return type(c)(c.std, None, c.source, c.note)


def _appendix_e(P: Paper) -> list[dict]:
    bound, large = (P.cell("Appendix E", "main results", c) for c in ("p_bound", "cohens_d_bound"))
    ps = [(r, P.cell("Table 1", r, "p_value")) for r in P.rows("Table 1")]
    above = [(r, c) for r, c in ps if not c.value.lo < bound.value.value]
    rows = [P.row("Appendix E", "main results", f"all main results have p < {bound.value.text}", "claim", bound.value,
                  f"{len(above)} of {len(ps)} Table 1 p-values are not",
                  "inconsistent" if above else "consistent",
                  ("Table 1 prints " + ", ".join(f"p = {c.value} ({r})" for r, c in above)) if above else
                  f"every Table 1 p-value is below {bound.value.text}", bound.source)]
    ds = []
    for r in P.rows("Table 1"):
        plain, asym = _pair(P, "Table 1", r)
        face, lo, hi = ck.box(lambda a, sa, b, sb: abs(ck.cohens_d(a, sa, b, sb)), asym.value, asym.std, plain.value,
                              plain.std)
        ds.append((r, face, hi))
    small = [(r, f, h) for r, f, h in ds if h < large.value.value]
    rows.append(P.row("Appendix E", "main results",
                      f"all main results have large effect sizes (d >= {large.value.text})",
                      "claim", large.value, f"{len(small)} of {len(ds)} Table 1 rows are not",
                      "inconsistent" if small else "consistent",
                      ("Cohen's d from Table 1's means and SDs: " + ", ".join(f"{f:.2f} ({r})" for r, f, _ in small) +
                       " (below the bound even at the rounding's most favourable corner)") if small else
                      "every Table 1 row has a large d from its means and SDs", large.source))
    return rows


def _plain_across_n(P: Paper) -> list[dict]:
    """The plain model does not depend on N: where Table 13 gives it the same learning rate and
    weight decay, the same seeds should print the same accuracy at every N."""
    rows = []
    for arch in ARCHS:
        keys = [r for r in P.rows("Table 1") if r.endswith(f"|{arch}")]
        groups: dict[tuple, list[str]] = {}
        for r in keys:
            groups.setdefault((P.number("Table 13", r, "learning_rate"), P.number("Table 13", r, "weight_decay")),
                              []).append(r)
        for (lr, wd), members in groups.items():
            if len(members) < 2:
                continue
            cells = [P.cell("Table 1", r, "plain") for r in members]
            lo, hi = max(c.value.lo for c in cells), min(c.value.hi for c in cells)
            shown = ", ".join(f"{c.value} ({r.split('|')[0]})" for c, r in zip(cells, members))
            other = [r.split("|")[0] for r in keys if r not in members]
            note = f"; {', '.join(other)} has other hyperparameters in Table 13" if other else ""
            ok = lo <= hi + ck.TOL
            rows.append(P.row("Table 1", f"plain|{arch}", f"plain {arch} across N", "repeated", shown, "",
                              "consistent" if ok else "inconsistent",
                              (f"the plain model does not depend on N and Table 13 gives it lr {lr:g} and wd {wd:g} "
                               f"at each of these N; the printed means {'agree' if ok else 'differ beyond rounding'}"
                               f"{note}"), cells[0].source))
    return rows


def power() -> pd.DataFrame:
    """Each significance claim (p below the paper's alpha) of the result tables against the
    minimal detectable effect of a paired t-test at n runs. The paired effect d_z needs the
    correlation between paired runs, which is not printed: d from the two SDs equals d_z at r = 0.5."""
    P, out = Paper(PAPER), []
    n = int(P.number("Section 4.1", "all results", "runs"))
    alpha = P.number("Section 4.1", "all results", "alpha")
    for table in RESULT_TABLES:
        for row in P.rows(table):
            plain, asym = _pair(P, table, row)
            p = P.cell(table, row, "p_value")
            if None in (plain, asym, p) or plain.std is None or asym.std is None or not p.value.value < alpha:
                continue
            d = ck.cohens_d(asym.value.value, asym.std.value, plain.value.value, plain.std.value)
            sd = ((asym.std.value ** 2 + plain.std.value ** 2) / 2) ** 0.5
            stated = p.value if p.value.bound else f"= {p.value}"
            out.append(P.power(table, row, f"{row}: p {stated}", f"paired t, {n} runs (d at r = 0.5)", n, None,
                               alpha, d, sd, p.source))
    return power_frame(out)
