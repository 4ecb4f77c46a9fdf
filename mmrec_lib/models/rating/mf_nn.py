"""Paper A's "MF_NN": matrix factorisation beside an item tower over cast and description.

Two towers (paper A, section 9c, after NCF):

1. the MF tower, :class:`~mmrec_lib.models.rating.mf.MF` (μ + b_u + b_i + p_u·q_i);
2. an item tower: the cast multi-hot and the description embedding each become one token,
   the two tokens (plus a learned token-type vector) pass through a small multi-head
   attention encoder block (paper A's "custom Multi Head Attention Layers" used instead of
   fine-tuning BERT), and their mean is the item vector h_i. A sigmoid head on h_i predicts
   the item's genres (the paper's "analogy to movie genres").

    r̂(u, i) = MF(u, i) + MLP([p_u * q_i, h_i, σ(W h_i)])

Training loss: MSE + MF's L2 penalty + ``genre_weight`` × BCE(σ(W h_i), genres_i), the
auxiliary genre loss averaged over the batch's items. The description embeddings are fixed
inputs (a frozen pretrained encoder, cached); they are not fine-tuned.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from mmrec_lib.models.rating.data import feature_buffer
from mmrec_lib.models.rating.mf import MF
from mmrec_lib.models.rating.nn import mlp


class MFNN(nn.Module):
    """MF tower + attention item tower over [cast, description] tokens + genre head."""

    def __init__(
        self,
        n_users: int,
        n_items: int,
        cast: np.ndarray | torch.Tensor,
        description: np.ndarray | torch.Tensor,
        genres: np.ndarray | torch.Tensor,
        dim: int = 32,
        heads: int = 2,
        hidden: int = 64,
        reg: float = 0.3,
        genre_weight: float = 0.1,
        dropout: float = 0.1,
        global_mean: float = 0.0,
    ):
        super().__init__()
        if heads < 1 or dim % heads:
            raise ValueError(f"dim ({dim}) must be a positive multiple of heads ({heads})")
        if genre_weight < 0:
            raise ValueError(f"genre_weight must be >= 0, got {genre_weight}")
        self.genre_weight = genre_weight
        self.mf = MF(n_users, n_items, dim=dim, reg=reg, global_mean=global_mean)
        self.register_buffer("cast", feature_buffer(cast, "cast", n_items))
        self.register_buffer("description", feature_buffer(description, "description", n_items))
        self.register_buffer("genres", feature_buffer(genres, "genres", n_items))
        self.cast_token = nn.Linear(self.cast.shape[1], dim)
        self.description_token = nn.Linear(self.description.shape[1], dim)
        self.token_type = nn.Parameter(0.02 * torch.randn(2, dim))
        self.attention = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.attention_norm = nn.LayerNorm(dim)
        self.feedforward = mlp(dim, [2 * dim], dim, dropout)
        self.feedforward_norm = nn.LayerNorm(dim)
        self.genre_head = nn.Linear(dim, self.genres.shape[1])
        self.regressor = mlp(2 * dim + self.genres.shape[1], [hidden], 1, dropout)

    @classmethod
    def from_inputs(cls, inputs, global_mean: float = 0.0, **hyperparameters) -> MFNN:
        """MF_NN over ``inputs`` (a :class:`RatingInputs`): cast, description and genres."""
        return cls(inputs.index.n_users, inputs.index.n_items, inputs.cast, inputs.description,
                   inputs.genres, global_mean=global_mean, **hyperparameters)  # fmt: skip

    def item_tower(self, items: torch.Tensor, need_weights: bool = False):
        """(item vector h_i, genre logits, attention weights or None) of a batch of items.

        Attention weights, when asked for, are (batch, heads, 2, 2) over [cast, description].
        """
        tokens = torch.stack(
            [self.cast_token(self.cast[items]), self.description_token(self.description[items])],
            dim=1,
        )
        tokens = tokens + self.token_type
        attended, weights = self.attention(
            tokens, tokens, tokens, need_weights=need_weights, average_attn_weights=False
        )
        tokens = self.attention_norm(tokens + attended)
        tokens = self.feedforward_norm(tokens + self.feedforward(tokens))
        item_vector = tokens.mean(dim=1)
        return item_vector, self.genre_head(item_vector), weights

    def _predict(self, users: torch.Tensor, items: torch.Tensor):
        item_vector, genre_logits, _ = self.item_tower(items)
        features = torch.cat(
            [self.mf.interaction(users, items), item_vector, torch.sigmoid(genre_logits)], dim=-1
        )
        return self.mf(users, items) + self.regressor(features).squeeze(-1), genre_logits

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self._predict(users, items)[0]

    def loss(self, users: torch.Tensor, items: torch.Tensor, ratings: torch.Tensor):
        """Training objective: MSE + MF's L2 penalty + genre_weight × genre BCE."""
        predicted, genre_logits = self._predict(users, items)
        genre_loss = nn.functional.binary_cross_entropy_with_logits(
            genre_logits, self.genres[items]
        )
        return (
            nn.functional.mse_loss(predicted, ratings)
            + self.mf.penalty(users, items)
            + self.genre_weight * genre_loss
        )
