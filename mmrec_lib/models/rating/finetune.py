"""Trainable item encoders for TSEM: a poster CNN and a description transformer, fine-tuned
with the rest of the model (paper A, section 8) instead of read as frozen cached features.

A tower holds its items' raw content as buffers (posters as uint8 pixels, descriptions as
token ids and attention masks, built once) and maps item indices to pooled features.
Only the distinct items of a batch go through the network (a batch of 1024 ratings over 300
items encodes 300 posters). Items without a poster or description get zero rows, as the
frozen features (:mod:`mmrec_lib.features`) do, so a tower in eval mode gives the frozen
features up to float rounding until it is trained. In train mode the poster tower applies
paper A's augmentations (:func:`mmrec_lib.features.image.training_augmentation`), one
random draw per poster. The content buffers are not saved in state dicts or checkpoints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch
from torch import nn

from mmrec_lib.features.image import (
    IMAGE_ENCODERS,
    POSTER_SIZE,
    image_backbone,
    poster_pixels,
    training_augmentation,
)
from mmrec_lib.features.text import (
    PAPER_A_MAX_LENGTH,
    PAPER_A_PREPROCESSING,
    TEXT_ENCODERS,
    TextPreprocessing,
    cleaned_descriptions,
    mean_pool,
    text_backbone,
)


class ItemTower(nn.Module):
    """Features ``(len(items), dim)`` of item indices from a trainable ``network``.

    present: per item, whether it has the content (False: a zero row). chunk: most items
    per network pass.
    """

    def __init__(self, network: nn.Module, present: np.ndarray, dim: int, chunk: int = 256):
        super().__init__()
        if chunk < 1:
            raise ValueError(f"chunk must be positive, got {chunk}")
        self.network = network
        self.dim = dim
        self.chunk = chunk
        present = torch.as_tensor(np.asarray(present, bool), dtype=torch.float32)
        self.register_buffer("present", present.unsqueeze(1), persistent=False)

    @property
    def n_items(self) -> int:
        return len(self.present)

    def forward(self, items: torch.Tensor) -> torch.Tensor:
        distinct, inverse = torch.unique(items, return_inverse=True)
        features = torch.cat(
            [
                self.encode(distinct[start : start + self.chunk])
                for start in range(0, len(distinct), self.chunk)
            ]
        )
        return (features * self.present[distinct])[inverse]

    def encode(self, items: torch.Tensor) -> torch.Tensor:
        """Features of distinct item indices (the subclass's network pass)."""
        raise NotImplementedError


class PosterTower(ItemTower):
    """A CNN over the items' posters, normalised on the fly; augmented in train mode.

    pixels: uint8 ``(n_items, 3, H, W)`` RGB. network: normalised pixels -> ``(N, dim)``.
    augment: a uint8 ``3 x H x W`` poster -> float ``3 x H x W`` in [0, 1] (None: none).
    """

    def __init__(
        self,
        network: nn.Module,
        pixels: np.ndarray | torch.Tensor,
        present: np.ndarray,
        dim: int,
        mean: Sequence[float],
        std: Sequence[float],
        augment: Callable | None = None,
        chunk: int = 256,
    ):
        super().__init__(network, present, dim, chunk)
        pixels = torch.as_tensor(pixels)
        if pixels.dtype != torch.uint8 or pixels.ndim != 4 or pixels.shape[1] != 3:
            raise ValueError(f"pixels must be uint8 (n_items, 3, H, W), got {tuple(pixels.shape)}")
        if len(pixels) != self.n_items:
            raise ValueError(f"{len(pixels)} posters but {self.n_items} present flags")
        self.register_buffer("pixels", pixels, persistent=False)
        for name, values in (("mean", mean), ("std", std)):
            values = torch.as_tensor(values, dtype=torch.float32).reshape(1, 3, 1, 1)
            self.register_buffer(name, values, persistent=False)
        self.augment = augment

    def encode(self, items: torch.Tensor) -> torch.Tensor:
        posters = self.pixels[items]
        if self.training and self.augment is not None:
            images = torch.stack([self.augment(poster) for poster in posters]) * 255.0
        else:
            images = posters.float()
        return self.network((images - self.mean) / self.std)


class DescriptionTower(ItemTower):
    """A transformer over the items' tokenised descriptions, mean-pooled over real tokens.

    token_ids, attention_mask: ``(n_items, max_length)``. network: a Hugging Face encoder
    (``network(input_ids=, attention_mask=).last_hidden_state``). normalise: L2-normalise
    the pooled vector (as the frozen ``minilm`` features are).
    """

    def __init__(
        self,
        network: nn.Module,
        token_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        present: np.ndarray,
        dim: int,
        normalise: bool = False,
        chunk: int = 256,
    ):
        super().__init__(network, present, dim, chunk)
        if token_ids.shape != attention_mask.shape or len(token_ids) != self.n_items:
            raise ValueError(
                f"token_ids {tuple(token_ids.shape)} and attention_mask "
                f"{tuple(attention_mask.shape)} need one row per item ({self.n_items})"
            )
        self.register_buffer("token_ids", token_ids.long(), persistent=False)
        self.register_buffer("attention_mask", attention_mask.long(), persistent=False)
        self.normalise = normalise

    def encode(self, items: torch.Tensor) -> torch.Tensor:
        mask = self.attention_mask[items]
        length = int(mask.sum(1).max())  # right padding: drop columns no text of the batch uses
        ids, mask = self.token_ids[items, :length], mask[:, :length]
        hidden = self.network(input_ids=ids, attention_mask=mask).last_hidden_state
        return mean_pool(hidden, mask, self.normalise)


def poster_tower(
    paths: Sequence[object],
    encoder: str = "efficientnet-lite0",
    size: int = POSTER_SIZE,
    augment: bool = True,
) -> PosterTower:
    """A fresh pretrained CNN ``encoder`` over the posters at ``paths`` (row = item index).

    Unset or unreadable posters are grey images with zero features. augment: paper A's
    training augmentations in train mode.
    """
    backbone = image_backbone(encoder)
    pixels, present = poster_pixels(list(paths), size)
    return PosterTower(
        backbone.network,
        pixels,
        present,
        IMAGE_ENCODERS[encoder].dim,
        backbone.mean,
        backbone.std,
        training_augmentation(size) if augment else None,
    )


def description_tower(
    plots: Sequence[object],
    encoder: str = "minilm",
    max_length: int = PAPER_A_MAX_LENGTH,
    preprocessing: TextPreprocessing = PAPER_A_PREPROCESSING,
) -> DescriptionTower:
    """A fresh pretrained text ``encoder`` over the descriptions ``plots`` (row = item index),
    cleaned as the frozen features are and tokenised once to ``max_length`` tokens.

    Missing or blank descriptions get zero features.
    """
    texts, present = cleaned_descriptions(list(plots), preprocessing)
    cleaned = iter(texts)
    every_item = [next(cleaned) if has else "" for has in present]
    tokenizer, network = text_backbone(encoder)
    tokens = tokenizer(
        every_item,
        padding="max_length",
        truncation=True,
        max_length=max_length,
        return_tensors="pt",
    )
    spec = TEXT_ENCODERS[encoder]
    return DescriptionTower(
        network,
        tokens["input_ids"],
        tokens["attention_mask"],
        present,
        spec.dim,
        spec.normalise,
    )


def backbone_parameter_groups(
    model: nn.Module, params: Iterable[nn.Parameter], lr: float, backbone_lr_scale: float
) -> list[dict]:
    """Optimiser groups of ``params``: the heads at ``lr``, the towers' networks (if any) at
    ``lr * backbone_lr_scale``."""
    if not backbone_lr_scale > 0:
        raise ValueError(f"backbone_lr_scale must be positive, got {backbone_lr_scale}")
    towers = [module for module in model.modules() if isinstance(module, ItemTower)]
    in_towers = {id(p) for tower in towers for p in tower.parameters()}
    params = list(params)
    groups = [{"params": [p for p in params if id(p) not in in_towers], "lr": lr}]
    backbone = [p for p in params if id(p) in in_towers]
    if backbone:
        groups.append({"params": backbone, "lr": lr * backbone_lr_scale})
    return groups
