"""Proposition 1 of the DKS supplement, measured: do classifiers that share a feature map
pull it the same way?

At every tap z, each classifier that reads z (the final C1, the branch on z, and the
branches on later taps) has a cross-entropy gradient dL/dz per image. The probe reports,
for every pair of them, the mean over the probe images of their cosine similarity and of
their normalised squared difference ||g_a - g_b||^2 / (||g_a||^2 + ||g_b||^2) (0: the same
gradient; 1: orthogonal, or one of them zero; 2: opposite). The supplement proves that the
synergy term penalises this inconsistency; under DKS the cosine should be higher and the
difference lower than under DS.

Computed in evaluation mode (batch norm on running statistics) and in fp32.
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

METHODS = ("ds", "dks")  # the probe needs classifiers on the taps


def check(model) -> None:
    if not model.tap_names or model.taps_are_logits:
        raise ValueError(f"the branch_gradients probe needs a model with feature taps; {type(model).__name__} has none")


def probe(model, batch, heads) -> dict:
    from ..methods.branches import classifier_names
    names = classifier_names(model)
    was = model.training, heads.training
    model.eval(), heads.eval()
    out = {}
    try:
        with torch.enable_grad(), torch.autocast(batch.x.device.type, enabled=False):
            logits, taps = model(batch.x.float())
            order = [t for t in model.tap_names if t in heads]
            outs = {"C1": logits.float(), **{names[t]: heads[t](taps[t]).float() for t in order}}
            losses = {k: F.cross_entropy(o, batch.y, reduction="sum") for k, o in outs.items()}
            for i, t in enumerate(order):
                readers = ["C1", names[t], *(names[u] for u in order[i + 1:])]
                grads = {k: torch.autograd.grad(losses[k], taps[t], retain_graph=True)[0].flatten(1) for k in readers}
                for a_i, a in enumerate(readers):
                    for b in readers[a_i + 1:]:
                        ga, gb = grads[a], grads[b]
                        cos = F.cosine_similarity(ga, gb, dim=1, eps=1e-12).mean()
                        diff = ((ga - gb).pow(2).sum(1) / (ga.pow(2).sum(1) + gb.pow(2).sum(1)).clamp_min(1e-30)).mean()
                        out[f"bgrad_cos:{t}:{a}-{b}"] = float(cos)
                        out[f"bgrad_diff:{t}:{a}-{b}"] = float(diff)
    finally:
        model.train(was[0]), heads.train(was[1])
    return out
