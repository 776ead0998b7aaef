"""WAMAL (weight-aware meta auxiliary learning) and MAXL (the same without sample weights)
as methods of the training loop, with their baselines `human_aux` (human auxiliary labels)
and `single_task` (the same primary head and focal loss, no auxiliary head); `auxilearn`,
MAXL with an implicit hypergradient, is in `aux_core.methods.auxilearn`. The networks,
losses and the bi-level step are in `aux_core.methods.meta`.

One epoch (the notes' reading of the authors' code and the paper's Section 5.2):
  1. primary pass = the loop's own epoch: the model trains on
     focal(primary) + mean_i w_i focal_i(aux head, g_label), labels and weights detached;
  2. label pass = `after_epoch`: over the same training loader, the label-weight net takes
     one SGD step per batch on its meta-loss (`meta.meta_loss`); the primary net is not
     updated. It is skipped after the last epoch, where it could no longer matter.
The look-ahead rate α is the primary optimiser's current learning rate. Both passes use the
whole training set (the notes), unless `aux_set=True`: then the label pass runs on the run's
validation split (RunConfig.val_fraction; the paper's "auxiliary set" holds out 10%), which
the primary pass never sees: Algorithm 1's D_meta / D_prim split.

At the end of a run `extras` returns the label-pass history (look-ahead primary loss, label
entropy, weight mean/std, hypergradient norms: appendix A.12's quantity) and, for WAMAL, the
learnt weight of every training image (label net in eval mode, images in stored order, no
augmentation), which the weight analyses (Figures 3 and 11) read.

Where the heads live: the primary head is the model's own `head` slot, so evaluation reads
it as for every method. With `primary_head="two_layer"` (default, the paper's design)
`build_heads` swaps the model's linear classifier for a two-layer head before the optimiser
and initialisation see the model; `"linear"` keeps the registry's classifier. `build_heads`
returns the two-layer auxiliary head, which reads the model's final feature through a
forward pre-hook on `model.head` (the loop hands methods logits and taps, not the feature).
The label-weight net is a second copy of the backbone architecture (or `label_model`),
built in `setup` with its own SGD optimiser (lr 1e-3, weight decay 5e-4, no momentum) and
StepLR(50 epochs, 0.5). Both passes run it in training mode (batch statistics). The
label pass runs in fp32 (no autocast): it differentiates through a gradient.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch

from ..checks import is_int, is_number
from ..devices import synced_clock
from ..models import create_model, list_models
from .base import Method
from .meta import (HIDDEN, LabelWeightNet, PrimaryNet, TwoLayerHead, focal_loss, label_gradients, meta_loss,
                   primary_loss, training_terms, widen)

PRIMARY_HEADS = ("two_layer", "linear")
INITS = ("default", "he")  # initialisation schemes that fit heads on the final feature


@dataclass
class FeatureHeads(Method, ABC):
    """Shared by wamal, maxl and human_aux: the primary head in the model's `head` slot (the
    paper's two-layer head unless primary_head="linear") and one two-layer auxiliary head on
    the final feature, which a forward pre-hook on `model.head` hands to `loss_terms`."""
    vectorizable = False
    primary_head: str = "two_layer"  # two_layer (paper) | linear (the model's own classifier)
    gamma: float = 2.0               # focal-loss exponent (primary and auxiliary)

    def validate(self) -> None:
        if self.primary_head not in PRIMARY_HEADS:
            raise ValueError(f"primary_head={self.primary_head!r} is not one of: {', '.join(PRIMARY_HEADS)}")
        if not (is_number(self.gamma) and self.gamma >= 0):
            raise ValueError(f"gamma must be a number >= 0, got {self.gamma!r}")

    @abstractmethod
    def aux_classes(self, num_classes: int) -> int:
        """Width of the auxiliary head for a dataset with `num_classes` primary classes."""

    def setup(self, ctx) -> None:
        # the other schemes assume one head per tap (lsuv, gradinit) or zero the heads (lion_dg,
        # lion_lsuv), which leaves a two-layer head with zero gradients for good
        if ctx.config.init not in INITS:
            raise ValueError(f"{self.name} supports init {' or '.join(map(repr, INITS))}, got {ctx.config.init!r}")

    def build_heads(self, model, num_classes):
        self._features = None
        if self.primary_head == "two_layer":
            model.head = TwoLayerHead(model.num_features, num_classes, HIDDEN)
        n_aux = self.aux_classes(num_classes)
        if n_aux == 0:
            return torch.nn.ModuleDict()
        model.head.register_forward_pre_hook(self._grab_features)
        return torch.nn.ModuleDict({"aux": TwoLayerHead(model.num_features, n_aux, HIDDEN)})

    def _grab_features(self, module, args):
        self._features = args[0]

    def take_features(self, logits: torch.Tensor) -> torch.Tensor:
        """The final feature of this step's forward pass (released after reading)."""
        features, self._features = getattr(self, "_features", None), None
        if features is None or len(features) != len(logits):
            raise RuntimeError(f"{self.name} reads the final feature through a hook on model.head, which did not "
                               "run in this forward pass (is the model compiled or its head bypassed?)")
        return features


