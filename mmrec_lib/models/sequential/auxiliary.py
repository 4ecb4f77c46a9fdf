"""The auxiliary-information embedding summed into a transformer's input (paper B, §3.3).

Each item v has a feature vector x_v (a fused text/image/tabular embedding for SASRec+ and
BERT4Rec+, or the multi-hot keyword/genre vector of KeBERT4Rec); a linear layer scales it to
the model size: k_v = W x_v + b. The input of position t is then e_v + p_t + k_v.
Padding (item 0) and any token without a feature row (BERT4Rec's [MASK]) get k = 0, so a
masked item's features never leak into the input.

The projection is applied to the whole feature table once per call and the rows are then
gathered (W x_v for all items, then pick), which is the same result as projecting each
position's row but touches n_items x d_aux numbers instead of batch x length x d_aux.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class AuxiliaryEmbedding(nn.Module):
    """k_v = W x_v + b for item indices; zero for padding and tokens beyond the feature rows."""

    def __init__(self, features: Any, d: int) -> None:
        super().__init__()
        features = torch.as_tensor(features, dtype=torch.float32)
        if features.ndim != 2 or features.shape[0] < 2:
            raise ValueError(
                "auxiliary features must be (n_items + 1, d_aux) with row 0 for padding, got "
                f"shape {tuple(features.shape)}"
            )
        if not torch.isfinite(features).all():
            raise ValueError("auxiliary features contain NaN or Inf")
        if features[0].abs().sum() != 0:
            raise ValueError("row 0 of the auxiliary features is padding and must be zeros")
        self.register_buffer("features", features, persistent=False)
        self.project = nn.Linear(features.shape[1], d)

    def forward(self, items: torch.Tensor) -> torch.Tensor:
        n_rows = self.features.shape[0]
        known = (items > 0) & (items < n_rows)
        projected = self.project(self.features)
        return projected[items.clamp(max=n_rows - 1)] * known.unsqueeze(-1)
