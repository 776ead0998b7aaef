"""The chapters' findings as sentences generated from their results, never fixed text: each
function takes the tables a chapter's page computed and returns its paragraphs, so that other
numbers give other sentences (a test swaps the results and reads the text)."""
from __future__ import annotations

import pandas as pd


def lion_dg(table1: pd.DataFrame, residual: pd.DataFrame, ledger: pd.DataFrame, flow: pd.DataFrame, scale: str,
            threshold: float) -> list[str]:
    """LION-DG's overview: `compare()` of Table 1's and of the baselines' runs, the claims
    ledger, the step-0 gradient table (Proposition 1), the scale in words and the paper's
    threshold."""
    c10 = table1[table1["dataset"] == "CIFAR-10"].set_index(["arch", "init"])
    res = residual.set_index("init")
    counts = ", ".join(f"{n} {k}" for k, n in ledger["verdict"].value_counts().items())
    n_rep = int((ledger["verdict"] == "reproduced").sum())
    lion, he = c10.loc[("DenseNet-DS", "LION-DG")], c10.loc[("DenseNet-DS", "He-init")]
    best = c10.loc["DenseNet-DS"]["val_acc"].idxmax()
    thr = 100 * lion["threshold"]
    lines = [
        f"At this book's scale ({scale}), {n_rep} of the {len(ledger)} headline claims were reproduced ({counts}).",
        f"On CIFAR-10 DenseNet-DS, LION-DG reached {thr:.0f}% smoothed training accuracy in {lion['steps']:.0f} steps "
        f"against He's {he['steps']:.0f} (speed-up {lion['speedup_pct']:+.1f}%, 95% interval "
        f"[{lion['speedup_lo']:+.1f}, {lion['speedup_hi']:+.1f}]%), with final accuracy {lion['val_acc']:.2f}% against "
        f"{he['val_acc']:.2f}%.",
        f"The most accurate initialisation on DenseNet-DS was {best} ({c10.loc[('DenseNet-DS', best), 'val_acc']:.2f}%).",
    ]
    if "He + warm-up" in res.index and "LION-DG" in res.index:
        lines.append(f"The explicit warm-up of the auxiliary weight gave a speed-up of "
                     f"{res.loc['He + warm-up', 'speedup_pct']:+.1f}% against LION-DG's "
                     f"{res.loc['LION-DG', 'speedup_pct']:+.1f}% over the same He runs (see the Table 7 section).")
    zero, nonzero = flow[flow["backbone_from_aux"] == 0], flow[flow["backbone_from_aux"] != 0]
    largest = f" (largest norm {nonzero['backbone_from_aux'].max():.3g})" if len(nonzero) else ""
    lines.append("At step 0 the auxiliary gradient on the backbone is exactly 0 under "
                 + (", ".join(sorted(set(zero["init"]))) or "no scheme") + " and non-zero under "
                 + (", ".join(sorted(set(nonzero["init"]))) or "no scheme") + largest
                 + "; Proposition 1 predicts 0 wherever the heads start at zero (see the theory section).")
    if thr < 100 * threshold:
        lines.append(f"These short runs do not reach the paper's {100 * threshold:.0f}% training accuracy: the ledger "
                     f"judges the speed-up at {100 * threshold:.0f}% with the runs that never reach it censored, and "
                     f"shows the comparison at {thr:.0f}%, the highest level every run reaches, as a separate row.")
    return lines
