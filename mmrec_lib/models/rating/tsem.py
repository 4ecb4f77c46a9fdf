"""Paper A's proposed "Two Stage Encoder Model" (TSEM): an item encoder and a user encoder.

Item encoder (paper A, section 8): one small MLP per item modality (tabular/genres, poster
features, description features), their outputs concatenated and projected to ``dim``: the
item vector v_i. There is no item-id embedding: items are known only through content.
User encoder: a user-id embedding e_u of the same ``dim`` (256 / 512 in the paper).
The dot product e_u·v_i is the interaction; the user's genre-frequency vector g_u
(normalised to sum to one) joins AFTER the dot product, in a small head:

    r̂(u, i) = μ + b_u + w·v_i + head([e_u·v_i, g_u])

b_u (a user bias) and w·v_i (an item bias read from the item vector) are our additions,
mirroring MF's biases. ``item_ids=True`` (not in paper A, off by default) makes it a hybrid
of TSEM and MF: each item also gets a learned offset o_i added to its content vector,
v_i = f(content_i) + o_i, and a learned bias b_i, both starting at zero and penalised like
the rest, so that an item with many ratings can depart from what its content predicts while
a rare or unseen item keeps its content's vector. On ML-100K it did not help: the per-item
parameters overfit (``benchmarks/README.md``, "TSEM against MF").

Each modality is either a fixed feature matrix (frozen pretrained encoders, cached) or an
:class:`~mmrec_lib.models.rating.finetune.ItemTower` whose network (the poster CNN, the
description transformer) is fine-tuned with the model, as paper A's item encoder is. The
loss is MSE plus an L2 penalty ``reg`` on the batch's user embeddings, user biases and item
vectors (penalising both sides of the dot product, as MF does, so that neither can grow to
escape the penalty). Paper A trains it with CosineAnnealingLR (T_max = 15) and widens the
training data once validation MSE reaches a threshold; both live in
:mod:`mmrec_lib.experiments.rating`, as does the frozen / fine-tuned choice.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from mmrec_lib.models.rating.data import feature_buffer
from mmrec_lib.models.rating.finetune import ItemTower
from mmrec_lib.models.rating.nn import mlp


class TSEM(nn.Module):
    """Content item encoder · user embedding, with genre frequency after the dot product.

    item_features: per modality, an (n_items x d) feature matrix (frozen) or an ItemTower
    over the same n_items (fine-tuned).
    """

    ITEM_BLOCKS = ("tabular", "poster", "description")

    def __init__(
        self,
        n_users: int,
        n_items: int,
        item_features: Mapping[str, np.ndarray | torch.Tensor | ItemTower],
        user_genre_frequency: np.ndarray | torch.Tensor,
        dim: int = 64,
        hidden: int = 128,
        head_hidden: int = 32,
        reg: float = 0.05,
        dropout: float = 0.1,
        global_mean: float = 0.0,
        item_ids: bool = False,
    ):
        super().__init__()
        if not item_features:
            raise ValueError("TSEM needs at least one item modality in item_features")
        if n_users < 1 or dim < 1 or hidden < 1:
            raise ValueError(f"need n_users, dim, hidden >= 1, got {n_users}, {dim}, {hidden}")
        if reg < 0:
            raise ValueError(f"reg must be >= 0, got {reg}")
        self.reg = reg
        self.modalities = list(item_features)
        towers, widths = {}, {}
        for name, source in item_features.items():
            if isinstance(source, ItemTower):
                if source.n_items != n_items:
                    raise ValueError(
                        f"item_features[{name!r}] encodes {source.n_items} items but the "
                        f"model indexes {n_items}; build the tower on the model's RatingIndex"
                    )
                towers[name], widths[name] = source, source.dim
            else:
                buffer = feature_buffer(source, f"item_features[{name!r}]", n_items)
                self.register_buffer(f"item_{name}", buffer)
                widths[name] = buffer.shape[1]
        self.towers = nn.ModuleDict(towers)
        frequency = feature_buffer(user_genre_frequency, "user_genre_frequency", n_users)
        if (frequency < 0).any():
            raise ValueError("user_genre_frequency must be non-negative counts or shares")
        frequency = frequency / frequency.sum(dim=1, keepdim=True).clamp(min=1e-12)
        self.register_buffer("user_genre_frequency", frequency)
        self.encoders = nn.ModuleDict(
            {name: mlp(widths[name], [hidden], hidden, dropout) for name in self.modalities}
        )
        self.projection = nn.Linear(hidden * len(self.modalities), dim)
        self.item_bias = nn.Linear(dim, 1)
        self.user_embedding = nn.Embedding(n_users, dim)
        self.user_bias = nn.Embedding(n_users, 1)
        self.head = mlp(1 + frequency.shape[1], [head_hidden], 1)
        self.register_buffer("global_mean", torch.tensor(float(global_mean)))
        nn.init.normal_(self.user_embedding.weight, std=0.1)
        nn.init.zeros_(self.user_bias.weight)
        self.item_offset = self.item_id_bias = None
        if item_ids:  # built last: the content-only parameters start as without them
            self.item_offset = nn.Embedding(n_items, dim)
            self.item_id_bias = nn.Embedding(n_items, 1)
            nn.init.zeros_(self.item_offset.weight)
            nn.init.zeros_(self.item_id_bias.weight)

    @classmethod
    def from_inputs(cls, inputs, global_mean: float = 0.0, **hyperparameters) -> TSEM:
        """TSEM over ``inputs`` (a :class:`RatingInputs`): tabular, poster and description
        item blocks (a fine-tuned tower in place of a frozen matrix where ``inputs`` has
        one) and the users' genre frequencies."""
        blocks = {m: inputs.fine_tuned.get(m, getattr(inputs, m)) for m in cls.ITEM_BLOCKS}
        return cls(inputs.index.n_users, inputs.index.n_items, blocks,
                   inputs.user_genre_frequency, global_mean=global_mean,
                   **hyperparameters)  # fmt: skip

    def content(self, name: str, items: torch.Tensor) -> torch.Tensor:
        """Modality ``name`` of ``items``: its tower's output, or its frozen feature rows."""
        if name in self.towers:
            return self.towers[name](items)
        return getattr(self, f"item_{name}")[items]

    def item_encoder(self, items: torch.Tensor) -> torch.Tensor:
        """(batch, dim) item vectors v_i: from the item's content, plus its learned offset
        where ``item_ids`` is on."""
        parts = [encoder(self.content(name, items)) for name, encoder in self.encoders.items()]
        vector = self.projection(torch.relu(torch.cat(parts, dim=-1)))
        return vector if self.item_offset is None else vector + self.item_offset(items)

    def _predict(self, users: torch.Tensor, items: torch.Tensor):
        item_vector = self.item_encoder(items)
        user_vector = self.user_embedding(users)
        dot = (user_vector * item_vector).sum(-1, keepdim=True)
        head = self.head(torch.cat([dot, self.user_genre_frequency[users]], dim=-1))
        biases = self.user_bias(users) + self.item_bias(item_vector)
        squares = (
            user_vector.pow(2).sum(-1)
            + item_vector.pow(2).sum(-1)
            + self.user_bias(users).squeeze(-1).pow(2)
        )
        if self.item_id_bias is not None:
            biases = biases + self.item_id_bias(items)
            squares = squares + self.item_id_bias(items).squeeze(-1).pow(2)
        return self.global_mean + (biases + head).squeeze(-1), squares.mean()

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self._predict(users, items)[0]

    def loss(self, users: torch.Tensor, items: torch.Tensor, ratings: torch.Tensor):
        """Training objective: MSE + reg × (|e_u|² + |v_i|² + b_u² (+ b_i²)) averaged over the
        batch."""
        predicted, squares = self._predict(users, items)
        return nn.functional.mse_loss(predicted, ratings) + self.reg * squares
