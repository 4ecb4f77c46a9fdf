"""Biased matrix factorisation (Koren, Bell and Volinsky 2009), paper A's baseline "MF".

    r̂(u, i) = μ + b_u + b_i + p_u · q_i

μ is the training mean (a fixed buffer); b_u, b_i are learned biases and p_u, q_i learned
factors. Regularisation is Koren's L2 term written explicitly into the loss and applied
only to the rows used in the batch (``reg * (|p_u|² + |q_i|² + b_u² + b_i²)`` averaged over
the batch), so users and items are shrunk in proportion to how often they are seen; train it
with plain Adam (``TrainConfig.weight_decay=0``), not with decoupled weight decay on all rows.
"""

from __future__ import annotations

import torch
from torch import nn


class MF(nn.Module):
    """Global mean + user bias + item bias + dot product of user and item factors."""

    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int = 64,
        reg: float = 0.1,
        global_mean: float = 0.0,
        init_std: float = 0.1,
    ):
        super().__init__()
        if n_users < 1 or n_items < 1 or dim < 1:
            raise ValueError(f"need n_users, n_items, dim >= 1, got {n_users}, {n_items}, {dim}")
        if reg < 0:
            raise ValueError(f"reg must be >= 0, got {reg}")
        self.reg = reg
        self.user_factors = nn.Embedding(n_users, dim)
        self.item_factors = nn.Embedding(n_items, dim)
        self.user_bias = nn.Embedding(n_users, 1)
        self.item_bias = nn.Embedding(n_items, 1)
        self.register_buffer("global_mean", torch.tensor(float(global_mean)))
        nn.init.normal_(self.user_factors.weight, std=init_std)
        nn.init.normal_(self.item_factors.weight, std=init_std)
        nn.init.zeros_(self.user_bias.weight)
        nn.init.zeros_(self.item_bias.weight)

    @classmethod
    def from_inputs(cls, inputs, global_mean: float = 0.0, **hyperparameters) -> MF:
        """MF over the users and items of ``inputs`` (a :class:`RatingInputs`; no side
        information)."""
        return cls(inputs.index.n_users, inputs.index.n_items, global_mean=global_mean,
                   **hyperparameters)  # fmt: skip

    def interaction(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """(batch, dim) element-wise product p_u * q_i; its sum is the dot product."""
        return self.user_factors(users) * self.item_factors(items)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        biases = self.user_bias(users).squeeze(-1) + self.item_bias(items).squeeze(-1)
        return self.global_mean + biases + self.interaction(users, items).sum(-1)

    def penalty(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Koren's L2 term over the batch's rows, averaged over the batch."""
        squares = (
            self.user_factors(users).pow(2).sum(-1)
            + self.item_factors(items).pow(2).sum(-1)
            + self.user_bias(users).squeeze(-1).pow(2)
            + self.item_bias(items).squeeze(-1).pow(2)
        )
        return self.reg * squares.mean()

    def loss(self, users: torch.Tensor, items: torch.Tensor, ratings: torch.Tensor):
        """Training objective: MSE plus the L2 penalty."""
        mse = nn.functional.mse_loss(self(users, items), ratings)
        return mse + self.penalty(users, items)
