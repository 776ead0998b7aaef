"""The supplement's auxiliary-branch design tables (Supp. Tables 2-5) and ResNet-1202's size, built
from the models on the meta device: structure and parameter counts, no training."""
from __future__ import annotations

import pandas as pd
import torch

from ...methods.branches import branch_plan, build_branches, classifier_names
from ...models import create_model, num_params
from ...models.densenet import DenseNetDS
from ...models.mobilenet import MobileNet
from .cells import ABLATION, BACKBONES, DESIGN_TABLES

__all__ = ["design_rows", "design_table", "compare_design", "resnet1202_params", "resnet1202_table"]

def _meta_model(model_name: str, num_classes: int):
    """The backbone on the meta device: its structure and parameter counts, no weights."""
    with torch.device("meta"):
        return create_model(model_name, num_classes)


def _stage_rows(label: str, clf: str, first_stage: int, plan, dense: bool) -> list[dict]:
    width = "growth_rate" if dense else "channels"
    rows = []
    for k, (w, n) in enumerate(plan):
        row = f"{label}|{clf}|conv{first_stage + k + 1}_x"
        rows += [{"row": row, "column": width, "value": w}, {"row": row, "column": "blocks", "value": n}]
    return rows


def _mobilenet_rows(label: str, clf: str, first_stage: int, plan) -> list[dict]:
    """Table 5's layer columns: L7 (first 512, s2), L8 (the other 512s), L9a (first 1024, s2), L9b."""
    rows = []
    for k, (w, n) in enumerate(plan):
        a, b = ("L7", "L8") if first_stage + k == 1 else ("L9a", "L9b")
        rows += [{"row": f"{label}|{clf}|{a}", "column": "channels", "value": w},
                 {"row": f"{label}|{clf}|{a}", "column": "stride", "value": 2},
                 {"row": f"{label}|{clf}|{b}", "column": "channels", "value": w}]
        if b == "L8":
            rows.append({"row": f"{label}|{clf}|{b}", "column": "blocks", "value": n - 1})
    return rows


def design_rows(label: str, design: str = "dks", num_classes: int = 100, prefix: str | None = None) -> pd.DataFrame:
    """One backbone's classifiers as the supplement tabulates them, generated from our model
    and branch definitions (long format: row, column, value), with parameter counts."""
    if label not in BACKBONES:
        raise ValueError(f"unknown DKS backbone {label!r}; available: {', '.join(BACKBONES)}")
    model = _meta_model(BACKBONES[label], num_classes)
    dense, mobile = isinstance(model, DenseNetDS), isinstance(model, MobileNet)
    name = prefix or label
    rows = []
    if mobile:
        rows.append({"row": f"{name}|C1|L1", "column": "channels", "value": model.stem[0].out_channels})
        for j, layer in enumerate(model.stages[0]):
            rows.append({"row": f"{name}|C1|L{j + 2}", "column": "channels", "value": layer.pw.out_channels})
        rows += _mobilenet_rows(name, "C1", 1, [model.stage_plan[1], model.stage_plan[2]])
    else:
        stem = model.stem if dense else model.stem[0] if isinstance(model.stem, torch.nn.Sequential) else model.stem
        rows.append({"row": f"{name}|C1|conv1", "column": "channels", "value": stem.out_channels})
        rows += _stage_rows(name, "C1", 1, model.stage_plan, dense)
    rows.append({"row": f"{name}|C1", "column": "params", "value": num_params(model)})
    plan = branch_plan(model, design)
    names = classifier_names(model)
    with torch.device("meta"):
        branches = build_branches(model, design, num_classes)
    for i, tap in enumerate(model.tap_names):
        clf = names[tap]
        if design in ("dks", "narrow", "shallow"):
            rows += (_mobilenet_rows(name, clf, i + 1, plan[tap]) if mobile
                     else _stage_rows(name, clf, i + 2, plan[tap], dense))
        rows.append({"row": f"{name}|{clf}", "column": "params", "value": num_params(branches[tap])})
    return pd.DataFrame(rows)


def design_table(table: str, num_classes: int = 100) -> pd.DataFrame:
    """Our version of one of the supplement's design tables (Tables 2-6)."""
    if table == "Supp. Table 6":
        return pd.concat([design_rows("ResNet-32", d, num_classes, prefix=f"ResNet-32|{k}")
                          for k, d in ABLATION.items()], ignore_index=True)
    if table not in DESIGN_TABLES:
        raise ValueError(f"unknown design table {table!r}; available: {', '.join([*DESIGN_TABLES, 'Supp. Table 6'])}")
    return pd.concat([design_rows(b, "dks", num_classes) for b in DESIGN_TABLES[table]], ignore_index=True)


def compare_design(table: str, reference: pd.DataFrame, num_classes: int = 100) -> pd.DataFrame:
    """Ours beside the supplement's: every reference cell with our value, and our cells the
    supplement leaves out or cannot be read (reference NaN)."""
    ours = design_table(table, num_classes).rename(columns={"value": "ours"})
    ref = reference[["row", "column", "value"]].rename(columns={"value": "paper"})
    out = ours.merge(ref, on=["row", "column"], how="outer")
    out["match"] = out["paper"].isna() | (out["ours"] == out["paper"])
    return out


def resnet1202_params(num_classes: int = 100) -> int:
    return num_params(_meta_model("resnet1202", num_classes))


def resnet1202_table(num_classes: int = 100) -> pd.DataFrame:
    """Supplement Table 1 from our `resnet1202` and its `wide_shallow` branches: one row per
    convolution (classifier, layer, filters, kernel, stride, tap, tap shape)."""
    from ...models import tap_shapes
    model = _meta_model("resnet1202", num_classes)
    shapes = tap_shapes(model)
    with torch.device("meta"):
        heads = build_branches(model, "wide_shallow", num_classes)
    rows = []
    for tap, clf in classifier_names(model).items():
        convs = [m for m in heads[tap].modules() if isinstance(m, torch.nn.Conv2d)]
        for k, c in enumerate(convs):
            rows.append({"classifier": clf, "layer": f"conv{k + 1}", "filters": c.out_channels,
                         "kernel": f"{c.kernel_size[0]}x{c.kernel_size[1]}", "stride": c.stride[0],
                         "tap": tap, "tap shape": "x".join(map(str, shapes[tap])),
                         "branch params": num_params(heads[tap])})
    return pd.DataFrame(rows)