@dataclass
class SingleTask(FeatureHeads):
    """The single-task baseline of the MAXL/WAMAL tables: the same primary network (two-layer
    head) and focal loss, no auxiliary head."""
    name = "single_task"

    def aux_classes(self, num_classes: int) -> int:
        return 0

    def loss_terms(self, logits, taps, batch, ctx):
        return {"main": primary_loss(logits, batch.y, self.gamma)}


@dataclass
class WAMAL(FeatureHeads):
    name = "wamal"
    psi: int = 5                    # auxiliary classes per primary class (hierarchy factor)
    r: float | None = 5.0           # weights in [2^-r, 2^r] (paper: 5; released code: 15)
    entropy: float = 0.2            # weight of sum p̄ log p̄ in the label net's loss
    meta_lr: float = 1e-3           # label-weight net: SGD learning rate ...
    meta_wd: float = 5e-4           # ... weight decay ...
    meta_step_size: int = 50        # ... and StepLR (epochs, factor)
    meta_gamma: float = 0.5
    second_order: bool = True       # False: the finite-difference (first-order) hypergradient
    weight_norm: bool = False       # divide the weights by their batch mean (mean weight 1)
    label_model: str | None = None  # label-net backbone; None: the run's model (same options)
    aux_set: bool = False           # label pass on the held-out validation split (needs val_fraction > 0)
    record_weights: bool = True     # keep every training image's learnt weight in the result (WAMAL)

    def validate(self) -> None:
        super().validate()
        if isinstance(self.psi, bool) or not is_int(self.psi) or self.psi < 1:
            raise ValueError(f"psi must be an integer >= 1 (auxiliary classes per primary class), got {self.psi!r}")
        self._check_r()
        for key in ("entropy", "meta_wd"):
            v = getattr(self, key)
            if not (is_number(v) and v >= 0):
                raise ValueError(f"{key} must be a number >= 0, got {v!r}")
        for key in ("meta_lr", "meta_gamma"):
            v = getattr(self, key)
            if not (is_number(v) and v > 0):
                raise ValueError(f"{key} must be a number > 0, got {v!r}")
        if not (is_int(self.meta_step_size) and self.meta_step_size >= 1):
            raise ValueError(f"meta_step_size must be an integer >= 1 (epochs), got {self.meta_step_size!r}")
        for key in ("aux_set", "record_weights"):
            if not isinstance(getattr(self, key), bool):
                raise ValueError(f"{key} must be True or False, got {getattr(self, key)!r}")
        if self.label_model is not None and self.label_model not in list_models():
            raise ValueError(f"label_model={self.label_model!r} is not one of: None, {', '.join(list_models())}")

    def _check_r(self) -> None:
        if not (is_number(self.r) and self.r >= 0):
            raise ValueError(f"r must be a number >= 0 (weights in [2^-r, 2^r]), got {self.r!r}; "
                             "method 'maxl' has no weight head")

    # --- the primary pass -------------------------------------------------------------

    def aux_classes(self, num_classes: int) -> int:
        return self.psi * num_classes

    def setup(self, ctx) -> None:
        super().setup(ctx)
        cfg = ctx.config
        if self.aux_set and ctx.held_out is None:
            raise ValueError(f"{self.name} with aux_set=True runs its label pass on a held-out split: set "
                             "RunConfig.val_fraction > 0 (the paper's auxiliary set is 0.1)")
        name = self.label_model or cfg.model
        backbone = create_model(name, ctx.num_classes, **(cfg.model_options if name == cfg.model else {}))
        self.label_net = LabelWeightNet(backbone, ctx.num_classes, self.psi, self.r).to(ctx.device)
        self.label_net.to(memory_format=torch.channels_last)
        self.meta_optimizer = torch.optim.SGD(self.label_net.parameters(), lr=self.meta_lr, weight_decay=self.meta_wd)
        self.meta_scheduler = torch.optim.lr_scheduler.StepLR(self.meta_optimizer, self.meta_step_size, self.meta_gamma)
        self.primary_net = PrimaryNet(ctx.model, ctx.num_classes, self.psi, keep_head=True, aux_head=ctx.heads["aux"])
        for module in [*ctx.model.modules(), *self.label_net.modules()]:
            if hasattr(module, "fused"):  # the look-ahead differentiates twice: the fused attention kernel cannot
                module.fused = False
        self.history: list[dict] = []  # one row per label pass (kept on the method, not in RunResult)

    def loss_terms(self, logits, taps, batch, ctx):
        features = self.take_features(logits)
        with torch.no_grad():
            log_t, w = self.label_net(batch.x, batch.y)
        main, aux = training_terms(logits, ctx.heads["aux"](features), batch.y, log_t, w, self.gamma, self.weight_norm)
        return {"main": main, "aux": aux}

    # --- the label pass ---------------------------------------------------------------

    def after_epoch(self, ctx) -> None:
        done = ctx.step + 1  # ctx.step is the 0-based index of the step just taken
        if done >= ctx.total_steps:
            return
        alpha = ctx.lr   # the rate this epoch trained with (the optimizer's already holds the next step's)
        t0 = synced_clock(ctx.device)
        # primary loss at θ+, entropy, weight mean, weight std, |∇φ| (whole net), |∇φ| (weight head)
        sums = torch.zeros(6, device=ctx.device)
        n = 0
        self.label_net.train()
        weight_head = list(self.label_net.weight.parameters()) if self.label_net.weight is not None else []
        for batch in (ctx.held_out if self.aux_set else ctx.loader):
            out = meta_loss(self.primary_net, self.label_net, batch.x, batch.y, alpha, entropy=self.entropy,
                            gamma=self.gamma, second_order=self.second_order, weight_norm=self.weight_norm)
            self.meta_optimizer.zero_grad(set_to_none=True)
            label_gradients(out.objective, self.label_net)
            grad_norm = _norm(p.grad for p in self.label_net.parameters())
            head_norm = _norm(p.grad for p in weight_head) if weight_head else grad_norm.new_zeros(())
            self.meta_optimizer.step()
            w = out.weights if out.weights is not None else torch.ones(1, device=ctx.device)
            sums += torch.stack([out.primary, out.entropy, w.mean(), w.std() if len(w) > 1 else w.new_zeros(()),
                                 grad_norm, head_norm])
            n += 1
        self._features = None
        self.meta_scheduler.step()
        means = (sums / max(n, 1)).tolist()  # one host sync per label pass
        self.history.append({"epoch": done / ctx.steps_per_epoch, "seconds": synced_clock(ctx.device) - t0,
                             "lookahead_primary_loss": means[0],
                             "label_neg_entropy": means[1], "weight_mean": means[2], "weight_std": means[3],
                             "label_grad_norm": means[4], "weight_head_grad_norm": means[5], "lookahead_lr": alpha})

    def state_dict(self) -> dict:
        return {"label_net": self.label_net.state_dict(), "meta_optimizer": self.meta_optimizer.state_dict(),
                "meta_scheduler": self.meta_scheduler.state_dict(), "history": [dict(h) for h in self.history]}

    def load_state_dict(self, state: dict) -> None:
        self.label_net.load_state_dict(state["label_net"])
        self.meta_optimizer.load_state_dict(state["meta_optimizer"])
        self.meta_scheduler.load_state_dict(state["meta_scheduler"])
        self.history = [dict(h) for h in state["history"]]

    def extras(self, ctx) -> dict:
        out = {"label_passes": self.history}
        if self.label_net.weight is not None and self.record_weights:
            out["weights"] = self.training_weights(ctx)
        return out

    @torch.no_grad()
    def training_weights(self, ctx) -> dict:
        """Every training image's weight head output: the unscaled sigmoid u in (0, 1) and the
        weight 2^(r (2u - 1)), in the training split's stored order, with its labels."""
        net = self.label_net
        was_training = net.training
        net.eval()
        units = []
        for batch in ctx.loader.in_order(500):
            features, _ = net.backbone.forward_features(batch.x)
            units.append(torch.sigmoid(net.weight(features).squeeze(1).float()))
        net.train(was_training)
        u = torch.cat(units)
        return {"unit": u.tolist(), "weight": torch.exp2(self.r * (2 * u - 1)).tolist(),
                "y": ctx.loader.y.tolist()}


