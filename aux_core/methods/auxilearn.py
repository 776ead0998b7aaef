"""AuxiLearn (Navon et al. 2021), the WAMAL paper's further baseline (Tables 3-4), as MAXL
with another hypergradient (`meta.implicit_meta_loss`: implicit differentiation with a
truncated Neumann series) taken every few primary steps instead of once per epoch."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..checks import is_int, is_number
from ..devices import synced_clock
from .meta import implicit_meta_loss, label_gradients
from .wamal import MAXL


@dataclass
class AuxiLearn(MAXL):
    """AuxiLearn (Navon et al. 2021), the WAMAL paper's further baseline (Tables 3-4): MAXL's
    label network and training loss, but the label net's hypergradient comes from implicit
    differentiation with a truncated Neumann series (`meta.implicit_meta_loss`) instead of a
    one-step look-ahead, and it is taken every `update_every` primary steps, on a batch of the
    held-out auxiliary set (AuxiLearn's practice; `aux_set=False`: on the training batch
    itself), with the label net's gradient norm clipped. The paper runs the authors' optimiser;
    its update interval and clipping norm are not given, so ours are stated choices. The label
    net's optimiser and schedule are MAXL's, so that the hypergradient is the one difference."""
    name = "auxilearn"
    aux_set: bool = True            # the outer loss on the 10% auxiliary set (needs val_fraction > 0)
    update_every: int = 5           # primary steps between label-net steps ("every few steps")
    neumann_terms: int = 3          # Neumann series terms (AuxiLearn: 3)
    neumann_step: float = 1e-3      # Neumann series step η (AuxiLearn: 1e-3 or 1e-4)
    clip_norm: float = 10.0         # the label net's gradient norm is clipped to this

    def validate(self) -> None:
        super().validate()
        if self.second_order is not True:
            raise ValueError("auxilearn's hypergradient is implicit (Neumann series): second_order does not apply; "
                             "use method 'maxl' or 'wamal' for the finite-difference look-ahead")
        if not (is_int(self.update_every) and self.update_every >= 1):
            raise ValueError(f"update_every must be an integer >= 1 (primary steps), got {self.update_every!r}")
        if isinstance(self.neumann_terms, bool) or not is_int(self.neumann_terms) or self.neumann_terms < 0:
            raise ValueError(f"neumann_terms must be an integer >= 0, got {self.neumann_terms!r}")
        for key in ("neumann_step", "clip_norm"):
            v = getattr(self, key)
            if not (is_number(v) and v > 0):
                raise ValueError(f"{key} must be a number > 0, got {v!r}")

    def setup(self, ctx) -> None:
        super().setup(ctx)
        self._train_batch = None
        self._val_iter, self._cycle_rng, self._consumed, self._resume = None, None, 0, None
        self._reset_epoch(ctx.device)

    def _reset_epoch(self, device) -> None:
        # outer primary loss, entropy, |∇φ| before clipping, clipped updates, updates, seconds
        self._sums = torch.zeros(5, device=device)
        self._seconds = 0.0

    def loss_terms(self, logits, taps, batch, ctx):
        self._train_batch = (batch.x, batch.y)
        return super().loss_terms(logits, taps, batch, ctx)

    def _next_val(self, ctx):
        """The next batch of the auxiliary set, cycling through it in its own shuffled order.
        The position (the generator's state at the cycle's start and batches drawn since) is
        part of the method's state, so a resumed run draws the same batches."""
        loader = ctx.held_out
        if self._resume is not None:
            rng, consumed = self._resume
            self._resume = None
            loader.gen.set_state(rng.cpu())
            self._cycle_rng, self._val_iter = loader.gen.get_state(), iter(loader)
            for _ in range(consumed):
                next(self._val_iter)
            self._consumed = consumed
        while True:
            if self._val_iter is not None:
                batch = next(self._val_iter, None)
                if batch is not None:
                    self._consumed += 1
                    return batch.x, batch.y
            self._cycle_rng, self._val_iter, self._consumed = loader.gen.get_state(), iter(loader), 0

    def after_step(self, ctx) -> None:
        done = ctx.step + 1
        if done % self.update_every or done >= ctx.total_steps:
            return
        t0 = synced_clock(ctx.device)
        self.label_net.train()
        val = self._next_val(ctx) if self.aux_set else self._train_batch
        out = implicit_meta_loss(self.primary_net, self.label_net, self._train_batch, val, terms=self.neumann_terms,
                                 step=self.neumann_step, entropy=self.entropy, gamma=self.gamma)
        self.meta_optimizer.zero_grad(set_to_none=True)
        label_gradients(out.objective, self.label_net)
        norm = torch.nn.utils.clip_grad_norm_(list(self.label_net.parameters()), self.clip_norm)
        self.meta_optimizer.step()
        self._features = None
        self._sums += torch.stack([out.primary.float(), out.entropy.float(), norm.float(),
                                   (norm > self.clip_norm).float(), norm.new_ones(()).float()])
        self._seconds += synced_clock(ctx.device) - t0  # one sync per label-net step, not per primary step

    def after_epoch(self, ctx) -> None:
        self.meta_scheduler.step()
        self._log_epoch(ctx)

    def _log_epoch(self, ctx) -> None:
        """One history row for the label-net steps since the last row (a host sync per epoch)."""
        s = self._sums.tolist()
        if s[4]:
            n = s[4]
            self.history.append({"epoch": (ctx.step + 1) / ctx.steps_per_epoch, "seconds": self._seconds,
                                 "updates": int(n), "outer_primary_loss": s[0] / n, "label_neg_entropy": s[1] / n,
                                 "label_grad_norm": s[2] / n, "clipped_updates": int(s[3]), "weight_mean": 1.0,
                                 "weight_std": 0.0})
        self._reset_epoch(ctx.device)

    def extras(self, ctx) -> dict:
        self._log_epoch(ctx)  # the label-net steps of a last, partial epoch
        return super().extras(ctx)

    def state_dict(self) -> dict:
        rng = self._cycle_rng if self._resume is None else self._resume[0]
        consumed = self._consumed if self._resume is None else self._resume[1]
        return {**super().state_dict(), "sums": self._sums.clone(), "seconds": self._seconds,
                "cycle_rng": rng if rng is not None else torch.zeros(0, dtype=torch.uint8), "consumed": consumed}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self._sums, self._seconds = state["sums"].to(self._sums.device), state["seconds"]
        if len(state["cycle_rng"]):
            self._resume = (state["cycle_rng"], state["consumed"])
