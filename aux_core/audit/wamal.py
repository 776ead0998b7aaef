"""WAMAL audited by its own numbers: Tables 7, 9 and 11 (Welch Δ, 95% CI and p) recomputed from
Tables 6, 8 and 10 (mean ± sample SD, n = 3), Table 1 against those tables, the abstract, Figure 2's
quotes and Section 6.1.2 against Tables 1 and 6, GRIM/GRIMMER and the power of the Welch tests."""
from __future__ import annotations

import pandas as pd

from . import recompute as ck
from .reading import TEST_IMAGES, Paper, frame, power_frame

PAPER = "wamal"
# (summary table, its Welch table, dataset, Table 1's backbone row)
BENCHMARKS = (("Table 6", "Table 7", "CIFAR-100-20", "VGG16"), ("Table 8", "Table 9", "CIFAR-10", "ResNet50"),
              ("Table 10", "Table 11", "SVHN", "VGG16"))
COMPARISONS = ("Single Task vs MAXL", "Single Task vs WAMAL", "MAXL vs WAMAL")


def _arms(P: Paper, summary: str, comparison: str):
    a, b = comparison.split(" vs ")
    return P.cell(summary, a, "accuracy"), P.cell(summary, b, "accuracy")


def checks() -> pd.DataFrame:
    P, out = Paper(PAPER), []
    n = int(P.number("Section A.4", "Tables 6-11", "runs"))
    for summary, welch, dataset, backbone in BENCHMARKS:
        for comp in COMPARISONS:
            a, b = _arms(P, summary, comp)
            inputs = (a.value, a.std, b.value, b.std)
            delta = P.cell(welch, comp, "delta")
            face, lo, hi = ck.box(lambda m1, m2: m1 - m2, a.value, b.value)
            status, why = ck.verdict(face, lo, hi, delta.value)
            out.append(P.row(welch, comp, f"{comp} Δ ({dataset})", "difference", delta.value, ck.number(face), status,
                             f"{why} ({summary})", delta.source))
            for end, k in (("ci_low", 0), ("ci_high", 1)):
                c = P.cell(welch, comp, end)
                face, lo, hi = ck.box(lambda m1, s1, m2, s2, k=k: ck.welch(m1, s1, m2, s2, n, n)[2][k], *inputs)
                status, why = ck.verdict(face, lo, hi, c.value)
                out.append(P.row(welch, comp, f"{comp} 95% CI {end.split('_')[1]} ({dataset})", "Welch CI", c.value,
                                 ck.number(face), status, f"{why} (Welch interval from {summary}, n = {n})", c.source))
            p = P.cell(welch, comp, "p")
            face, lo, hi = ck.box(lambda m1, s1, m2, s2: ck.welch_p(m1, s1, m2, s2, n, n), *inputs)
            status, why = ck.verdict(face, lo, hi, p.value)
            out.append(P.row(welch, comp, f"{comp} p ({dataset})", "Welch p", p.value, ck.number(face, 3), status,
                             f"{why} (Welch test from {summary}, n = {n})", p.source))
        pairs = []
        for m in ("Single Task", "MAXL", "WAMAL"):
            t1, s = P.cell("Table 1", backbone, m, dataset), P.cell(summary, m, "accuracy")
            pairs += [(t1, s), (_std(t1), _std(s))]
        out.append(P.same("Table 1", backbone, f"Table 1 repeats {summary} ({dataset} {backbone})", pairs, summary))
    ps = [(w, comp, P.cell(w, comp, "p")) for _, w, _, _ in BENCHMARKS for comp in COMPARISONS]
    above = [(w, comp) for w, comp, c in ps if not c.value.hi < ck.ALPHA]
    source = P.cell("Section A.4", "Tables 6-11", "runs").source
    out.append(P.row("Section A.4", "all comparisons", "every improvement is statistically significant", "claim",
                     f"p < {ck.ALPHA:g}", f"{len(ps) - len(above)} of {len(ps)} printed p below {ck.ALPHA:g}",
                     "inconsistent" if above else "consistent",
                     (f"p >= {ck.ALPHA:g} in " + ", ".join(f"{w} {c}" for w, c in above)) if above else
                     f"every printed p of Tables 7, 9 and 11 is below the conventional {ck.ALPHA:g}", source))
    out += _text(P)
    for dataset in ("CIFAR-100-20", "CIFAR-10", "SVHN"):
        cells = [(f"{r}|{m}", P.cell("Table 1", r, m, dataset)) for r in P.rows("Table 1", dataset)
                 for m in ("Single Task", "MAXL", "WAMAL")]
        what = f"fractions over the {TEST_IMAGES[dataset]:,} {dataset} test images"
        out += P.grim("Table 1", cells, n, 1 / TEST_IMAGES[dataset], what, f"Table 1 ({dataset})")
        out += P.grimmer("Table 1", cells, n, 1 / TEST_IMAGES[dataset], what, f"Table 1 ({dataset})")
    return frame(out)


