"""Conflict-resolving aggregation of the main and auxiliary gradients on the shared weights: the
intervention that tests the gradient-conflict explanation (auxiliary gradients that point against
the main one hurt). A method with an `aggregator` option other than "sum" hands its backward pass
here: the Jacobian of (main loss, summed auxiliary losses) on the backbone's shared parameters is
reduced by a TorchJD aggregator (PCGrad: each gradient projected off the other where they
conflict; UPGrad: both projected onto the dual cone of the pair; MGDA: the minimum-norm convex
combination), and every other parameter (heads, the final classifier) gets its ordinary gradient.
"""
from __future__ import annotations

import torch

AGGREGATORS = ("sum", "pcgrad", "upgrad", "mgda")


def check_aggregator(name: str) -> None:
    if name not in AGGREGATORS:
        raise ValueError(f"aggregator must be one of {', '.join(AGGREGATORS)}, got {name!r}")


def make_aggregator(name: str):
    """The TorchJD aggregator of that name (imported here: only aggregated runs need TorchJD)."""
    check_aggregator(name)
    if name == "sum":
        raise ValueError("'sum' is the ordinary backward pass, not an aggregator")
    from torchjd.aggregation import MGDA, PCGrad, UPGrad
    return {"pcgrad": PCGrad, "upgrad": UPGrad, "mgda": MGDA}[name]()


def aggregated_backward(terms: dict[str, torch.Tensor], shared: list[torch.Tensor], others: list[torch.Tensor],
                        aggregator) -> None:
    """Accumulate into `.grad`: on `shared`, the aggregation of the gradients of terms["main"] and
    of the sum of the other terms; on `others`, the ordinary gradient of the total loss."""
    from torchjd.autojac import backward, jac_to_grad
    aux = [t for k, t in terms.items() if k != "main"]
    if not aux:
        raise ValueError("an aggregated backward needs auxiliary loss terms besides 'main'")
    main, aux = terms["main"], torch.stack(aux).sum()
    backward([main, aux], inputs=shared, retain_graph=True)
    jac_to_grad(shared, aggregator)
    others = [p for p in others if p.requires_grad]
    if others:
        torch.autograd.backward(main + aux, inputs=others)
