"""Paper A's simple neural network "NN": a user embedding beside the item's tabular vector.

    r̂(u, i) = μ + MLP([e_u, x_i])

e_u is a learned user embedding, x_i the item's fixed tabular features (genres, or the
genome-like vector of the paper), and the MLP two ReLU layers and a linear regression head.
There is no item embedding: items are known only through their features.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from mmrec_lib.models.rating.data import feature_buffer


def mlp(n_in: int, hidden: list[int], n_out: int, dropout: float = 0.0) -> nn.Sequential:
    """Linear-ReLU(-Dropout) layers of the given widths, then a linear output layer."""
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(n_in, width), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        n_in = width
    layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)


class NN(nn.Module):
    """User embedding + item tabular features through two ReLU layers and a linear head."""

    def __init__(
        self,
        n_users: int,
        n_items: int,
        item_features: np.ndarray | torch.Tensor,
        dim: int = 32,
        hidden: int = 64,
        dropout: float = 0.1,
        global_mean: float = 0.0,
    ):
        super().__init__()
        if n_users < 1 or dim < 1 or hidden < 1:
            raise ValueError(f"need n_users, dim, hidden >= 1, got {n_users}, {dim}, {hidden}")
        self.register_buffer(
            "item_features", feature_buffer(item_features, "item_features", n_items)
        )
        self.user_embedding = nn.Embedding(n_users, dim)
        self.regressor = mlp(dim + self.item_features.shape[1], [hidden, hidden], 1, dropout)
        self.register_buffer("global_mean", torch.tensor(float(global_mean)))
        nn.init.normal_(self.user_embedding.weight, std=0.1)

    @classmethod
    def from_inputs(cls, inputs, global_mean: float = 0.0, **hyperparameters) -> NN:
        """NN over ``inputs`` (a :class:`RatingInputs`), reading its tabular item features."""
        return cls(inputs.index.n_users, inputs.index.n_items, inputs.tabular,
                   global_mean=global_mean, **hyperparameters)  # fmt: skip

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        inputs = torch.cat([self.user_embedding(users), self.item_features[items]], dim=-1)
        return self.global_mean + self.regressor(inputs).squeeze(-1)

    def loss(self, users: torch.Tensor, items: torch.Tensor, ratings: torch.Tensor):
        """Training objective: MSE."""
        return nn.functional.mse_loss(self(users, items), ratings)