def _std(c):
    return type(c)(c.std, None, c.source, c.note)


def _gain(P: Paper, dataset: str, backbone: str, a: str, b: str):
    """(a - b in percentage points from Table 1, and its range over the rounding)."""
    return ck.box(lambda x, y: 100 * (x - y), P.cell("Table 1", backbone, a, dataset).value,
                  P.cell("Table 1", backbone, b, dataset).value)


def _text(P: Paper) -> list[dict]:
    rows = []
    t6 = {m: P.cell("Table 6", m, "accuracy") for m in ("Human", "MAXL", "WAMAL")}
    c = P.cell("Abstract", "WAMAL", "test_accuracy", "CIFAR-100-20")
    face, lo, hi = ck.box(lambda x: 100 * x, t6["WAMAL"].value)
    status, why = ck.verdict(face, lo, hi, c.value)
    rows.append(P.row("Abstract", "WAMAL", "abstract: WAMAL test accuracy (CIFAR-100-20)", "repeated", c.value,
                      ck.number(face), status, f"{why} (Table 6)", c.source))
    for other in ("Human", "MAXL"):
        c = P.cell("Abstract", f"WAMAL vs {other}", "gain", "CIFAR-100-20")
        face, lo, hi = ck.box(lambda x, y: 100 * (x - y), t6["WAMAL"].value, t6[other].value)
        status, why = ck.verdict(face, lo, hi, c.value)
        rows.append(P.row("Abstract", f"WAMAL vs {other}", f"abstract: +{c.value} pp over {other} (CIFAR-100-20)",
                          "difference", c.value, ck.number(face, 3), status, f"{why} (Table 6)", c.source))
    for table, dataset, item in (("Abstract", "Oxford-IIIT Pet", "abstract"), ("Section 6.1.2", "Oxford-IIIT Pet",
                                 "Section 6.1.2"), ("Section 6.1.2", "Food-101", "Section 6.1.2")):
        c = P.cell(table, "WAMAL vs Single Task", "gain", dataset)
        face, lo, hi = _gain(P, dataset, "ViT-B/16", "WAMAL", "Single Task")
        status, why = ck.verdict(face, lo, hi, c.value)
        rows.append(P.row(table, "WAMAL vs Single Task", f"{item}: +{c.value} over Single Task ({dataset})",
                          "difference", c.value, ck.number(face, 3), status, f"{why} (Table 1, ViT-B/16)", c.source))
    c = P.cell("Section 6.1.2", "WAMAL vs Single Task", "gain", "Food-101")
    face, lo, hi = _gain(P, "Food-101", "ViT-B/16", "WAMAL", "MAXL")
    status, why = ck.verdict(face, lo, hi, c.value)
    rows.append(P.row("Section 6.1.2", "WAMAL vs MAXL", f"Section 6.1.2: +{c.value} 'over both approaches' "
                      "(Food-101, against MAXL)", "difference", c.value, ck.number(face, 3), status,
                      f"{why} (Table 1, ViT-B/16)", c.source))
    pairs = [(P.cell("Figure 2", m, "test_accuracy", "CIFAR-100-20"), _percent(t6[m])) for m in t6]
    rows.append(P.same("Figure 2", "", "Figure 2's quoted accuracies are Table 6's", pairs, "Table 6 (in percent)"))
    return rows


def _percent(c):
    v = c.value
    return type(c)(ck.Printed(100 * v.value, 100 * v.unit, f"{100 * v.value:.2f}"), None, c.source, c.note)


def power() -> pd.DataFrame:
    P, out = Paper(PAPER), []
    n = int(P.number("Section A.4", "Tables 6-11", "runs"))
    for summary, welch, dataset, _ in BENCHMARKS:
        for comp in COMPARISONS:
            a, b = _arms(P, summary, comp)
            d = ck.cohens_d(a.value.value, a.std.value, b.value.value, b.std.value)
            sd = ((a.std.value ** 2 + b.std.value ** 2) / 2) ** 0.5
            p = P.cell(welch, comp, "p")
            stated = p.value if p.value.bound else f"= {p.value}"
            out.append(P.power(welch, comp, f"{comp} ({dataset}): p {stated}",
                               f"Welch, {n} runs an arm (Student df for the power)", n, n, ck.ALPHA, d, sd, p.source))
    return power_frame(out)