def _norm(tensors) -> torch.Tensor:
    return torch.sqrt(sum((t.double() ** 2).sum() for t in tensors if t is not None))


@dataclass
class MAXL(WAMAL):
    """WAMAL without the weight head: every auxiliary sample has weight `aux_weight` (1 in the
    paper), in the primary pass and in the label pass's look-ahead alike. A constant near WAMAL's
    learned weights (which approach 2^r) is the control that separates per-sample weighting
    from the larger auxiliary loss it brings."""
    name = "maxl"
    r: float | None = None
    aux_weight: float = 1.0

    def _check_r(self) -> None:
        if self.r is not None:
            raise ValueError(f"maxl has no weight head, so r must be None (got {self.r!r}); "
                             "use method 'wamal' for weights")
        if self.weight_norm:
            raise ValueError("weight_norm needs the weight head: use method 'wamal'")
        if not (is_number(self.aux_weight) and self.aux_weight > 0):
            raise ValueError(f"aux_weight must be a number > 0 (every auxiliary sample's weight), "
                             f"got {self.aux_weight!r}")

    def setup(self, ctx) -> None:
        super().setup(ctx)
        self.label_net.constant = float(self.aux_weight)


@dataclass
class HumanAux(FeatureHeads):
    """The human-designed auxiliary task of the MAXL/WAMAL comparisons: the auxiliary head
    learns the dataset's second label set (`batch.y_aux`, the 100 fine classes of
    cifar100-20) with the same focal loss, weight `alpha`. Needs a dataset that has one."""
    name = "human_aux"
    aux_labels: int = 100     # classes of the second label set (cifar100-20: 100 fine classes)
    alpha: float = 1.0        # weight of the auxiliary focal loss

    def validate(self) -> None:
        super().validate()
        if not (is_int(self.aux_labels) and self.aux_labels >= 2):
            raise ValueError(f"aux_labels must be an integer >= 2, got {self.aux_labels!r}")
        if not (is_number(self.alpha) and self.alpha >= 0):
            raise ValueError(f"alpha must be a number >= 0, got {self.alpha!r}")

    def aux_classes(self, num_classes: int) -> int:
        return self.aux_labels

    def setup(self, ctx) -> None:
        super().setup(ctx)
        y_aux = ctx.loader.y_aux
        if y_aux is None:
            raise ValueError(f"human_aux needs a dataset with a second label set (cifar100-20, cifar100); "
                             f"{ctx.config.dataset!r} has none")
        if int(y_aux.max()) >= self.aux_labels:
            raise ValueError(f"the second label set has {int(y_aux.max()) + 1} classes; "
                             "set aux_labels to at least that")

    def loss_terms(self, logits, taps, batch, ctx):
        aux_logits = ctx.heads["aux"](self.take_features(logits))
        log_p = widen(aux_logits).log_softmax(1)
        aux = focal_loss(log_p, torch.nn.functional.one_hot(batch.y_aux, self.aux_labels).to(log_p.dtype), self.gamma)
        return {"main": primary_loss(logits, batch.y, self.gamma), "aux": self.alpha * aux.mean()}
